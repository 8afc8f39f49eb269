"""Split a DeepSeek-R1 stream (``<think>reasoning</think>answer``) into thinking and answer text.

The parser is a streaming state machine: text is fed chunk by chunk as tokens arrive and
comes back as ``Segment`` objects, at once, except for the few characters at the end of a
chunk that could still be the start of a tag (``"<th"``), which wait for the next chunk.

Rules, chosen for what R1-family models really emit:

* Inside thinking only the close tag is special; inside an answer only the open tag is.
  R1 sometimes writes a literal ``<think>`` in its reasoning, and an answer may quote
  ``</think>``: both stay text.
* One exception: a ``</think>`` in answer mode before any thinking has been seen is
  dropped (and counted in ``stray_close_tags``). It means the chat template put
  ``<think>`` in the prompt but the caller did not say so (``starts_in_thinking``); by R1
  convention the text before it was reasoning, but that text has already been streamed
  out as answer, so the parser does not take it back. ``split_reasoning``, which sees the
  whole text, does reclassify it.
* Leading whitespace of every segment (R1 writes ``"<think>\\n"`` and ``"</think>\\n\\n"``) is
  dropped, even when it arrives in a later chunk; whitespace inside a segment and at its end
  is kept (holding it back would delay the stream; ``split_reasoning`` strips both ends).
* A stream that ends inside thinking is all reasoning; ``finish()`` flushes it and
  ``unclosed`` then says so.

Work is linear in the total input: a chunk is scanned once, plus at most a tag's length of
held-back text.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

__all__ = ["ReasoningParser", "Segment", "split_reasoning", "strip_reasoning"]

Kind = Literal["thinking", "answer"]

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text of one kind, as it came out of one ``feed()`` or ``finish()``."""

    kind: Kind
    text: str


class ReasoningParser:
    """Streaming splitter of ``<think>…</think>`` reasoning from answer text."""

    def __init__(
        self,
        *,
        starts_in_thinking: bool = False,
        continuing: bool = False,
        open_tag: str = OPEN_TAG,
        close_tag: str = CLOSE_TAG,
    ) -> None:
        """``continuing``: the stream goes on from text already shown (Continue, Answer now):
        its first whitespace is kept, and thinking is known to have happened before."""
        if not open_tag or not close_tag or open_tag == close_tag:
            raise ValueError("open_tag and close_tag must be distinct, non-empty strings")
        self._open = open_tag
        self._close = close_tag
        # For each tag, its proper prefixes by their last character, longest first: the end
        # of a chunk is looked up here to find what might be the start of a split tag.
        self._prefixes = {tag: _prefixes_by_last_char(tag) for tag in (open_tag, close_tag)}
        self._in_thinking = starts_in_thinking
        self._pending = ""  # a proper prefix of a tag that is special in the current state
        self._at_segment_start = not continuing  # leading whitespace is still being dropped
        self._finished = False
        self._out: list[tuple[Kind, str]] = []
        self.thinking_segments = 1 if starts_in_thinking or continuing else 0
        """Thinking segments entered so far, counting one the template opened."""
        self.stray_close_tags = 0
        """Close tags dropped because they came in answer mode before any thinking."""
        self.thinking_chars = 0
        """Characters of reasoning emitted so far."""
        self.answer_chars = 0
        """Characters of answer emitted so far."""
        self._special: tuple[str, ...] = ()
        self._first = self._first2 = ""
        self._update_special()

    @property
    def in_thinking(self) -> bool:
        """Whether the stream is inside a thinking segment now (the open tag was the last seen)."""
        return self._in_thinking

    @property
    def state(self) -> Kind:
        """The kind of text the next characters will be: ``"thinking"`` or ``"answer"``."""
        return "thinking" if self._in_thinking else "answer"

    @property
    def finished(self) -> bool:
        """Whether ``finish()`` has been called."""
        return self._finished

    @property
    def unclosed(self) -> bool:
        """Whether the stream ended inside thinking (no close tag came); False until finished."""
        return self._finished and self._in_thinking

    def feed(self, text: str) -> list[Segment]:
        """Take the next chunk; return the text that is now known to be thinking or answer."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if not text:
            return []
        if self._pending or self._first in text or self._first2 in text:
            self._scan(self._pending + text)
            return self._take()
        # Fast path, the common case: nothing in this chunk can start a tag.
        if self._at_segment_start:
            text = text.lstrip()
            if not text:
                return []
            self._at_segment_start = False
        if self._in_thinking:
            self.thinking_chars += len(text)
            return [Segment("thinking", text)]
        self.answer_chars += len(text)
        return [Segment("answer", text)]

    def finish(self) -> list[Segment]:
        """End the stream: text held back as a possible partial tag was text after all."""
        if not self._finished:
            self._finished = True
            if self._pending:
                self._emit(self._pending)
                self._pending = ""
        return self._take()

    def _update_special(self) -> None:
        """Note which tags mean something in the current state, and how they begin."""
        if self._in_thinking:
            self._special = (self._close,)
        elif self.thinking_segments:
            self._special = (self._open,)
        else:
            self._special = (self._open, self._close)  # the close tag as a stray to drop
        self._first = self._special[0][0]
        self._first2 = self._special[-1][0]

    def _scan(self, buf: str) -> None:
        pos = 0
        end = len(buf)
        while True:
            special = self._special
            tag = special[0]
            if len(special) == 1:
                at = buf.find(tag, pos)
                stray = False
            else:
                # Before any thinking: the open tag, or a stray close tag to drop. Look for
                # the open tag only up to the next stray, so that a run of strays does not
                # rescan the rest of the buffer for each of them.
                stray_at = buf.find(special[1], pos)
                at = buf.find(tag, pos, end if stray_at < 0 else stray_at + len(tag))
                stray = at < 0 <= stray_at
                if stray:
                    at = stray_at
                    tag = special[1]
            if at < 0:
                break
            if at > pos:
                self._emit(buf[pos:at])
            pos = at + len(tag)
            if stray:
                self.stray_close_tags += 1
                continue
            self._in_thinking = not self._in_thinking
            self._at_segment_start = True
            if self._in_thinking:
                self.thinking_segments += 1
            self._update_special()
        hold = 0
        if pos < end:
            last = buf[-1]
            for tag in self._special:
                for prefix in self._prefixes[tag].get(last, ()):
                    if len(prefix) <= hold:
                        break
                    if len(prefix) <= end - pos and buf.endswith(prefix):
                        hold = len(prefix)
                        break
        if hold:
            self._pending = buf[end - hold :]
            end -= hold
        else:
            self._pending = ""
        if end > pos:
            self._emit(buf[pos:end])

    def _emit(self, text: str) -> None:
        if self._at_segment_start:
            text = text.lstrip()
            if not text:
                return
            self._at_segment_start = False
        if self._in_thinking:
            self.thinking_chars += len(text)
            self._out.append(("thinking", text))
        else:
            self.answer_chars += len(text)
            self._out.append(("answer", text))

    def _take(self) -> list[Segment]:
        """Hand out what was emitted, neighbours of one kind joined into one segment."""
        out, self._out = self._out, []
        if len(out) == 1:
            return [Segment(*out[0])]
        return [
            Segment(kind, "".join(text for _, text in run))
            for kind, run in itertools.groupby(out, key=lambda piece: piece[0])
        ]


def _prefixes_by_last_char(tag: str) -> dict[str, tuple[str, ...]]:
    """Map each character to the proper prefixes of ``tag`` that end with it, longest first."""
    table: dict[str, list[str]] = {}
    for k in range(len(tag) - 1, 0, -1):
        table.setdefault(tag[k - 1], []).append(tag[:k])
    return {char: tuple(prefixes) for char, prefixes in table.items()}


def split_reasoning(text: str, *, starts_in_thinking: bool = False) -> tuple[str, str]:
    """Split a complete message into (reasoning, answer), each stripped at both ends.

    Several thinking (or answer) segments are joined with a blank line. A close tag that
    comes before any open tag marks the text before it as reasoning (the template opened
    the thinking), which the streaming parser cannot do after the fact.
    """
    if not starts_in_thinking:
        close_at = text.find(CLOSE_TAG)
        starts_in_thinking = close_at >= 0 and OPEN_TAG not in text[:close_at]
    parser = ReasoningParser(starts_in_thinking=starts_in_thinking)
    blocks: dict[Kind, list[str]] = {"thinking": [], "answer": []}
    previous: Kind | None = None
    for segment in [*parser.feed(text), *parser.finish()]:
        if segment.kind == previous:
            blocks[segment.kind][-1] += segment.text
        else:
            blocks[segment.kind].append(segment.text)
        previous = segment.kind
    reasoning = "\n\n".join(b for b in (block.strip() for block in blocks["thinking"]) if b)
    answer = "\n\n".join(b for b in (block.strip() for block in blocks["answer"]) if b)
    return reasoning, answer


def strip_reasoning(text: str) -> str:
    """Drop the reasoning from a past assistant message before it goes back to the model."""
    return split_reasoning(text)[1]
