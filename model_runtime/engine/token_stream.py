"""The model's tokens one at a time, computed a step at a time: one token, or a verified draft.

A step evaluates the last sampled token, plus the tokens a drafter guessed after it, in one
batch with logits at every position. The model's own sampler then picks the token at each
position in turn; while its pick equals the guess, the next position's logits are valid too.
The first pick that differs (or the pick after the last guess) ends the step, and the
rejected guesses are removed from the KV cache. Every token comes from the model's own
sampling given the tokens before it, so the output is what decoding one token at a time
would write (identical under greedy sampling; with a seed, the same random draws, wherever
llama.cpp computes a batch as it computes one token: see engine/tuning.py), only sooner when
guesses are taken.

The stream owns the KV cache's tail: llm.input_ids[:llm.n_tokens] is always what the cache
holds, as llama-cpp-python's own generate() keeps it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from model_runtime.engine.kv_entries import as_tokens, common_prefix
from model_runtime.engine.speculative import MAX_DRAFT, Drafter, DraftGate
from model_runtime.engine.threads import AdaptiveThreads


class TokenStream:
    """One run of sampling (a new sampler per start, as generate() makes one per call)."""

    def __init__(
        self,
        llm: Any,
        sampling: dict[str, Any],
        *,
        drafter: Drafter | None = None,
        gate: DraftGate | None = None,
        threads: AdaptiveThreads | None = None,
        on_draft_failure: Any = None,
    ) -> None:
        self.llm = llm
        self.sampling = sampling
        self.drafter = drafter
        self.gate = gate if gate is not None else DraftGate()
        self.threads = threads
        self.on_draft_failure = on_draft_failure  # called with the exception; drafting stops
        self.always_draft = False  # draft MAX_DRAFT every step, paying or not (benchmarks)
        self.sampler: Any = None
        self.ready: deque[int] = deque()  # sampled, not handed out yet
        self.last = -1  # the newest sampled token: the next step evaluates it
        self.text: list[int] = []  # the tokens so far (the prompt, then every token handed out)
        self._shadow: tuple[int, list[int]] | None = None  # a guess not drafted, to judge
        self.n_drafted = self.n_accepted = 0

    # -- the prompt ----------------------------------------------------------------------------

    def start(self, tokens: Sequence[int]) -> int:
        """Evaluate the tokens (reusing the prefix the KV cache holds); the first new token."""
        llm = self.llm
        tokens = list(tokens)
        self.sampler = llm._init_sampler(**self.sampling)
        self.ready.clear()
        self._shadow = None
        shared = 0
        for cached, new in zip(llm._input_ids.tolist(), tokens, strict=False):
            if cached != new:
                break
            shared += 1
        reuse = min(shared, len(tokens) - 1)  # at least one token to evaluate: its logits
        if reuse > 0 and llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
            llm.n_tokens = reuse
        else:
            llm.reset()
            reuse = 0
        self.text = tokens  # stop() keeps what an aborted evaluation did write
        if self.threads is not None:
            self.threads.prompt()
        llm.eval(tokens[reuse:])
        self._reset_drafter(tokens)
        if self.threads is not None:
            self.threads.decoding()
        self.last = self.sampler.sample(llm._ctx, -1)
        return self._hand_out(self.last)

    # -- decoding ------------------------------------------------------------------------------

    def next(self) -> int:
        """The next token: one already sampled, else the result of one more step."""
        if not self.ready:
            self._step()
        return self._hand_out(self.ready.popleft())

    def _hand_out(self, token: int) -> int:
        self.text.append(token)
        if self.drafter is not None:
            self.drafter.append(token)
        self._judge_shadow()
        return token

    def _step(self) -> None:
        llm = self.llm
        started = time.perf_counter()
        draft = self._draft(llm.n_ctx() - llm.n_tokens - 1)
        drafted_at = time.perf_counter()
        batch = [self.last, *draft]
        n_past = llm.n_tokens
        llm._batch.set_batch(batch, n_past, logits_all=bool(draft))
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past : n_past + len(batch)] = batch
        llm.n_tokens = n_past + len(batch)
        sample, taken = self.sampler.sample, 0
        token = sample(llm._ctx, 0 if draft else -1)
        while taken < len(draft) and token == draft[taken]:
            self.ready.append(token)
            taken += 1
            token = sample(llm._ctx, taken)
        self.ready.append(token)
        self.last = token
        if taken < len(draft):  # the guesses after the first wrong one are not the text
            llm.n_tokens = n_past + 1 + taken
            llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        ended = time.perf_counter()
        if draft:
            self.n_drafted += len(draft)
            self.n_accepted += taken
            self.gate.judged(len(draft), taken)
        drafting = drafted_at - started if self.drafter is not None and not self.drafter.free else 0
        self.gate.timed(len(batch), ended - drafted_at, drafting)
        if self.threads is not None:
            self.threads.step(len(self.ready), ended - started)

    def _draft(self, room: int) -> list[int]:
        """The guesses to verify in this step ([] to decode one token)."""
        drafter = self.drafter
        if drafter is None or room <= 0:
            return []
        limit = min(MAX_DRAFT, room)
        k = limit if self.always_draft else self.gate.length(limit, free=drafter.free)
        if k == 0:
            if drafter.free and self._shadow is None:
                guess = drafter.propose(limit)
                if guess:  # judged against the tokens the model writes next
                    self._shadow = (len(self.text), guess)
            return []
        try:
            return drafter.propose(k)
        except Exception as exc:  # a draft model that fails must not take the answer down
            self._drafter_failed(exc)
            return []

    def _reset_drafter(self, tokens: list[int]) -> None:
        """The drafter, if any, takes up the text (a draft model reads it now)."""
        try:
            if self.drafter is not None:
                self.drafter.reset(tokens)
        except Exception as exc:  # as in _draft: the answer goes on without drafting
            self._drafter_failed(exc)

    def _drafter_failed(self, exc: Exception) -> None:
        drafter, self.drafter = self.drafter, None
        if drafter is not None:
            drafter.close()
        if self.on_draft_failure is not None:
            self.on_draft_failure(exc)

    def _judge_shadow(self) -> None:
        """Once the text shows how much of an undrafted guess was right, tell the gate."""
        if self._shadow is None:
            return
        at, guess = self._shadow
        written = self.text[at : at + len(guess)]
        taken = 0
        while taken < len(written) and written[taken] == guess[taken]:
            taken += 1
        if taken < len(written) or len(written) == len(guess):
            self.gate.judged(len(guess), taken)
            self._shadow = None

    def stop(self) -> None:
        """The run ends: the KV cache keeps only tokens of the text (no guesses past it)."""
        llm = self.llm
        keep = common_prefix(llm._input_ids, as_tokens(self.text))
        if keep < llm.n_tokens:
            llm.n_tokens = keep
            llm._ctx.kv_cache_seq_rm(-1, keep, -1)
