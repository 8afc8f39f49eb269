"""The vote over several thoughts on one question: each answer's boxed result, normalised, counted.

R1's report measures majority voting over sampled answers (cons@64): the final answers are
grouped and the biggest group wins. Here the final answer of a thought is the last
`\\boxed{…}` of its answer (boxed.py), normalised so that the same result written two ways
counts once: whitespace, `\\dfrac` and `\\frac`, `\\left(` and `(`, trailing punctuation, a
leading `x =`, and numbers that are exactly equal (`0.5`, `\\frac12`, `1/2`). Content that
can't be read as anything (a box with broken LaTeX) is its own answer and never breaks the
count. When no thought boxed an answer, identical answers are grouped by their text instead,
and the tally says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from model_runtime.chat.boxed import last_boxed

SHOWN_CHARS = 60  # an answer in the tally's line is cut to this many characters

_WRAPPERS = re.compile(r"^\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{(.*)\}$", re.DOTALL)
_SPACING = re.compile(r"\\[,;:! ]|\\(?:quad|qquad|displaystyle|textstyle)(?![A-Za-z])|~")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![A-Za-z])")
_FRAC = re.compile(r"\\[dt]frac(?![A-Za-z])")
_ONE_CHAR_ARGS = re.compile(r"\\(frac|sqrt)\s*([0-9A-Za-z])(?:\s*([0-9A-Za-z]))?")
_ONE_CHAR_BRACES = re.compile(r"([\^_])\{([0-9A-Za-z])\}")
_ASSIGNED = re.compile(r"^[A-Za-z](?:_\{?[0-9A-Za-z]+\}?)?\s*=\s*(?=\S)")
_TRAILING = ".,;:!。"
_SPACE = re.compile(r"\s+")
_INNER_SPACE = re.compile(r"(?<![0-9A-Za-z])\s+|\s+(?![0-9A-Za-z])")

_INTEGER = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)"
_NUMBER = re.compile(rf"^{_INTEGER}(?:\.\d+)?$|^-?\.\d+$")
_SLASH = re.compile(r"^(-?\d+)/(-?\d+)$")
_LATEX_FRACTION = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}$")


def normalise(answer: str) -> str:
    """The key a boxed answer is counted under: equal keys, same answer. Never raises: content
    that can't be read (broken LaTeX) keeps its own text as its key."""
    try:
        return _normalised(answer)
    except Exception:  # a vote must never fail on what a model wrote
        return _SPACE.sub(" ", answer).strip()


def _normalised(answer: str) -> str:
    text = answer.strip().strip("$").strip()
    text = _SPACING.sub(" ", text)
    text = _LEFT_RIGHT.sub("", text)
    text = _FRAC.sub(r"\\frac", text)
    text = text.replace("\\%", "%").replace("{,}", ",")
    while (whole := _WRAPPERS.match(text)) is not None:
        text = whole.group(1).strip()
    text = text.rstrip(_TRAILING + " \t\n").strip()
    text = _ASSIGNED.sub("", text)
    text = _ONE_CHAR_ARGS.sub(_braced, text)
    text = _ONE_CHAR_BRACES.sub(r"\1\2", text)
    text = _INNER_SPACE.sub("", _SPACE.sub(" ", text)).strip()
    if re.fullmatch(r"\([A-Za-z]\)", text):  # a multiple-choice letter: (B) is B
        text = text[1]
    number = number_value(text)
    return f"#{number}" if number is not None else text


def _braced(match: re.Match[str]) -> str:
    """`\\frac12` as `\\frac{1}{2}`, `\\sqrt2` as `\\sqrt{2}`: arguments of one character."""
    command, first, second = match.group(1), match.group(2), match.group(3)
    if command == "frac" and second is not None:
        return f"\\frac{{{first}}}{{{second}}}"
    return f"\\{command}{{{first}}}" + (second or "")


def number_value(text: str) -> Fraction | None:
    """The exact value of a plain number: 3, -2.50, 1,000, 1/2, \\frac{1}{2}; None for
    anything else (a decimal is exact as written: 0.333 is not 1/3)."""
    if _NUMBER.match(text):
        return Fraction(text.replace(",", ""))
    slash = _SLASH.match(text)
    if slash and int(slash.group(2)) != 0:
        return Fraction(int(slash.group(1)), int(slash.group(2)))
    latex = _LATEX_FRACTION.match(text)
    if latex and int(latex.group(3)) != 0:
        value = Fraction(int(latex.group(2)), int(latex.group(3)))
        return -value if latex.group(1) else value
    return None


def text_key(answer: str) -> str:
    """The key of an answer without a box: its text with whitespace and a final full stop
    evened out (the vote on the text groups identical answers only)."""
    return _SPACE.sub(" ", answer).strip().rstrip(_TRAILING).strip()


@dataclass(frozen=True)
class Group:
    """Thoughts that gave the same answer: as the first of them wrote it, and which they are."""

    answer: str
    key: str
    sequences: tuple[int, ...]  # 0-based, in order

    @property
    def count(self) -> int:
        return len(self.sequences)

    @property
    def shown(self) -> str:
        """The answer for the tally's line: one line, cut to SHOWN_CHARS."""
        line = _SPACE.sub(" ", self.answer).strip()
        return line if len(line) <= SHOWN_CHARS else line[: SHOWN_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class Tally:
    """The count of a vote: groups with the most votes first (ties: the earlier thought first)."""

    groups: tuple[Group, ...]
    n: int  # thoughts in the vote
    on_text: bool  # no thought boxed an answer: the groups are of the answers' text
    unanswered: tuple[int, ...]  # thoughts without an answer to count

    @property
    def winner(self) -> Group | None:
        """The group with the most votes (of tied ones, the earliest thought's); None when
        no thought answered."""
        return self.groups[0] if self.groups else None

    @property
    def tied(self) -> tuple[Group, ...]:
        """The groups that share the most votes, when more than one does."""
        if len(self.groups) < 2 or self.groups[1].count < self.groups[0].count:
            return ()
        top = self.groups[0].count
        return tuple(g for g in self.groups if g.count == top)

    def group_of(self, sequence: int) -> Group | None:
        return next((g for g in self.groups if sequence in g.sequences), None)

    def describe(self) -> str:
        """The tally in one line: "x = 3 — 5 of 8 · x = 2 — 3 of 8"."""
        parts = [f"{g.shown} — {g.count} of {self.n}" for g in self.groups]
        if self.unanswered:
            none = "no answer" if self.on_text else "no boxed answer"
            parts.append(f"{none} — {len(self.unanswered)} of {self.n}")
        return " · ".join(parts)

    def verdict(self) -> str:
        """Who won, in words: a majority, a plurality, a tie, or no answer at all."""
        winner = self.winner
        if winner is None:
            return f"None of the {self.n} thoughts gave an answer to vote on."
        on = " (the vote is on the answers' text: no thought boxed its answer)"
        on = on if self.on_text else ""
        tied = self.tied
        if len(tied) == 2:
            names = " and ".join(g.shown for g in tied)
            return f"A tie: {names}, {winner.count} of {self.n} each; the first is shown{on}."
        if tied:
            return (
                f"A tie: {len(tied)} answers have {winner.count} of {self.n} each; the first "
                f"is shown{on}."
            )
        share = "majority" if 2 * winner.count > self.n else "most votes"
        return f"The {share}: {winner.shown}, {winner.count} of {self.n}{on}."


def tally(answers: Sequence[str]) -> Tally:
    """Count the final answers of N thoughts (the answer text of each; "" for a thought that
    gave none): by their boxed answers, or by their text when none has a box."""
    boxed = [last_boxed(text) if text else None for text in answers]
    on_text = all(box is None for box in boxed)
    found: dict[str, tuple[str, list[int]]] = {}
    unanswered = []
    for index, (text, box) in enumerate(zip(answers, boxed, strict=True)):
        if on_text:
            shown, key = text.strip(), text_key(text)
        elif box is not None:
            shown, key = box, normalise(box)
        else:
            shown, key = "", ""
        if not key:
            unanswered.append(index)
            continue
        found.setdefault(key, (shown, []))[1].append(index)
    groups = [Group(shown, key, tuple(seqs)) for key, (shown, seqs) in found.items()]
    groups.sort(key=lambda g: (-g.count, g.sequences[0]))
    return Tally(tuple(groups), len(answers), on_text, tuple(unanswered))
