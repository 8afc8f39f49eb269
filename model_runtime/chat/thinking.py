"""Control over a model's reasoning: when to end it (asked, budget, loop) and how to say so.

Ending thinking never restarts the answer: the engine appends a short closing line and
``</think>`` to what the model is writing, in the same KV cache, and lets it answer.
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass, replace
from typing import Literal

EndReason = Literal["asked", "budget_tokens", "budget_seconds", "loop"]
LoopPolicy = Literal["off", "answer", "stop"]

CLOSING_LINES: dict[EndReason, str] = {
    "asked": "\n\nI was asked to answer now, so I'll answer with what I have.\n",
    "budget_tokens": "\n\nMy thinking budget is used up, so I'll answer with what I have.\n",
    "budget_seconds": "\n\nMy thinking time is up, so I'll answer with what I have.\n",
    "loop": "\n\nI am repeating myself, so I'll stop thinking and answer now.\n",
}


R1_NAMES = ("deepseek-r1", "deepseek_r1", "r1-distill", "r1-0528")


def is_r1_family(*names: str | None) -> bool:
    """DeepSeek-R1 or one of its distills, by the GGUF's name or the file's."""
    return any(key in (name or "").lower() for name in names for key in R1_NAMES)


@dataclass(frozen=True)
class ThinkingPolicy:
    """Limits on one answer's reasoning; None switches a limit off."""

    budget_tokens: int | None = None
    budget_seconds: float | None = None  # thinking time, from the first thinking token
    loop_policy: LoopPolicy = "answer"  # also what a looping answer gets: "off" lets it run
    answer_now: bool = False  # close a continued reasoning before its first new token

    def after(self, tokens: int, seconds: float) -> ThinkingPolicy:
        """What is left of the budgets once earlier runs of the same answer (Continue) thought
        this much; a spent budget is 0, and ends the reasoning before its first new token."""
        tokens_left = None if self.budget_tokens is None else max(0, self.budget_tokens - tokens)
        seconds_left = (
            None if self.budget_seconds is None else max(0.0, self.budget_seconds - seconds)
        )
        return replace(self, budget_tokens=tokens_left, budget_seconds=seconds_left)


@dataclass(frozen=True)
class ThinkingEnded:
    """Why and where thinking was ended by Ponder rather than by the model."""

    gen_id: int
    reason: EndReason
    at_token: int  # thinking tokens written when it ended
    detail: str = ""
    seq: int = 0  # which of several thoughts on one prompt

    def describe(self) -> str:
        """Words for the thinking pane."""
        if self.reason == "asked":
            return f"answered on request after {self.at_token:,} tokens"
        if self.reason == "budget_tokens":
            return f"budget reached after {self.at_token:,} tokens"
        if self.reason == "budget_seconds":
            return f"time budget reached after {self.at_token:,} tokens"
        where = f"loop broken at token {self.at_token:,}"
        return f"{where} ({self.detail})" if self.detail else where


def loop_stop_note(where: Literal["reasoning", "answer"], detail: str) -> str:
    """Words for an answer Ponder stopped because it looped (finish reason "loop")."""
    said = f"the {where} was repeating itself"
    return f"{said} ({detail})" if detail else said


class LoopDetector:
    """Spots reasoning that repeats itself: the same span of tokens over and over, or text
    that compresses far better than reasoning does."""

    @classmethod
    def for_answer(cls) -> LoopDetector:
        """Stricter than for reasoning: an answer may repeat on purpose (a short list, a
        word asked for many times), so a repeated span must be longer before it counts."""
        return cls(min_repeats=4, min_span_tokens=256)

    def __init__(
        self,
        *,
        min_repeats: int = 3,
        min_span_tokens: int = 48,
        max_period: int = 256,
        check_every: int = 8,
        text_window: int = 3000,
        min_compression: float = 0.12,
    ) -> None:
        self.min_repeats = min_repeats
        self.min_span_tokens = min_span_tokens
        self.max_period = max_period
        self.check_every = check_every
        self.text_window = text_window
        self.min_compression = min_compression
        self._tokens: deque[int] = deque(maxlen=max_period * min_repeats)
        self._text: deque[str] = deque()
        self._text_len = 0
        self._seen = 0

    def feed(self, token: int, text: str) -> str | None:
        """Add one reasoning token; returns what was found when the reasoning loops."""
        self._tokens.append(token)
        self._text.append(text)
        self._text_len += len(text)
        while self._text_len - len(self._text[0]) >= self.text_window:
            self._text_len -= len(self._text.popleft())
        self._seen += 1
        if self._seen % self.check_every:
            return None
        return self._repeated_span() or self._low_compression()

    def _repeated_span(self) -> str | None:
        tokens = list(self._tokens)
        for period in range(1, min(self.max_period, len(tokens) // self.min_repeats) + 1):
            repeats = self.min_repeats
            if period * repeats < self.min_span_tokens:
                repeats = -(-self.min_span_tokens // period)  # short periods must repeat more
            if period * repeats > len(tokens):
                continue
            last = tokens[-period:]
            if all(tokens[-(k + 1) * period : -k * period] == last for k in range(1, repeats)):
                return f"a span of {period} tokens repeated {repeats} times"
        return None

    def _low_compression(self) -> str | None:
        if self._text_len < self.text_window:
            return None
        data = "".join(self._text).encode("utf-8", "replace")
        ratio = len(zlib.compress(data, 6)) / len(data)
        if ratio < self.min_compression:
            return f"the last {len(data):,} bytes compress to {ratio:.0%}"
        return None
