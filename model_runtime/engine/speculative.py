"""Speculative decoding's guessers and the gate that decides whether guessing pays.

A drafter proposes the next few tokens; the model checks them all in one batch and keeps the
longest prefix its own sampling agrees with (engine/token_stream.py). Prompt lookup finds the
last few tokens earlier in the conversation and proposes what followed them there: it costs
nothing, and pays when an answer repeats the prompt or itself (code edits, restated
equations). A draft model (a small GGUF with the same vocabulary) guesses with its own
greedy decoding. The gate measures how often guesses are taken and what a batch costs, and
drafts only as many tokens as pay, none when none do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from model_runtime.engine.kv_entries import as_tokens, common_prefix

MAX_DRAFT = 8  # tokens drafted at most per step
NGRAM_SIZES = (3, 2)  # the trailing n-grams looked up, longest first
MARGIN = 1.05  # drafting must promise at least this much more speed than not drafting


class Drafter(Protocol):
    """Proposes the tokens that may follow a text."""

    name: str
    free: bool  # proposals cost nothing, so the gate may judge ones it does not draft

    def reset(self, tokens: Sequence[int]) -> None:
        """A new text begins (or an old one is taken up again): these are its tokens."""

    def append(self, token: int) -> None:
        """The text grew by one token."""

    def propose(self, limit: int) -> list[int]:
        """Up to `limit` tokens that may come next; [] when there is no guess."""

    def close(self) -> None:
        """Free what it holds."""


class PromptLookup:
    """Drafts by finding the text's last few tokens earlier in it: what followed them then."""

    name = "prompt lookup"
    free = True

    def __init__(self) -> None:
        self.tokens: list[int] = []
        # n-gram -> where the token that followed its latest earlier occurrence sits
        self._index: dict[tuple[int, ...], int] = {}

    def reset(self, tokens: Sequence[int]) -> None:
        known = len(self.tokens)
        if known <= len(tokens) and list(tokens[:known]) == self.tokens:
            for token in tokens[known:]:  # the same text, grown: index only the new part
                self.append(token)
            return
        self.tokens, self._index = [], {}
        for token in tokens:
            self.append(token)

    def append(self, token: int) -> None:
        tokens, end = self.tokens, len(self.tokens)
        for n in NGRAM_SIZES:
            if end >= n:
                self._index[tuple(tokens[end - n : end])] = end
        tokens.append(token)

    def propose(self, limit: int) -> list[int]:
        tokens, end = self.tokens, len(self.tokens)
        for n in NGRAM_SIZES:
            if end >= n:
                at = self._index.get(tuple(tokens[end - n : end]))
                if at is not None:
                    return tokens[at : at + limit]
        return []

    def close(self) -> None:
        self.tokens, self._index = [], {}


class DraftModel:
    """Drafts with a small model of the same vocabulary, greedily, in its own context.

    Its KV cache follows the conversation: each step it keeps the prefix it shares with the
    text and evaluates only what is new, so rejected guesses cost it nothing later.
    """

    free = False

    def __init__(self, llm: Any, name: str, n_vocab: int) -> None:
        from llama_cpp import _internals

        self.llm = llm
        self.name = name
        self.n_vocab = n_vocab  # the model's: a padding token past its end is never proposed
        self.tokens: list[int] = []
        self._greedy = _internals.LlamaSampler()
        self._greedy.add_greedy()

    def reset(self, tokens: Sequence[int]) -> None:
        """Read the text now, while the model reads its prompt: the first guess then costs a
        guess, and the gate times the drafter's guessing, not its reading of a long prompt."""
        self.tokens = list(tokens)
        if len(self.tokens) < self.llm.n_ctx():  # else propose says the context is full
            self._read(len(self.tokens) - 1)

    def append(self, token: int) -> None:
        self.tokens.append(token)

    def _read(self, upto: int) -> None:
        """The KV cache holds tokens[:upto], keeping the prefix it shares with them."""
        llm, tokens = self.llm, self.tokens
        shared = common_prefix(llm._input_ids, as_tokens(tokens))
        llm.n_tokens = min(shared, len(tokens) - 1)  # the last one is read for its logits
        if upto > llm.n_tokens:
            llm.eval(tokens[llm.n_tokens : upto])

    def propose(self, limit: int) -> list[int]:
        """Greedy tokens of the draft model; RuntimeError when llama.cpp fails (the caller
        turns drafting off)."""
        llm, tokens = self.llm, self.tokens
        n_ctx = llm.n_ctx()
        if limit <= 0 or not tokens:
            return []
        limit = min(limit, n_ctx - len(tokens))
        if limit <= 0:
            raise RuntimeError(f"the draft model's context ({n_ctx:,} tokens) is full")
        self._read(len(tokens))
        draft = [self._greedy.sample(llm._ctx, -1)]
        while len(draft) < limit and draft[-1] < self.n_vocab:
            llm.eval(draft[-1:])
            draft.append(self._greedy.sample(llm._ctx, -1))
        while draft and draft[-1] >= self.n_vocab:
            draft.pop()
        return draft

    def close(self) -> None:
        self.llm.close()


class DraftGate:
    """How many tokens to draft now: the count that promises the most tokens per second.

    A step that drafts k tokens makes 1 + (the guesses taken) tokens, and costs one batch of
    k + 1 tokens (plus, for a draft model, k of its own steps). The gate keeps the chance that
    a guess is taken given the ones before it were (p), a batch's cost over a single token's
    (1 + alpha per extra token) and the drafter's cost per token over the model's (r); the
    expected speed-up of k is (1 + p + … + p^k) / (1 + alpha·k + r·k). Free drafters' guesses
    are judged even when not drafted, so the gate learns while it holds back.
    """

    DECAY = 0.97  # weight of the past in each estimate

    def __init__(self, *, alpha: float = 0.5, p: float = 0.5) -> None:
        self.alpha = alpha
        self.ratio = 0.0  # drafter's cost per token / the model's (0 for a free drafter)
        self.single = 0.0  # seconds of a one-token step
        self.reset_acceptance(p)

    def reset_acceptance(self, p: float = 0.5) -> None:
        """A new answer: its text decides anew how often guesses are taken."""
        self._taken = 2.0 * p  # a prior worth two guesses
        self._tried = 2.0
        self._idle_steps = 0

    @property
    def p(self) -> float:
        return self._taken / self._tried if self._tried else 0.0

    def speedup(self, k: int) -> float:
        p, gain, term = self.p, 1.0, 1.0
        for _ in range(k):
            term *= p
            gain += term
        return gain / (1.0 + (self.alpha + self.ratio) * k)

    def length(self, limit: int = MAX_DRAFT, *, free: bool = True) -> int:
        """Tokens to draft now (0: decode one token). A costly drafter that holds back still
        drafts one token now and then, to see whether its guesses got better. Nothing is
        drafted before a one-token step was timed: the price of a batch and of the drafter are
        measured against it, and a gate that drafted from its first step would never learn
        them (a draft model as slow as the model kept drafting at a third of the speed)."""
        if self.single <= 0:
            return 0
        best, best_k = MARGIN, 0
        for k in range(1, limit + 1):
            gain = self.speedup(k)
            if gain > best:
                best, best_k = gain, k
        if best_k == 0 and not free:
            self._idle_steps += 1
            if self._idle_steps >= 32:
                self._idle_steps = 0
                return min(1, limit)
        return best_k

    def judged(self, proposed: int, taken: int) -> None:
        """A guess of `proposed` tokens of which the first `taken` were right."""
        if proposed <= 0:
            return
        tried = min(proposed, taken + 1)  # each guess counts once the ones before it were right
        d = self.DECAY**tried
        self._taken = self._taken * d + taken
        self._tried = self._tried * d + tried

    def timed(self, batch: int, seconds: float, draft_seconds: float = 0.0) -> None:
        """A step evaluated `batch` tokens in `seconds`; the drafter took `draft_seconds`."""
        d = self.DECAY
        if batch == 1:
            self.single = seconds if self.single == 0 else d * self.single + (1 - d) * seconds
            return
        if self.single <= 0:
            return
        extra = batch - 1
        alpha = max(0.0, (seconds / self.single - 1.0) / extra)
        self.alpha = d * self.alpha + (1 - d) * alpha
        if draft_seconds > 0:
            ratio = draft_seconds / extra / self.single
            self.ratio = ratio if self.ratio == 0 else d * self.ratio + (1 - d) * ratio
