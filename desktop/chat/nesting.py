"""Flattens quote and list markers nested deeper than a few levels, as an answer streams in.

Each level of quote is a table inside a table for Qt, and laying out nested tables costs
about twice as much per level (twenty levels took seconds); markdown-it also drops what is
nested deeper than its limit. So a line that starts with more than QUOTE_DEPTH quote markers,
or more than NESTING_DEPTH markers in all, keeps only the first ones: the text stays, shown
at the deepest level kept. Lines inside a fenced code block are code and stay as they are.
Line breaks come out as ``\\n`` (what markdown-it does to them anyway).
"""

from __future__ import annotations

import re

QUOTE_DEPTH = 4
NESTING_DEPTH = 8

# A container marker (quote or list item) with the indentation before it.
_MARKER = re.compile(r"[ ]{0,3}(?:>[ \t]?|(?:[-+*]|\d{1,9}[.)])(?:[ \t]+|$))")
_CHAIN = re.compile(rf"(?:{_MARKER.pattern})+")
_NOT_CHAIN_CHAR = re.compile(r"[^ \t>\-+*.)0-9]")
_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})")
_FENCE_CLOSE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*$")
_HEAD = 256  # what is kept of a line to tell a fence's first and last lines


def flatten_line(line: str) -> str:
    """``line`` (without its line break) with its markers beyond the limits left out."""
    chain = _CHAIN.match(line)
    if chain is None:
        return line
    kept: list[str] = []
    quotes = seen = 0
    at = 0
    while at < chain.end() and len(kept) < NESTING_DEPTH and seen < 4 * NESTING_DEPTH:
        marker = _MARKER.match(line, at)
        if marker is None or marker.end() == at:
            break
        at, seen = marker.end(), seen + 1
        quote = marker.group().lstrip().startswith(">")
        if not (quote and quotes >= QUOTE_DEPTH):
            kept.append(marker.group())
            quotes += quote
    if seen == len(kept) and at == chain.end():
        return line  # within the limits
    return "".join(kept) + line[chain.end() :]


class NestingFlattener:
    """Feed text in any pieces; what comes out is the same text, flattened line by line.

    The start of a line is held back only while it could still be a chain of markers (every
    character so far is a space, ``>``, a bullet or part of a number), so ordinary text passes
    through as it comes.
    """

    def __init__(self) -> None:
        self._held = ""  # the start of the current line, while it is all marker characters
        self._passing = False  # the current line's start was decided: the rest passes through
        self._head = ""  # the first characters of the current line (for fences)
        self._cr = False  # the last piece ended with a CR that may be the start of a CRLF
        self._fence: tuple[str, int] | None = None  # the open fence's character and length

    def feed(self, text: str) -> str:
        if self._cr:
            text = "\r" + text
        self._cr = text.endswith("\r")
        if self._cr:
            text = text[:-1]
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        out: list[str] = []
        lines = text.split("\n")
        for index, piece in enumerate(lines):
            self._add(piece, out)
            if index < len(lines) - 1:
                self._end_line(out)
        return "".join(out)

    def finish(self) -> str:
        """The rest, once the text is complete."""
        out: list[str] = []
        if self._cr:
            self._cr = False
            self._end_line(out)
        if self._held:
            out.append(self._decide(self._held))
        self._held, self._passing = "", False
        return "".join(out)

    def _add(self, piece: str, out: list[str]) -> None:
        if len(self._head) < _HEAD:
            self._head += piece[: _HEAD - len(self._head)]
        if self._passing:
            out.append(piece)
            return
        self._held += piece
        if _NOT_CHAIN_CHAR.search(piece):
            out.append(self._decide(self._held))
            self._held, self._passing = "", True

    def _decide(self, start: str) -> str:
        return start if self._fence is not None else flatten_line(start)

    def _end_line(self, out: list[str]) -> None:
        if not self._passing:
            out.append(self._decide(self._held))
        out.append("\n")
        self._track_fence(self._head)
        self._held, self._passing, self._head = "", False, ""

    def _track_fence(self, head: str) -> None:
        """Top-level fences only: a fence inside a quote or a list keeps the quote's markers."""
        if self._fence is None:
            opened = _FENCE_OPEN.match(head)
            if opened is not None:
                marker = opened.group(1)
                if marker[0] == "~" or "`" not in head[opened.end() :]:
                    self._fence = (marker[0], len(marker))
            return
        closed = _FENCE_CLOSE.match(head) if len(head) < _HEAD else None
        if closed is not None:
            marker = closed.group(1)
            if marker[0] == self._fence[0] and len(marker) >= self._fence[1]:
                self._fence = None
