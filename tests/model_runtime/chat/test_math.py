"""Where the math is: the delimiters R1 writes, and what is not math (prices, shell, code)."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from model_runtime.chat.math import (
    MAX_SPAN,
    Formula,
    add_math,
    formula_of,
    github_math,
    inline_formulas,
)


def found(markdown: str) -> list[tuple[str, bool]]:
    """(source, display) of each formula markdown-it finds in an answer, in order."""
    md = add_math(MarkdownIt("commonmark").enable(["table", "strikethrough"]))
    out = []
    for token in md.parse(markdown):
        for inner in [token, *(token.children or [])]:
            formula = formula_of(inner)
            if formula is not None:
                out.append((formula.source, formula.display))
    return out


RECOGNISED = [
    ("So $x^2$ is positive.", [("x^2", False)]),
    ("Both $$x = 1$$ inline.", [("x = 1", True)]),
    ("$$\nx = \\frac{1}{2}\n$$", [("x = \\frac{1}{2}", True)]),
    ("Here \\(a + b\\) holds.", [("a + b", False)]),
    ("Here \\[a + b\\] holds.", [("a + b", True)]),
    ("We get:\n\\[\nx = 2\n\\]\nso done.", [("x = 2", True)]),  # R1: no blank line before
    ("\\[ x \\]", [("x", True)]),
    (
        "Rows:\n\\begin{aligned}\na &= b \\\\\nc &= d\n\\end{aligned}",
        [("\\begin{aligned}\na &= b \\\\\nc &= d\n\\end{aligned}", True)],
    ),
    (
        "\\begin{cases} 1 & x > 0 \\\\ 0 & x \\le 0 \\end{cases}",
        [("\\begin{cases} 1 & x > 0 \\\\ 0 & x \\le 0 \\end{cases}", True)],
    ),
    ("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", [("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", True)]),
    ("\\begin{bmatrix} a \\end{bmatrix}", [("\\begin{bmatrix} a \\end{bmatrix}", True)]),
    ("The answer is \\boxed{\\frac{1}{2}}.", [("\\boxed{\\frac{1}{2}}", False)]),
    ("So $\\boxed{42}$.", [("\\boxed{42}", False)]),
    ("1. Step: \\(x\\)\n2. Then:\n   \\[\n   y\n   \\]", [("x", False), ("y", True)]),
    ("| a | b |\n|---|---|\n| $x$ | \\(y\\) |", [("x", False), ("y", False)]),
    ("> quoted $q$", [("q", False)]),
]

NOT_MATH = [
    "It costs $5 and $10.",
    "Between $5-$10 a day.",
    "From $5 to $7.",
    "Use `$HOME` and `$PATH`.",
    "Prices: $5, then `$HOME` later.",
    "```\n$x$ and \\(y\\)\n```",
    "    $x$ indented code",
    "Escaped \\$5 and \\$x\\$.",
    "A \\\\(backslash\\\\) pair.",
    "An open $x and nothing.",
    "Open \\(x and \\[y",
    "Across $x\n\ny$ paragraphs.",
    "$$\nx\n\ny\n$$",
]


@pytest.mark.parametrize(("markdown", "formulas"), RECOGNISED)
def test_delimiters_r1_writes_are_math(markdown: str, formulas: list[tuple[str, bool]]) -> None:
    assert found(markdown) == formulas


@pytest.mark.parametrize("markdown", NOT_MATH)
def test_prices_shell_variables_and_code_are_not_math(markdown: str) -> None:
    assert found(markdown) == []


def test_a_formula_is_at_most_max_span_long() -> None:
    assert found("$" + "x" * (MAX_SPAN - 2) + "$") == [("x" * (MAX_SPAN - 2), False)]
    assert found("$" + "x" * MAX_SPAN + "$") == []


def test_inline_formulas_give_exact_spans() -> None:
    text = "a `$no$` b \\(x\\) c $y$ d \\boxed{z}"
    spans = inline_formulas(text)
    assert [text[start:end] for start, end, _ in spans] == ["\\(x\\)", "$y$", "\\boxed{z}"]
    assert spans[0][2] == Formula("x", False)


def test_github_export_rewrites_only_the_delimiters_github_lacks() -> None:
    markdown = (
        "So \\(x^2\\) and $y$ and $$z$$.\n"
        "\n"
        "We get:\n"
        "\\[\n"
        "x = \\frac{1}{2}\n"
        "\\]\n"
        "\n"
        "\\begin{aligned}\n"
        "a &= b\n"
        "\\end{aligned}\n"
        "\n"
        "`\\(code\\)` stays, and so does\n"
        "```\n"
        "\\[code\\]\n"
        "```\n"
        "| \\(t\\) | u |\n"
        "|---|---|\n"
        "| $v$ | \\(w\\) |\n"
        "\n"
        "The answer is \\boxed{3}.\n"
    )
    assert github_math(markdown) == (
        "So $x^2$ and $y$ and $$z$$.\n"
        "\n"
        "We get:\n"
        "$$\n"
        "x = \\frac{1}{2}\n"
        "$$\n"
        "\n"
        "$$\n"
        "\\begin{aligned}\n"
        "a &= b\n"
        "\\end{aligned}\n"
        "$$\n"
        "\n"
        "`\\(code\\)` stays, and so does\n"
        "```\n"
        "\\[code\\]\n"
        "```\n"
        "| $t$ | u |\n"
        "|---|---|\n"
        "| $v$ | $w$ |\n"
        "\n"
        "The answer is $\\boxed{3}$.\n"
    )


def test_github_export_leaves_what_github_renders_as_it_is() -> None:
    for text in ("plain", "It costs $5 and $10.", "Use `\\(x\\)` literally.", "$x$ and $$y$$"):
        assert github_math(text) == text
