"""Where the math is in a model's text: formulas in Markdown answers, in plain reasoning, and
the Markdown they are exported as.

DeepSeek-R1 and its distills write `$…$`, `$$…$$`, `\\(…\\)`, `\\[…\\]`, bare environments
(`\\begin{aligned}…\\end{aligned}` on lines of their own) and `\\boxed{…}`, also outside any
delimiters. These are markdown-it rules: mdit-py-plugins' dollarmath for dollars, where a price
is not math ("$5 and $10": no space just inside the dollars, no digit right after the closing
one), and rules of the same shape for the brackets, the environments and a bare `\\boxed{…}`.
Code is never math. A formula never spans a blank line (LaTeX allows none) nor more than
MAX_SPAN characters, so streamed text can be decided as it comes (see math_text.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline, backtick
from markdown_it.token import Token
from mdit_py_plugins.dollarmath.index import math_block_dollar, math_inline_dollar

from model_runtime.chat.boxed import closing_brace

MAX_SPAN = 4_000
"""The longest formula, delimiters included: a lone `$` can't swallow a whole answer."""
MAX_CODE = 8_000
"""The longest code span in plain text: a lone backtick can't hide the math after it."""

ENVIRONMENTS = (
    "aligned", "align", "alignat", "alignedat", "flalign", "gather", "gathered", "equation",
    "multline", "split", "cases", "dcases", "rcases", "array", "eqnarray", "matrix", "pmatrix",
    "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "smallmatrix",
)  # fmt: skip
"""Environments that are display math when they start a line, without delimiters."""

INLINE_TYPES = {"math_inline": False, "math_inline_double": True}
BLOCK_TYPES = ("math_block", "math_block_label", "math_environment")
_ALT = ["paragraph", "reference", "blockquote", "list"]  # display math may interrupt these
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ENV_OPEN = re.compile(r"\\begin\{(" + "|".join(ENVIRONMENTS) + r")(\*?)\}")

InlineRule = Callable[[StateInline, bool], bool]
BlockRule = Callable[[StateBlock, int, int, bool], bool]


@dataclass(frozen=True)
class Formula:
    """One formula: its LaTeX without delimiters (an environment keeps its \\begin and \\end),
    and whether it is display math (on a line of its own, in display style)."""

    source: str
    display: bool


def formula_of(token: Token) -> Formula | None:
    """The formula a markdown-it token holds, or None when it holds none."""
    if token.type in INLINE_TYPES:
        return Formula(token.content.strip(), INLINE_TYPES[token.type])
    if token.type in BLOCK_TYPES:
        return Formula(token.content.strip(), True)
    return None


def delimited(formula: Formula) -> str:
    """The formula as Markdown that GitHub renders: `$…$`, or `$$…$$` for display math."""
    return f"$${formula.source}$$" if formula.display else f"${formula.source}$"


def add_math(md: MarkdownIt, *, blocks: bool = True, inline: bool = True) -> MarkdownIt:
    """Teach a markdown-it parser the math R1 writes (rules run before Markdown's escapes)."""
    if inline:
        for name, rule in inline_rules().items():
            md.inline.ruler.before("escape", name, rule)
        md.inline.ruler.before("escape", "math_literal_bracket", _literal_bracket)
    if blocks:
        dollars = _quiet(math_block_dollar(allow_labels=False, allow_blank_lines=False))
        md.block.ruler.before("fence", "math_block", dollars, {"alt": _ALT})
        md.block.ruler.before("fence", "math_brackets", _bracket_block, {"alt": _ALT})
        md.block.ruler.before("fence", "math_environment", _environment_block, {"alt": _ALT})
    return md


def inline_rules() -> dict[str, InlineRule]:
    """The inline rules, each recording where its formula lies (``token.meta["span"]``)."""
    dollars = math_inline_dollar(allow_space=False, allow_digits=False, allow_double=True)
    return {
        "math_inline": _spanned(_no_backticks(dollars)),
        "math_brackets_inline": _spanned(_bracket_inline),
        "math_boxed": _spanned(_bare_boxed),
    }


def escaped(src: str, pos: int) -> bool:
    """Whether the character at pos follows an odd number of backslashes."""
    count = 0
    while pos - count - 1 >= 0 and src[pos - count - 1] == "\\":
        count += 1
    return count % 2 == 1


# -- inline rules ------------------------------------------------------------------------------


def _spanned(rule: InlineRule, longest: int = MAX_SPAN) -> InlineRule:
    """The rule, refusing matches longer than ``longest``, and noting each one's span."""

    def spanned(state: StateInline, silent: bool) -> bool:
        start = state.pos
        if not rule(state, True):
            return False
        end = state.pos
        if end - start > longest:
            state.pos = start
            return False
        if not silent:
            state.pos, count = start, len(state.tokens)
            rule(state, False)
            if len(state.tokens) > count:  # (a lone run of backticks only adds text)
                state.tokens[-1].meta = {"span": (start, end)}
        return True

    return spanned


def _no_backticks(rule: InlineRule) -> InlineRule:
    """Dollars around a backtick are not math (`$5, or `$HOME`` holds a price, then code)."""

    def checked(state: StateInline, silent: bool) -> bool:
        start = state.pos
        if not rule(state, True):
            return False
        if "`" in state.src[start : state.pos]:
            state.pos = start
            return False
        if not silent:
            state.pos = start
            rule(state, False)
        return True

    return checked


def _bracket_inline(state: StateInline, silent: bool) -> bool:
    r"""`\(…\)` inline, `\[…\]` as display math inside a line (not a blank line inside)."""
    src, pos = state.src, state.pos
    kind = src[pos + 1 : pos + 2]
    if src[pos] != "\\" or kind not in ("(", "[") or escaped(src, pos):
        return False
    end = _closer(src, pos + 2, "\\)" if kind == "(" else "\\]", state.posMax)
    if end is None:
        return False
    content = src[pos + 2 : end]
    if not content.strip() or _BLANK_LINE.search(content):
        return False
    if not silent:
        token = state.push("math_inline" if kind == "(" else "math_inline_double", "math", 0)
        token.content = content
        token.markup = src[pos : pos + 2]
    state.pos = end + 2
    return True


def _bare_boxed(state: StateInline, silent: bool) -> bool:
    r"""A `\boxed{…}` written without delimiters: the answer R1 was asked for, shown as math."""
    src, pos = state.src, state.pos
    match = _BOXED.match(src, pos, state.posMax)
    if match is None or escaped(src, pos):
        return False
    end = closing_brace(src, match.end(), state.posMax)
    if end is None or _BLANK_LINE.search(src, pos, end):
        return False
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content = src[pos : end + 1]
        token.markup = ""
    state.pos = end + 1
    return True


def _literal_bracket(state: StateInline, silent: bool) -> bool:
    r"""A `\(`, `\)`, `\[` or `\]` that opens or closes no formula (yet) shows as written, not
    as Markdown's escaped bracket: a formula still streaming shows its source."""
    src, pos = state.src, state.pos
    if src[pos] != "\\" or src[pos + 1 : pos + 2] not in ("(", ")", "[", "]"):
        return False
    if escaped(src, pos):
        return False
    if not silent:
        state.pending += src[pos : pos + 2]
    state.pos += 2
    return True


def _closer(src: str, start: int, closer: str, stop: int) -> int | None:
    """Where the first unescaped ``closer`` at or after start begins (before stop), or None."""
    found = src.find(closer, start, stop)
    while found != -1 and escaped(src, found):
        found = src.find(closer, found + 1, stop)
    return None if found == -1 else found


# -- block rules -------------------------------------------------------------------------------


def _quiet(rule: BlockRule) -> BlockRule:
    """A block rule that pushes its token even when asked only whether it matches (dollarmath's
    does), made to leave no trace then, so it may end a paragraph."""

    def quiet(state: StateBlock, start: int, end: int, silent: bool) -> bool:
        if not silent:
            return rule(state, start, end, False)
        count, line = len(state.tokens), state.line
        found = rule(state, start, end, False)
        del state.tokens[count:]
        state.line = line
        return found

    return quiet


def _bracket_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    r"""`\[` at the start of a line, through a line that ends with `\]`."""
    return _display_block(state, start, end, silent, "\\[", lambda _first: "\\]")


def _environment_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    r"""A display environment (`\begin{aligned}`…) at the start of a line, through the line
    that ends it."""

    def closing(first: str) -> str | None:
        found = _ENV_OPEN.match(first)
        return None if found is None else f"\\end{{{found.group(1)}{found.group(2)}}}"

    return _display_block(state, start, end, silent, "\\begin{", closing, keep=True)


def _display_block(
    state: StateBlock,
    start: int,
    end: int,
    silent: bool,
    opener: str,
    closing: Callable[[str], str | None],
    *,
    keep: bool = False,
) -> bool:
    """Display math from an opener at a line's start to a closer at a line's end, no blank line
    between; ``keep``: the opener and closer are part of the formula (environments)."""
    if state.is_code_block(start):
        return False
    begin = state.bMarks[start] + state.tShift[start]
    first = state.src[begin : state.eMarks[start]]
    closer = closing(first) if first.startswith(opener) else None
    if closer is None:
        return False
    line, after = start, len(opener)
    while line < end:
        text = state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]].rstrip()
        if line > start and not text:
            return False  # a blank line: no display math
        skip = after if line == start else 0
        at = len(text) - len(closer)
        if text.endswith(closer) and at >= skip and not escaped(text, at):
            break
        line += 1
    else:
        return False
    if silent:
        return True
    body = state.getLines(start, line + 1, state.sCount[start], False).rstrip()
    state.line = line + 1
    token = state.push("math_environment" if keep else "math_block", "math", 0)
    token.block = True
    token.content = body if keep else body.strip()[len(opener) : -len(closer)]
    token.markup = opener
    token.map = [start, state.line]
    return True


# -- Markdown export ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _export_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False})
    md.enable(["table", "strikethrough"])
    md.core.ruler.enableOnly(["normalize", "block"])
    return add_math(md, inline=False)


@lru_cache(maxsize=1)
def inline_parser() -> MarkdownIt:
    """Only code spans and inline math, with nothing changed in between: where formulas lie in
    a run of text (offsets exact: line breaks are not normalised)."""
    md = MarkdownIt("zero")
    md.core.ruler.disable("normalize")
    md.inline.ruler.at("backticks", _spanned(backtick, MAX_CODE))
    md.enable("backticks")
    for name, rule in inline_rules().items():
        md.inline.ruler.before("backticks", name, rule)
    return md


def inline_formulas(text: str) -> list[tuple[int, int, Formula]]:
    """(start, end, formula) of the inline formulas in a run of text, code spans left out."""
    tokens = inline_parser().parseInline("\n" + text)  # a line break before: nothing escapes
    found = []
    for token in tokens[0].children or []:
        formula = formula_of(token)
        if formula is not None and token.meta.get("span"):
            start, end = token.meta["span"]
            found.append((start - 1, end - 1, formula))
    return found


def github_math(markdown: str) -> str:
    r"""The Markdown with its math as GitHub renders it: `\(…\)` as `$…$`, `\[…\]` and bare
    environments as `$$…$$`; code and dollar math stay exactly as written."""
    if "\\" not in markdown:
        return markdown  # no brackets, no environments, no \boxed: nothing to rewrite
    text = markdown.replace("\r\n", "\n")
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    edits: list[tuple[int, int, str]] = []
    seen: set[int] = set()  # the cells of a table row share its lines
    for token in _export_parser().parse(text):
        if token.map is None or token.map[0] in seen:
            continue
        begin, stop = starts[token.map[0]], min(starts[token.map[1]], len(text))
        if token.type in ("math_block", "math_environment") and token.markup != "$$":
            first = lines[token.map[0]]
            indent = first[: len(first) - len(first.lstrip())]
            body = "\n".join(indent + row.strip() for row in token.content.strip().split("\n"))
            edits.append((begin, stop, f"{indent}$$\n{body}\n{indent}$$\n"))
        elif token.type == "inline":
            seen.add(token.map[0])
            for start, end, formula in inline_formulas(text[begin:stop]):
                edits.append((begin + start, begin + end, delimited(formula)))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text
