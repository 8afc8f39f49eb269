"""The per-chat KV state cache: after an answer the engine keeps what the model has read, so
that coming back to a chat (or to a served conversation) restores it instead of reading the
whole history again.

Two tiers: memory (least recently used out first, within what the plan leaves spare, never
eating into the planner's margin) and disk (kv_files.py). A state is restored only under an
equal key (kv_key.py: model file, KV-changing load settings, versions), and only for the
tokens it shares with the new prompt: the KV of a position depends on the tokens up to it and
on nothing after, so the shared prefix holds exactly what a fresh read would compute; the rest
is removed before the prompt's new tokens are read (as llama.cpp's own prefix reuse does).

Only exact states are kept: positions computed by reading tokens in batches, as a fresh read of
the conversation computes them. The tokens the model writes are decoded one at a time, which
differs from a batched read in the last bits, enough to change a greedy answer later on; a
finished answer that the next prompt repeats is read again before its state is kept. So coming
back to a chat answers as a fresh read of its history would. Exactly so where the new tokens are
read as a fresh read reads them; llama.cpp (0.3.36) computes the attention of a batch of 64
tokens or more in tiles whose last bits depend on where the batch begins, so when the fresh
read's last batch is that long, the new tokens read on their own differ from it in the last
bits (up to 1.1 in a logit, measured on SmolLM2), and a greedy answer can take another word
where two are nearly tied. Models whose memory is not per position (recurrent, hybrid,
sliding-window) are not cached.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_runtime import paths
from model_runtime.chat.generation import LoadRequest, Message
from model_runtime.chat.reasoning import ReasoningParser
from model_runtime.engine.cache_settings import load_cache_settings
from model_runtime.engine.kv_entries import Entry, RamTier, as_tokens, common_prefix
from model_runtime.engine.kv_files import DiskTier, Log, log_to_stderr
from model_runtime.engine.kv_key import StateKey, state_key
from model_runtime.errors import PonderError
from model_runtime.planning.spare import room_now, state_cache_budget_now

MIN_TOKENS = 16  # shorter states are not worth keeping
MIN_GAIN = 16  # a restore must spare at least this many tokens over what the context holds
RE_READ = 1024  # at most this many written tokens are read again to keep a state exact


@dataclass(frozen=True)
class Restored:
    """A prompt's first n_tokens came from the cache: from "memory" or from "disk"; tier ""
    when llama.cpp refused the state and the context is empty."""

    n_tokens: int
    tier: str


def cacheable(llm: Any) -> bool:
    """Whether this model's KV state can be saved and restored by position."""
    from llama_cpp import llama_cpp

    model = llm._model.model
    if llama_cpp.llama_model_is_recurrent(model) or llama_cpp.llama_model_is_hybrid(model):
        return False
    return int(llama_cpp.llama_model_n_swa(model)) == 0


def read_state(llm: Any) -> bytearray:
    """The KV state of the context's sequence, as llama.cpp serialises it."""
    from llama_cpp import llama_cpp

    ctx = llm._ctx.ctx
    size = int(llama_cpp.llama_state_seq_get_size(ctx, 0))
    blob = bytearray(size)
    buffer = (ctypes.c_uint8 * size).from_buffer(blob)
    got = int(llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0))
    del buffer
    if got != size:
        raise RuntimeError(f"llama.cpp wrote {got} of {size} bytes of state")
    return blob


def write_state(llm: Any, blob: bytearray) -> bool:
    """Put a saved state into the context's sequence (replacing what it held); False when
    llama.cpp refuses it, and then the sequence is empty."""
    from llama_cpp import llama_cpp

    buffer = (ctypes.c_uint8 * len(blob)).from_buffer(blob)
    return int(llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(blob), 0)) > 0


def trim(llm: Any, keep: int) -> None:
    """Keep the first `keep` positions of the context's sequence, in llama.cpp and in
    llama-cpp-python's count (whose logits are then not those of its last token)."""
    llm._ctx.kv_cache_seq_rm(0, keep, -1)
    llm.n_tokens = min(llm.n_tokens, keep)
    llm._requires_eval = True


class StateCache:
    """The saved states of one loaded model; used by the engine worker's main thread."""

    def __init__(
        self, llm: Any, key: StateKey, ram: RamTier, disk: DiskTier | None, log: Log
    ) -> None:
        self.llm = llm
        self.key = key
        self.ram = ram
        self.disk = disk
        self.log = log
        self.exact = 0  # leading positions of the context computed as a fresh read computes them

    @classmethod
    def open(
        cls, llm: Any, request: LoadRequest, system_info: str, log: Log = log_to_stderr
    ) -> StateCache | None:
        """The cache for a model just loaded; None when the settings or the model rule it out,
        or when it can't be opened (which costs the load nothing)."""
        settings = load_cache_settings()
        try:
            if not settings.enabled or not cacheable(llm):
                return None
            budget = request.state_cache_ram
            ram = RamTier(state_cache_budget_now() if budget is None else budget)
            key = state_key(llm, request.model_path, system_info)
        except Exception as exc:
            log(f"off for this load: {exc!r}")
            return None
        disk = None
        if settings.disk_bytes > 0:
            try:
                disk = DiskTier(paths.kv_cache_dir(), key, settings.disk_bytes, log=log)
            except (OSError, PonderError) as exc:
                log(f"no disk tier: {exc}")
        return cls(llm, key, ram, disk, log)

    # -- restoring --------------------------------------------------------------------------

    def restore(self, tokens: list[int], live: int) -> Restored | None:
        """Before the prompt is read: restore the saved state sharing the longest prefix with
        its tokens, when that spares at least MIN_GAIN tokens over the `live` ones the context
        holds already. None when nothing was restored (a state that can't be read is skipped)."""
        try:
            found = self._find(as_tokens(tokens), live)
            restored = self._apply(*found) if found is not None else None
        except Exception as exc:  # the prompt is read instead
            self.log(f"not restored: {exc!r}")
            restored = None
        n_cached = restored.n_tokens if restored is not None else live
        if self.exact >= n_cached:  # read on an exact prefix, the prompt is exact too
            self.exact = len(tokens)
        return restored

    def _find(self, want: np.ndarray, live: int) -> tuple[Entry, int, str, bytearray] | None:
        """The best saved state for these tokens, its shared length, its tier and its bytes."""
        entry, n, tier = *self.ram.best(want), "memory"
        if self.disk is not None:
            on_disk, n_disk = self.disk.best(want)
            if n_disk > n:
                entry, n, tier = on_disk, n_disk, "disk"
        n = min(n, len(want) - 1)  # the last prompt token is always read: it gives the logits
        if entry is None or n < live + MIN_GAIN or len(entry.tokens) > self.llm.n_ctx():
            return None
        blob = entry.blob if tier == "memory" or self.disk is None else self.disk.load(entry)
        return (entry, n, tier, blob) if blob is not None else None

    def _apply(self, entry: Entry, n: int, tier: str, blob: bytearray) -> Restored:
        """Put a saved state into the context."""
        if not write_state(self.llm, blob):
            self.log(f"llama.cpp refused a saved state of {len(entry.tokens)} tokens")
            self.llm.n_tokens = self.exact = 0  # the sequence is empty: the prompt is read whole
            self.ram.drop(entry)
            if tier == "disk" and self.disk is not None:
                self.disk.discard(entry, "llama.cpp refused it")
            return Restored(0, "")
        llm = self.llm
        llm.input_ids[: len(entry.tokens)] = entry.tokens
        llm.n_tokens = len(entry.tokens)  # generate() drops the positions after the shared ones
        llm._requires_eval = True
        self.exact = len(entry.tokens)  # saved states are exact
        entry.touch()
        if tier == "disk":
            self.ram.put(Entry(entry.tokens, entry.tag, len(blob), blob=blob), room_now())
        return Restored(n, tier)

    # -- saving -----------------------------------------------------------------------------

    def save(self, tag: str, next_turn: list[int] | None, *, finished: bool) -> None:
        """Keep the exact part of what the context holds, after an answer was sent.

        A finished answer is kept as far as the chat's next prompt will repeat it (`next_turn`:
        that prompt's tokens): R1's past reasoning is not sent back, so it is dropped. Tokens
        the model wrote were decoded one by one, which differs in the last bits from reading
        them in a batch; up to RE_READ tokens of them (a plain answer) are read again so that
        the state is what a fresh read of the next prompt computes. The context keeps the rest
        of an answer that may be continued."""
        llm = self.llm
        n = int(llm.n_tokens)
        trim(llm, n)  # positions past what llama-cpp-python counts (an aborted batch)
        self.exact = min(self.exact, n)
        tokens = as_tokens(llm.input_ids[:n])
        keep = self.exact
        if finished and next_turn is not None:
            repeated = common_prefix(tokens, as_tokens(next_turn))
            if self.exact < repeated <= self.exact + RE_READ:
                self._read_again(tokens[:repeated])
            if repeated <= self.exact:
                trim(llm, repeated)  # the rest is never read again: it goes now
                keep = repeated
        if keep < MIN_TOKENS:
            return
        held = self.ram.covering(tokens[:keep], tag)
        if held is not None:
            held.touch()
            return
        blob = self._state_of(keep)
        entry = Entry(tokens[:keep].copy(), tag, len(blob), blob=blob)
        self.ram.put(entry, room_now())
        if self.disk is not None and self.disk.covering(entry.tokens, tag) is None:
            self.disk.put(entry)

    def _read_again(self, tokens: np.ndarray) -> None:
        """Replace the decoded positions after the exact ones by a batched read of `tokens`."""
        trim(self.llm, self.exact)
        self.llm.eval(tokens[self.exact :].tolist())
        self.exact = len(tokens)

    def _state_of(self, keep: int) -> bytearray:
        """The state of the context's first `keep` positions; the context keeps all of its."""
        llm, n = self.llm, int(self.llm.n_tokens)
        if keep == n:
            return read_state(llm)
        whole = read_state(llm)
        trim(llm, keep)
        part = read_state(llm)
        if not write_state(llm, whole):
            raise RuntimeError("llama.cpp refused the context's own state")
        llm.n_tokens = n
        return part

    def forget(self, tag: str | None) -> None:
        """Drop a chat's states (None: all states) from memory and disk."""
        self.ram.forget(tag)
        if self.disk is not None:
            self.disk.forget(tag)

    def close(self, timeout: float = 3.0) -> None:
        """Let the disk writes under way finish (at most `timeout` seconds); free the memory."""
        self.ram.forget(None)
        if self.disk is not None:
            self.disk.close(timeout)


def next_turn(messages: Sequence[Message], written: str, starts_in_thinking: bool) -> list[Message]:
    """The conversation as its next turn will send it: the text the model wrote (split into
    reasoning and answer as the stream was) as a past turn, then a question (its words do not
    matter: only what comes before them is kept)."""
    history = list(messages)
    continuing = bool(history) and history[-1].role == "assistant"
    parser = ReasoningParser(starts_in_thinking=starts_in_thinking, continuing=continuing)
    parts: dict[str, list[str]] = {"thinking": [], "answer": []}
    for segment in [*parser.feed(written), *parser.finish()]:
        parts[segment.kind].append(segment.text)
    reasoning, content = "".join(parts["thinking"]), "".join(parts["answer"])
    if continuing:
        partial = history.pop()
        reasoning, content = partial.reasoning + reasoning, partial.content + content
    return [*history, Message("assistant", content, reasoning), Message("user", "?")]
