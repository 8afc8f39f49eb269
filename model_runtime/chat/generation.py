"""Plain data that crosses the engine boundary: messages, parameters, events, statistics."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Literal

from model_runtime.chat.thinking import ThinkingEnded, ThinkingPolicy

Role = Literal["system", "user", "assistant"]
Kind = Literal["thinking", "answer"]
FinishReason = Literal["stop", "length", "cancelled", "loop"]


@dataclass(frozen=True)
class Message:
    """One turn of a conversation; an assistant's reasoning is kept apart from its answer."""

    role: Role
    content: str
    reasoning: str = ""


def chat_cache_tag(conversation_id: int) -> str:
    """The cache tag of a saved chat's answers (GenerationParams.cache_tag)."""
    return f"chat-{conversation_id}"


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings for one answer (R1's recommended temperature and top-p by default)."""

    max_tokens: int = 4096
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    seed: int | None = None
    grammar: str | None = None  # GBNF text that constrains the output
    thinking: ThinkingPolicy = field(default_factory=ThinkingPolicy)
    keep_reasoning: bool = False  # send past reasoning back (R1's advice: don't)
    cache_tag: str = ""  # whose KV state this is ("chat-12"): deleting the chat drops it

    def for_chat(self, conversation_id: int | None) -> GenerationParams:
        """These parameters for a saved chat's answer: its KV state is kept under its tag."""
        if conversation_id is None:
            return self
        return replace(self, cache_tag=chat_cache_tag(conversation_id))


DraftMode = Literal["lookup", "model", "off"]


@dataclass(frozen=True)
class Speculation:
    """How the engine guesses tokens ahead for the model to check in one batch.

    "lookup" (the default) finds the text's last tokens earlier in the conversation; "model"
    lets a small GGUF of the same vocabulary guess. Either drafts only while it pays.
    """

    mode: DraftMode = "lookup"
    draft_path: str = ""  # mode "model": the draft model's file
    draft_n_gpu_layers: int = 0
    draft_n_ctx: int = 0  # 0: the model's context
    always: bool = False  # draft every step, paying or not (benchmarks measure acceptance)

    def describe(self) -> str:
        """'prompt lookup', 'draft model X.gguf', 'off'."""
        if self.mode == "model":
            return f"draft model {os.path.basename(self.draft_path)}"
        return "prompt lookup" if self.mode == "lookup" else "off"


@dataclass(frozen=True)
class LoadRequest:
    """What to load and how; the planner fills these in from the hardware."""

    model_path: str
    n_ctx: int = 0  # 0: the model's trained context, capped at DEFAULT_MAX_CTX
    n_threads: int | None = None  # None: physical cores
    n_gpu_layers: int = 0
    n_batch: int = 512
    flash_attn: bool = False
    n_threads_batch: int | None = None  # None: n_threads
    type_k: str | None = None  # KV cache types ("f16", "q8_0" …); None: llama.cpp's f16
    type_v: str | None = None
    use_mmap: bool = True
    use_mlock: bool = False
    tensor_overrides: tuple[str, ...] = ()  # regexes of tensors kept in system memory
    rpc_workers: tuple[str, ...] = ()  # llama.cpp RPC workers ("host:port") lending devices
    max_sequences: int = 1  # the most thoughts at once the plan leaves memory for (Think harder)
    sequence_ctx: int = 0  # tokens planned for each of them (0: n_ctx); fewer share the room
    state_cache_ram: int | None = None  # bytes of KV states kept in RAM; None: the engine sizes it
    speculation: Speculation = field(default_factory=Speculation)
    adapt_threads: bool = True  # fewer threads while other programs contend for the cores


@dataclass(frozen=True)
class ModelSummary:
    """What the engine reports after a successful load."""

    path: str
    name: str
    architecture: str
    quantization: str
    n_params: int
    n_ctx: int
    n_ctx_train: int
    n_threads: int
    has_chat_template: bool
    starts_in_thinking: bool
    load_seconds: float
    system_info: str = ""
    max_sequences: int = 1  # the most thoughts on one prompt at once (LoadRequest's)
    sequence_ctx: int = 0  # tokens of context planned for each of them
    speculation: str = "off"  # how it drafts, in words ("prompt lookup", "draft model X")
    speculation_note: str = ""  # why a requested draft model is not drafting, in words


@dataclass(frozen=True)
class Chunk:
    """A piece of streamed text, tagged with the generation it belongs to."""

    gen_id: int
    kind: Kind
    text: str
    seq: int = 0  # which of several thoughts on one prompt (engine/parallel.py)


def decode_rate(n_generated: int, first_at: float, ended_at: float) -> float:
    """Decode speed in tokens/s: the tokens after the first, over the time after the first."""
    if n_generated > 1 and ended_at > first_at:
        return (n_generated - 1) / (ended_at - first_at)
    return 0.0


@dataclass(frozen=True)
class GenerationStats:
    """Per-answer figures shown under each message and in the status bar."""

    n_prompt: int = 0  # tokens in the whole prompt
    n_cached: int = 0  # of those, reused from the previous turn's KV cache
    n_evaluated: int = 0  # of those, actually run through the model this time
    n_restored: int = 0  # of the cached ones, restored from the KV state cache ("memory"/"disk")
    restored_from: str = ""
    n_generated: int = 0
    n_thinking: int = 0
    ttft_seconds: float = 0.0  # request to first token
    thinking_seconds: float = 0.0  # in thinking segments only, from each one's first token
    total_seconds: float = 0.0
    tokens_per_second: float = 0.0  # generation speed after the first token
    finish_reason: FinishReason = "stop"
    unclosed_thinking: bool = False
    n_injected: int = 0  # tokens Ponder wrote into the answer (closing the reasoning)
    thinking_ended: ThinkingEnded | None = None  # set when Ponder, not the model, ended it
    finish_note: str = ""  # why Ponder stopped the answer, in words (finish_reason "loop")
    n_threads: int = 0  # the thread count that decoded most of it
    n_threads_planned: int = 0  # the count planned (more than n_threads: the CPU was busy)
    n_drafted: int = 0  # tokens guessed ahead and checked by the model
    n_accepted: int = 0  # of those, the ones it kept
    speculation_note: str = ""  # why drafting stopped during the answer, in words


@dataclass(frozen=True)
class Finished:
    """The last event of a generation."""

    gen_id: int
    stats: GenerationStats = field(default_factory=GenerationStats)
    seq: int = 0  # which of several thoughts on one prompt ended


Event = Chunk | ThinkingEnded | Finished
