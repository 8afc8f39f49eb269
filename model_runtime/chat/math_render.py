"""A formula's LaTeX as an SVG drawing, by ziamath (pure Python, its own bundled math font).

The SVG is drawn at REF_SIZE pixels to the em and carries its metrics (width, and how far it
reaches above and below the baseline), so a view scales it to its own text size and sets it on
the text's baseline. SVG 1.1 output (``ziamath.config.svg2 = False``): Qt's SVG renderer draws
the default SVG 2 ``<symbol>/<use>`` output as scattered marks.

What can't be drawn says why, in words, as a FormulaError: LaTeX that is malformed (a brace
left open, ``^`` with nothing after it) or unsupported (a command ziamath doesn't know), a
formula longer than MAX_CHARS or nested deeper than MAX_DEPTH (ziamath's time grows faster than
its length: 1,000 characters take about half a second, 5,000 about four). The time budget of
each formula is kept by the process that renders them (math_process.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from model_runtime.chat.math import Formula
from model_runtime.errors import FormulaError

REF_SIZE = 32.0  # pixels to the em of the SVG drawings
MAX_CHARS = 2_000
MAX_DEPTH = 40

SUPPORTED = frozenset(
    ("aligned", "align", "align*", "split", "cases", "matrix", "pmatrix", "bmatrix", "Bmatrix",
     "vmatrix", "Vmatrix", "smallmatrix", "array")
)  # fmt: skip
# Environments ziamath lacks, as one it has (the rows stay rows, the columns columns).
_AS = {
    "gather": "array}{c", "gather*": "array}{c", "gathered": "array}{c",
    "multline": "array}{c", "multline*": "array}{c", "equation": "aligned",
    "equation*": "aligned", "flalign": "aligned", "flalign*": "aligned",
    "eqnarray": "array}{rcl", "eqnarray*": "array}{rcl", "dcases": "cases",
    "subequations": "aligned", "alignat": "aligned", "alignat*": "aligned",
    "alignedat": "aligned",
}  # fmt: skip
_BEGIN = re.compile(r"\\(begin|end)\s*\{([A-Za-z]+\*?)\}")
_ALIGNAT = re.compile(r"(\\begin\{(?:alignat|alignedat)\*?\})\s*\{\d+\}")
_DROPPED = re.compile(r"\\(?:label|tag\*?)\s*\{[^{}]*\}|\\(?:nonumber|notag)\b")
_UNKNOWN = re.compile(r"<mi>\\([A-Za-z]+)</mi>")
_WORDS = {
    "MissingSuperScriptOrSubscriptError": "a ^ or _ has nothing after it",
    "DoubleSubscriptsError": "two subscripts in a row (x_1_2)",
    "DoubleSuperscriptsError": "two superscripts in a row (x^1^2)",
    "ExtraLeftOrMissingRightError": "a \\left has no \\right",
    "MissingEndError": "a \\begin has no \\end",
    "NumeratorNotFoundError": "a fraction has no numerator",
    "DenominatorNotFoundError": "a fraction has no denominator",
    "NoAvailableTokensError": "a command is missing its argument",
    "RecursionError": f"it is nested too deeply (at most {MAX_DEPTH} levels)",
}


@dataclass(frozen=True)
class RenderedFormula:
    """An SVG drawing of a formula at REF_SIZE, and where its baseline lies."""

    svg: str
    width: float
    ascent: float  # above the baseline
    descent: float  # below it

    @property
    def height(self) -> float:
        return self.ascent + self.descent


def check(source: str) -> str | None:
    """Why the formula can't be drawn without even trying it, in words; None if it may be."""
    if not source.strip():
        return "it is empty"
    if len(source) > MAX_CHARS:
        return f"it is too long ({len(source):,} characters; at most {MAX_CHARS:,} are drawn)"
    depth = deepest = 0
    index = 0
    while index < len(source):
        char = source[index]
        if char == "\\":
            index += 2
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return "a } closes no {"
        deepest = max(deepest, depth)
        index += 1
    if depth > 0:
        return "a { is never closed"
    if deepest > MAX_DEPTH:
        return f"it is nested too deeply ({deepest} levels; at most {MAX_DEPTH})"
    if "\\begin" in source:
        for found in _BEGIN.finditer(prepare(source)):
            if found.group(1) == "begin" and found.group(2) not in SUPPORTED:
                return f"the environment {found.group(2)} is not supported"
    return None


def prepare(source: str) -> str:
    """The LaTeX as ziamath reads it best: environments it lacks become ones it has, labels
    and numbering go, and rows written without an environment get one (R1 writes `a &= b \\\\
    c &= d` between `$$` as often as inside `aligned`)."""
    latex = _DROPPED.sub("", source)
    latex = _ALIGNAT.sub(r"\1", latex)
    latex = _BEGIN.sub(lambda m: _renamed(m.group(1), m.group(2)), latex)
    if not _BEGIN.search(latex):
        if "&" in latex.replace("\\&", ""):
            latex = f"\\begin{{aligned}}{latex}\\end{{aligned}}"
        elif "\\\\" in latex:
            latex = f"\\begin{{array}}{{c}}{latex}\\end{{array}}"
    return latex


def _renamed(kind: str, name: str) -> str:
    """The environment as ziamath has it, in a group of its own (`\\end{bmatrix}^{-1}` fails
    without one)."""
    target = _AS.get(name, name)
    if kind == "end":
        return "\\end{" + target.split("}")[0] + "}}"
    return "{\\begin{" + target + "}"


def render(formula: Formula, size: float = REF_SIZE) -> RenderedFormula:
    """Draw the formula as SVG (in black: a view colours it); FormulaError says why it can't."""
    reason = check(formula.source)
    if reason is not None:
        raise FormulaError(reason)
    import ziamath
    from ziamath.tex import tex2mml

    ziamath.config.svg2 = False
    try:
        mathml = tex2mml(prepare(formula.source), inline=not formula.display)
        unknown = _UNKNOWN.search(mathml)
        if unknown is not None:
            raise FormulaError(f"\\{unknown.group(1)} is not a command the renderer knows")
        math = ziamath.Math(mathml, size=size)
        svg = math.svg()
    except FormulaError:
        raise
    except Exception as exc:  # the renderer's own: its words are for LaTeX experts
        raise FormulaError(_WORDS.get(type(exc).__name__, _unreadable(exc))) from exc
    box = math.node.bbox
    if box.ymax < box.ymin:  # an empty box (\boxed{}): ziamath's sentinel extents, ±9999
        raise FormulaError("there is nothing in it to draw")
    margin = math.margin
    return RenderedFormula(
        svg=svg,
        width=box.xmax - box.xmin + 2 * margin,
        ascent=box.ymax + margin,
        descent=-box.ymin + margin,
    )


def _unreadable(exc: BaseException) -> str:
    return "the renderer could not make sense of it"
