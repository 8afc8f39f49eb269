"""One remote answer as it streams: each chunk's shape checked, its deltas turned into Chunks.

A server may separate the reasoning (``reasoning_content``) or leave ``<think>`` tags in the
content; RemoteStream finds out from the first text which one it does. Everything a chunk
holds is checked against OpenAI's format before it is used, so a server that sends odd types
gets a RemoteEngineError in words (raised by RemoteEngine), never an AttributeError.
"""

from __future__ import annotations

import time
from typing import Any

from model_runtime.chat.generation import Chunk
from model_runtime.chat.reasoning import OPEN_TAG, ReasoningParser


class MalformedChunk(ValueError):
    """A chunk whose fields are not of the types OpenAI's format gives them."""


_USAGE_NUMBERS = ("prompt_tokens", "completion_tokens", "total_tokens")
_USAGE_DETAILS = {
    "prompt_tokens_details": ("cached_tokens",),
    "completion_tokens_details": ("reasoning_tokens",),
}


def _count(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedChunk(f"{where} is not a count")
    return value


def chunk_usage(value: Any) -> dict[str, Any]:
    """A chunk's usage with every count an int (0 when absent); {} when it has none."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedChunk("'usage' is not an object")
    usage: dict[str, Any] = {name: _count(value.get(name), name) for name in _USAGE_NUMBERS}
    for part, names in _USAGE_DETAILS.items():
        details = value.get(part) or {}
        if not isinstance(details, dict):
            raise MalformedChunk(f"'{part}' is not an object")
        usage[part] = {name: _count(details.get(name), name) for name in names}
    return usage


def chunk_choices(value: Any) -> list[tuple[dict[str, Any], str | None]]:
    """A chunk's choices as (delta, finish_reason) pairs."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedChunk("'choices' is not a list")
    choices = []
    for choice in value:
        if not isinstance(choice, dict):
            raise MalformedChunk("a choice is not an object")
        delta = choice.get("delta") or {}
        reason = choice.get("finish_reason")
        if not isinstance(delta, dict):
            raise MalformedChunk("a 'delta' is not an object")
        if reason is not None and not isinstance(reason, str):
            raise MalformedChunk("a 'finish_reason' is not a string")
        choices.append((delta, reason))
    return choices


class RemoteStream:
    """Turns one response's deltas into Chunks, and counts what it saw."""

    def __init__(self, gen_id: int, starts_in_thinking: bool) -> None:
        self.gen_id = gen_id
        self.hint = starts_in_thinking
        self.separated: bool | None = None  # None until the first text says which kind
        self.parser: ReasoningParser | None = None
        self.lookahead = ""  # inline text held until it shows whether it opens with <think>
        self.at_start = {"thinking": True, "answer": True}
        self.text: dict[str, list[str]] = {"thinking": [], "answer": []}
        self.n_deltas = self.n_thinking_deltas = 0
        self.first_at: float | None = None
        self.answer_at: float | None = None

    def _chunks(self, kind: str, text: str) -> list[Chunk]:
        if self.at_start[kind]:  # as the local parser does: no leading blank lines
            text = text.lstrip()
            if not text:
                return []
            self.at_start[kind] = False
        now = time.perf_counter()
        if self.first_at is None:
            self.first_at = now
        if kind == "answer" and self.answer_at is None:
            self.answer_at = now
        self.text[kind].append(text)
        return [Chunk(self.gen_id, "thinking" if kind == "thinking" else "answer", text)]

    def reasoning(self, text: str) -> list[Chunk]:
        """Reasoning the server separated. From now on the content is all answer: a <think> in
        it is the answer's own text (content read inline before is let go of first)."""
        flushed = [] if self.separated else self.finish()
        self.separated = True
        self.parser, self.lookahead = None, ""
        self.n_deltas += 1
        self.n_thinking_deltas += 1
        return flushed + self._chunks("thinking", text)

    def content(self, text: str) -> list[Chunk]:
        self.n_deltas += 1
        if self.separated is None:
            self.separated = False
        if self.separated:
            return self._chunks("answer", text)
        if self.parser is None:
            self.lookahead += text
            head = self.lookahead.lstrip()
            if len(head) < len(OPEN_TAG) and OPEN_TAG.startswith(head):
                return []  # could still be "<think>"
            # The template may have opened the thinking in the prompt (R1): then no open tag.
            self.parser = ReasoningParser(
                starts_in_thinking=self.hint and not head.startswith(OPEN_TAG)
            )
            text, self.lookahead = self.lookahead, ""
        if self.parser.in_thinking:
            self.n_thinking_deltas += 1
        return self._segments(self.parser.feed(text))

    def _segments(self, segments) -> list[Chunk]:
        return [c for s in segments for c in self._chunks(s.kind, s.text)]

    def finish(self) -> list[Chunk]:
        if self.parser is None and self.lookahead:  # the whole stream was a bit of "<think>"
            self.parser = ReasoningParser(starts_in_thinking=self.hint)
            return self._segments(self.parser.feed(self.lookahead) + self.parser.finish())
        return self._segments(self.parser.finish()) if self.parser is not None else []

    @property
    def unclosed(self) -> bool:
        return self.parser is not None and self.parser.unclosed

    def partial(self) -> tuple[str, str]:
        return "".join(self.text["thinking"]), "".join(self.text["answer"])
