"""Formulas in plain text as it streams (the reasoning): each one found once, as soon as it is
closed and nothing written after it can change it.

The reasoning is not Markdown: only code (spans and ``` fences) and math count, recognised by
the same rules as in answers (math.py). Text is decided paragraph by paragraph (a blank line
outside a fence ends one) and, inside a long paragraph, up to the first opener still waiting for
its closer: a `$`, `\\(`, `\\[`, `\\boxed{` or run of backticks that text still to come could
close. So what is found never depends on how the text arrived, and each step parses only what
is undecided (a formula is at most MAX_SPAN long, so an opener older than that is text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from model_runtime.chat.boxed import closing_brace
from model_runtime.chat.math import (
    MAX_CODE,
    MAX_SPAN,
    Formula,
    escaped,
    formula_of,
    inline_parser,
)

_OPENER = re.compile(r"\${1,2}|\\[(\[]|\\(?:boxed|fbox)\s*\{|`+")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_CLOSERS = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}


@dataclass(frozen=True)
class FormulaSpan:
    """A formula found in the text: where it lies, delimiters included."""

    start: int
    end: int
    formula: Formula
    text: str  # as written, delimiters and all


class MathScanner:
    """Feed the text as it comes; each call returns the formulas it settled, in order."""

    def __init__(self) -> None:
        self._text = "\n"  # the undecided part of the paragraph, after a character of context
        self._base = -1  # offset of self._text[0] in the whole text
        self._line = 1  # where the line being written starts, in self._text
        self._plain_line = False  # that line began before self._text and is neither blank nor fence
        self._fence: tuple[str, int] | None = None  # the ``` fence the text is inside
        self._reported = 0  # formulas starting before this were returned already
        self._decided = 0  # how far self._text is decided
        self._spans: list[tuple[int, int]] = []  # formulas and code in self._text

    @property
    def undecided(self) -> int:
        """How much text is kept to be parsed again with what comes next."""
        return len(self._text)

    def feed(self, text: str) -> list[FormulaSpan]:
        self._text += text
        found: list[FormulaSpan] = []
        while (end := self._paragraph_end()) is not None:
            found += self._settle(self._text[:end], final=True)
            self._restart(end)
        found += self._settle(self._text, final=False)
        self._cut()
        return found

    def finish(self) -> list[FormulaSpan]:
        """The text is complete: the formulas of its last paragraph."""
        found = self._settle(self._text, final=True)
        self._restart(len(self._text))
        return found

    def _paragraph_end(self) -> int | None:
        """Where the paragraph ends (at a blank line outside a fence) among the lines completed
        since last time; None while it goes on."""
        text = self._text
        while (newline := text.find("\n", self._line)) != -1:
            line = None if self._plain_line else text[self._line : newline]
            self._line, self._plain_line = newline + 1, False
            if line is None:
                continue
            if not line.strip(" \t\r") and self._fence is None:
                return newline
            self._fence_line(line)
        return None

    def _fence_line(self, line: str) -> None:
        found = _FENCE.match(line)
        if found is None:
            return
        char, length = found.group(1)[0], len(found.group(1))
        if self._fence is None:
            self._fence = (char, length)
        elif (
            char == self._fence[0] and length >= self._fence[1] and not line[found.end() :].strip()
        ):
            self._fence = None

    def _restart(self, end: int) -> None:
        """Go on after position end of the undecided text (a line break there: the context;
        at the end of the text, one that is not part of it)."""
        rest = self._text[end:]
        self._base += end if rest else end - 1
        self._text = rest or "\n"
        self._line, self._plain_line, self._fence = 1, False, None
        self._decided, self._spans = 0, []

    def _settle(self, text: str, *, final: bool) -> list[FormulaSpan]:
        """The formulas of text (which starts with a character of context) that are decided:
        all of them when the paragraph is complete, else those before any opener still open."""
        spans = _parse(text)
        limit = len(text) if final else _limit(text, spans)
        found = []
        for start, end, formula in spans:
            begin = self._base + start
            if formula is not None and end <= limit and begin >= self._reported:
                found.append(FormulaSpan(begin, self._base + end, formula, text[start:end]))
                self._reported = self._base + end
        self._decided, self._spans = limit, [(start, end) for start, end, _ in spans]
        return found

    def _cut(self) -> None:
        """Forget the decided text but a character of context, so that each step parses only
        the undecided rest: after a space or line break outside any formula or code, and inside
        the line being written only once it is known to be neither blank nor a fence."""
        text, cut = self._text, self._decided
        while cut > 1 and (
            text[cut - 1] not in " \t\n" or any(s < cut < e for s, e in self._spans)
        ):
            cut -= 1
        if cut > self._line and not (self._plain_line or _plain(text[self._line : cut])):
            cut = self._line
        if cut <= 1:
            return
        inside = cut > self._line
        self._base += cut - 1
        self._text = text[cut - 1 :]
        self._line = 1 if inside else self._line - (cut - 1)
        self._plain_line = self._plain_line or inside
        self._decided -= cut - 1
        self._spans = [(s - cut + 1, e - cut + 1) for s, e in self._spans if s >= cut]


def _parse(text: str) -> list[tuple[int, int, Formula | None]]:
    """(start, end, formula) of the math and code (formula None) in text."""
    tokens = inline_parser().parseInline(text)
    out = []
    for token in tokens[0].children or []:
        span = (token.meta or {}).get("span")
        if span is not None:
            out.append((span[0], span[1], formula_of(token)))
    return out


def _limit(text: str, spans: list[tuple[int, int, Formula | None]]) -> int:
    """How far text is decided: up to the first opener that text to come may still close (and
    a formula needs the character after it: `$x$5` is no formula)."""
    limit = len(text) - 1
    taken = iter(spans)
    span = next(taken, None)
    position = 0
    while (found := _OPENER.search(text, position, limit)) is not None:
        while span is not None and span[1] <= found.start():
            span = next(taken, None)
        if span is not None and span[0] <= found.start():
            position = span[1]  # inside a formula or code span
            continue
        position = found.start() + 1
        longest = MAX_CODE if found.group().startswith("`") else MAX_SPAN
        code = found.group().startswith("`")
        if (escaped(text, found.start()) and not code) or len(text) - found.start() > longest:
            continue
        if _may_close(text, found):
            return found.start()
    return limit


def _plain(head: str) -> bool:
    """A line that starts so is neither blank nor a fence, whatever follows."""
    stripped = head.lstrip(" ")
    return bool(stripped.strip()) and (len(head) - len(stripped) > 3 or stripped[0] not in "`~")


def _may_close(text: str, opener: re.Match[str]) -> bool:
    """Whether text still to come could close this opener (its closer is not there yet)."""
    mark, after = opener.group(), opener.end()
    if mark.startswith("`"):
        return text.find(mark, after) == -1
    if mark in _CLOSERS:
        closer = _CLOSERS[mark]
        found = text.find(closer, after)
        while found != -1 and escaped(text, found):
            found = text.find(closer, found + 1)
        return found == -1 or found + len(closer) >= len(text) - 1
    return closing_brace(text, after) is None  # \boxed{
