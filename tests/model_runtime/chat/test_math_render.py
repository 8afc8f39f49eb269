"""LaTeX to SVG with ziamath: typical R1 formulas draw; bad ones say why, in words."""

from __future__ import annotations

import pytest

from model_runtime.chat.math import Formula
from model_runtime.chat.math_render import MAX_CHARS, MAX_DEPTH, check, prepare, render
from model_runtime.errors import FormulaError, PonderError

DRAWN = [
    "x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}",
    "\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}",
    "\\int_0^1 x^2 \\, dx = \\frac{1}{3}",
    "\\boxed{x = 2 \\text{ or } x = 3}",
    "\\begin{aligned} 2x + 3y &= 7 \\\\ x - y &= 1 \\end{aligned}",
    "f(x) = \\begin{cases} x & x \\ge 0 \\\\ -x & x < 0 \\end{cases}",
    "\\begin{bmatrix} a & b \\\\ c & d \\end{bmatrix}^{-1}",
    "\\begin{gather} a = b \\\\ c = d \\end{gather}",  # ziamath lacks gather: an array
    "a &= b \\\\ c &= d",  # rows without an environment, as R1 writes them between $$
    "\\mathbb{R}^n \\quad \\forall \\epsilon > 0",
    "x \\equiv 3 \\pmod{7} \\label{eq:1}",
]


@pytest.mark.parametrize("source", DRAWN)
def test_typical_formulas_draw_as_svg_one_point_one(source: str) -> None:
    drawing = render(Formula(source, display=True))
    assert drawing.svg.startswith("<svg") and "<symbol" not in drawing.svg  # no SVG 2 <use>
    assert drawing.width > 0 and drawing.ascent > 0 and drawing.descent >= 0


def test_metrics_put_the_baseline_where_the_drawing_has_it() -> None:
    flat = render(Formula("x", display=False))
    fraction = render(Formula("\\frac{1}{2}", display=True))
    assert flat.descent < flat.ascent
    assert fraction.descent > flat.descent and fraction.ascent > flat.ascent  # reaches below


BAD = [
    ("\\frac{1", "a { is never closed"),
    ("x}", "a } closes no {"),
    ("\\foo{x}", "\\foo is not a command the renderer knows"),
    ("x^", "a ^ or _ has nothing after it"),
    ("\\left( x", "a \\left has no \\right"),
    ("\\begin{tikzcd} a \\end{tikzcd}", "the environment tikzcd is not supported"),
    ("{" * (MAX_DEPTH + 1) + "x" + "}" * (MAX_DEPTH + 1), "it is nested too deeply"),
    ("x" * 50_000, "it is too long (50,000 characters"),
    ("  ", "it is empty"),
    ("\\boxed{}", "there is nothing in it to draw"),  # drawn, it had a height of -20,000
    ("\\boxed{ }", "there is nothing in it to draw"),
]


@pytest.mark.parametrize(("source", "words"), BAD)
def test_malformed_or_unsupported_latex_says_why(source: str, words: str) -> None:
    with pytest.raises(FormulaError) as caught:
        render(Formula(source, display=False))
    assert words in str(caught.value)
    assert isinstance(caught.value, PonderError) and isinstance(caught.value, ValueError)


def test_what_is_refused_without_trying_is_refused_fast() -> None:
    assert check("x" * (MAX_CHARS + 1)) is not None
    assert check("{" * 5000 + "}" * 5000) is not None
    assert check("\\frac{a}{b}") is None


def test_prepare_gives_ziamath_environments_it_has() -> None:
    assert prepare("\\begin{equation} x \\end{equation}") == "{\\begin{aligned} x \\end{aligned}}"
    assert prepare("a &= b") == "\\begin{aligned}a &= b\\end{aligned}"
    assert prepare("a \\\\ b") == "\\begin{array}{c}a \\\\ b\\end{array}"
    assert prepare("x \\tag{1} \\nonumber") == "x  "
