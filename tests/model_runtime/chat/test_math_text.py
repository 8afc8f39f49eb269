"""Formulas in streamed plain text (the reasoning): found once closed, however the text arrives."""

from __future__ import annotations

import random

import pytest

from model_runtime.chat.math import MAX_CODE, Formula
from model_runtime.chat.math_text import FormulaSpan, MathScanner


def scan(*chunks: str) -> list[FormulaSpan]:
    scanner = MathScanner()
    spans = [span for chunk in chunks for span in scanner.feed(chunk)]
    return spans + scanner.finish()


REASONING = (
    "Okay, so I need *this*: \\(x^2 - 5x + 6 = 0\\). # not a heading, snake_case stays\n"
    "Using the formula:\n"
    "\\[\n"
    "x = \\frac{5 \\pm 1}{2}\n"
    "\\]\n"
    "So $x = 3$ or $x = 2$. It costs $5 and $10; `$HOME` is code, $y$5 is no formula.\n"
    "```\n"
    "$code$\n"
    "\n"
    "$still code$\n"
    "```\n"
    "\n"
    "A lone ` backtick, then $z$. An open \\(never closed, and \\boxed{x = 2}.\n"
    "\n"
    "Across $a\n"
    "\n"
    "b$ paragraphs is none; $$d$$ is display.\n"
)


def test_the_formulas_of_reasoning() -> None:
    spans = scan(REASONING)
    assert [span.text for span in spans] == [
        "\\(x^2 - 5x + 6 = 0\\)",
        "\\[\nx = \\frac{5 \\pm 1}{2}\n\\]",
        "$x = 3$",
        "$x = 2$",
        "$z$",
        "\\boxed{x = 2}",
        "$$d$$",
    ]
    assert all(REASONING[s.start : s.end] == s.text for s in spans)
    assert spans[1].formula == Formula("x = \\frac{5 \\pm 1}{2}", True)
    assert spans[5].formula == Formula("\\boxed{x = 2}", False)


def test_a_formula_split_at_every_position_is_found_the_same() -> None:
    whole = scan(REASONING)
    for cut in range(1, len(REASONING)):
        assert scan(REASONING[:cut], REASONING[cut:]) == whole, cut


@pytest.mark.parametrize("seed", range(20))
def test_any_chunking_finds_the_same(seed: int) -> None:
    rnd = random.Random(seed)
    chunks, at = [], 0
    while at < len(REASONING):
        size = rnd.randint(1, 12)
        chunks.append(REASONING[at : at + size])
        at += size
    assert scan(*chunks) == scan(REASONING)


def test_a_formula_is_reported_as_soon_as_it_is_decided() -> None:
    scanner = MathScanner()
    assert scanner.feed("So \\(x") == []
    assert scanner.feed("\\)") == []  # "\\)" could still be followed by anything: one more
    assert [s.text for s in scanner.feed(" and")] == ["\\(x\\)"]
    assert scanner.feed(" $5 and \\(y\\) more") == []  # the $ may close later
    assert [s.text for s in scanner.feed(" text\n\nnew")] == ["\\(y\\)"]  # paragraph ended


def test_long_reasoning_is_parsed_a_bounded_window_at_a_time() -> None:
    scanner = MathScanner()
    line = "We check \\(a_k\\) for each k, and $b$ too; no blank lines here. "
    found = 0
    for _ in range(3_000):  # 200,000 characters in one paragraph, 60 at a time
        found += len(scanner.feed(line))
        assert scanner.undecided < 500
    found += len(scanner.finish())
    assert found == 6_000
    scanner = MathScanner()
    scanner.feed("a lone ` backtick ")
    for _ in range(400):
        scanner.feed(line)
    assert scanner.undecided <= MAX_CODE + len(line) + 1  # the backtick can't hide math forever


def test_text_after_a_finish_is_placed_where_it_is() -> None:
    """The pane finishes its scanner when the thinking ends, perhaps before any text came (a
    stored answer's reasoning is written later), or before a second thinking segment."""
    scanner = MathScanner()
    assert scanner.finish() == []
    spans = scanner.feed("So \\(x\\) here.") + scanner.finish()
    assert [(s.start, s.end) for s in spans] == [(3, 8)]
    spans = scanner.feed(" Then $y$ too.") + scanner.finish()
    assert [(s.start, s.end, s.text) for s in spans] == [(20, 23, "$y$")]
