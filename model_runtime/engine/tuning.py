"""The engine's decode speed-ups for the loaded model: threads that adapt, and drafting.

One DecodeTuning lives as long as the model: its thread governor and its draft gate keep what
they learned about this machine from one answer to the next. A draft model is loaded beside
the model in the same process; if it can't be loaded for want of memory, or fails while
drafting, drafting stops with a note in words and the model stays loaded.

Drafting needs flash attention (the planner turns it on): with it and one thread, llama.cpp's
CPU kernels give a batch of tokens exactly the logits one token at a time gets, so a checked
guess never changes the answer; without it, attention over a batch rounds differently. With
more threads, once the cache holds 512 tokens or more, llama.cpp (0.3.36) splits one token's
attention over the threads and adds the parts up, which rounds differently from a batch's (up
to 0.8 in a logit at 2,800 tokens, measured on SmolLM2): a long greedy answer can then take
another word where two are nearly tied, as it can when the thread count changes. Drafting
stays on there; the answers are as good, not the same to the bit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from model_runtime.chat.generation import LoadRequest, Speculation
from model_runtime.engine.speculative import Drafter, DraftGate, DraftModel, PromptLookup
from model_runtime.engine.threads import AdaptiveThreads
from model_runtime.engine.token_stream import TokenStream
from model_runtime.errors import InsufficientMemory, ModelFileError
from model_runtime.gguf.checks import check_model
from model_runtime.gguf.profile import read_model
from model_runtime.gguf.reader import GgufInfo
from model_runtime.gguf.vocabulary import draft_problem


def check_draft(speculation: Speculation, model: GgufInfo, architectures: Any) -> None:
    """Refuse, before anything is loaded, a draft model that can't be read or doesn't share
    the model's vocabulary (ModelFileError, in words)."""
    if speculation.mode != "model":
        return
    if not speculation.draft_path:
        raise ModelFileError("No draft model was named.")
    parts = read_model(speculation.draft_path)
    check_model(parts, architectures=architectures)
    problem = draft_problem(model, parts[0])
    if problem is not None:
        raise ModelFileError(problem)


def open_draft_model(
    request: LoadRequest, model: Any, make_llama: Callable[..., Any]
) -> tuple[Drafter | None, str]:
    """The draft model's drafter, or None and why not (it ran out of memory, or llama.cpp
    refused it). make_llama(request, **kwargs) builds a Llama as the engine does."""
    spec = request.speculation
    name = os.path.basename(spec.draft_path)
    draft_request = LoadRequest(model_path=spec.draft_path)
    try:
        llm = make_llama(
            draft_request,
            n_ctx=spec.draft_n_ctx or model.n_ctx(),
            n_batch=request.n_batch,
            n_threads=request.n_threads,
            n_threads_batch=request.n_threads,
            n_gpu_layers=spec.draft_n_gpu_layers,
            flash_attn=request.flash_attn,
            use_mmap=request.use_mmap,
        )
    except (InsufficientMemory, ModelFileError) as exc:
        return None, f"The draft model {name} was not loaded ({exc}); drafting is off."
    return DraftModel(llm, name, model.n_vocab()), ""


NEEDS_FLASH_ATTENTION = (
    "Drafting is off: it needs flash attention, without which llama.cpp computes a batch "
    "of guessed tokens slightly differently from one token at a time."
)


class DecodeTuning:
    """Threads and drafting for one loaded model."""

    def __init__(
        self,
        llm: Any,
        request: LoadRequest,
        n_threads: int,
        drafter: Drafter | None,
        note: str = "",
    ) -> None:
        self.threads = AdaptiveThreads(
            n_threads, request.n_threads_batch or n_threads, adapt=request.adapt_threads
        )
        self.threads.attach(llm._ctx.set_n_threads)
        self._draft_threads: Callable[[int, int], None] | None = None
        if isinstance(drafter, DraftModel):
            self._draft_threads = drafter.llm._ctx.set_n_threads
            self.threads.attach(self._draft_threads)
        self.drafter = drafter
        self.gate = DraftGate()
        self.always = request.speculation.always
        self.note = note  # why a draft model asked for is not drafting
        self.answer_note = ""  # why drafting stopped during the answer under way

    @classmethod
    def for_request(
        cls,
        llm: Any,
        request: LoadRequest,
        n_threads: int,
        make_llama: Callable[..., Any],
    ) -> DecodeTuning:
        """The tuning a load request asks for (the draft model, if any, loaded here)."""
        mode, note = request.speculation.mode, ""
        drafter: Drafter | None = None
        if mode != "off" and not request.flash_attn:
            # llama.cpp's attention without flash attention rounds a batch of tokens
            # differently from one token: checked guesses could change a greedy answer
            if mode == "model":
                note = NEEDS_FLASH_ATTENTION
        elif mode == "lookup":
            drafter = PromptLookup()
        elif mode == "model":
            drafter, note = open_draft_model(request, llm, make_llama)
        return cls(llm, request, n_threads, drafter, note)

    def describe(self) -> str:
        """How it drafts, in words."""
        if self.drafter is None:
            return "off"
        return self.drafter.name if self.drafter.free else f"draft model {self.drafter.name}"

    def new_answer(self) -> None:
        self.threads.new_answer()
        # a coin toss for prompt lookup's guesses, which are judged for free before any is
        # drafted; a draft model's are usually right more often than not
        free = self.drafter is None or self.drafter.free
        self.gate.reset_acceptance(0.5 if free else 0.7)
        self.answer_note = ""

    def stream(self, llm: Any, sampling: dict[str, Any]) -> TokenStream:
        """A token stream for one run of sampling, drafting with this model's drafter."""
        stream = TokenStream(
            llm,
            sampling,
            drafter=self.drafter,
            gate=self.gate,
            threads=self.threads,
            on_draft_failure=self._draft_failed,
        )
        stream.always_draft = self.always
        return stream

    def _draft_failed(self, exc: BaseException) -> None:
        """The draft model failed (its context is full, llama.cpp ran out of memory): it is
        closed, and the model decodes on without drafting."""
        name = self.drafter.name if self.drafter is not None else "draft model"
        self.drafter = None
        if self._draft_threads is not None:
            self.threads.detach(self._draft_threads)
            self._draft_threads = None
        self.answer_note = self.note = f"The draft model {name} failed ({exc}); drafting is off."

    def close(self) -> None:
        if self._draft_threads is not None:
            self.threads.detach(self._draft_threads)
            self._draft_threads = None
        if self.drafter is not None:
            self.drafter.close()
            self.drafter = None
