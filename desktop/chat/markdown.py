"""Markdown → Qt rich-text HTML for model answers, which are untrusted text.

The output targets QTextDocument's HTML subset: inline styles only, tables for boxes.
Raw HTML in the answer is escaped, only http/https/mailto links survive, images never
become ``<img>`` (nothing is fetched or read), and fenced code is highlighted by Pygments.

``render_markdown`` is the one place where Markdown text becomes HTML. ``scan_blocks`` says
where a text's blocks start and what rendering each costs, so a long answer can be cut into
parts that each render quickly (desktop/chat/segments.py); code too long for one box is
shown as a header and chunks of highlighted lines (``render_code_header``/``render_code_lines``).
Colours come from the active theme (desktop/common/colours.py): a theme switch renders again.

With formulas to draw them (desktop/chat/formulas.py), math is recognised as well
(model_runtime/chat/math.py): each formula becomes what the formulas give for it, an image
object or its source; without, the text renders as plain Markdown, LaTeX and all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml, unescapeAll
from markdown_it.token import Token
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

from desktop.common.colours import Colours, current
from model_runtime.chat.math import BLOCK_TYPES, INLINE_TYPES, Formula, add_math, formula_of

COPY_SCHEME = "ponder-copy"
"""Scheme of the "Copy" links above code blocks: ``ponder-copy:N`` copies ``code_blocks[N]``."""

SAFE_LINK_SCHEMES = ("http", "https", "mailto")
_IMAGE_LINK_SCHEMES = ("http", "https")
_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)


@dataclass(frozen=True)
class _Look:
    """The HTML of boxes, quotes and tables in one theme's colours (desktop/common/colours.py)."""

    code_box: str
    blockquote_open: str
    table_open: str
    inline_code: str
    long_code_header: str
    long_code_lines: str
    header_background: str
    pygments: str


@lru_cache(maxsize=4)
def _look(c: Colours) -> _Look:
    border = f"1px solid {c.code_border}"
    copy_link = (
        f'<a href="{COPY_SCHEME}:{{index}}" style="color: {c.link}; text-decoration: none;'
        ' font-size: small;">Copy</a>'
    )
    lang = f'<span style="color: {c.code_muted}; font-size: small;">{{lang}}</span>'
    return _Look(
        # Cell borders rather than a table border, so the header row has no divider.
        code_box=(
            '<table width="100%" cellspacing="0" cellpadding="0" border="0"'
            ' style="border-collapse: collapse; margin-top: 4px; margin-bottom: 12px;"'
            f' bgcolor="{c.code_bg}"><tr>'
            f'<td bgcolor="{c.code_header}"'
            f' style="padding: 3px 10px; border-top: {border}; border-left: {border};">'
            f"{lang}</td>"
            f'<td bgcolor="{c.code_header}" align="right"'
            f' style="padding: 3px 10px; border-top: {border}; border-right: {border};">'
            f"{copy_link}</td></tr>"
            f'<tr><td colspan="2" style="padding: 8px 10px; border: {border};">'
            '<pre style="margin: 0;">{code}</pre></td></tr></table>\n'
        ),
        blockquote_open=(
            '<table width="100%" cellspacing="0" cellpadding="0" border="0"'
            ' style="border-collapse: collapse; margin-top: 4px; margin-bottom: 12px;"><tr>'
            f'<td style="padding: 0px 12px; border-left: 3px solid {c.code_border};'
            f' color: {c.code_muted};">\n'
        ),
        table_open=(
            '<table border="1" cellspacing="0" cellpadding="5"'
            f' style="border-color: {c.code_border}; border-style: solid;'
            ' border-collapse: collapse; margin-top: 4px; margin-bottom: 12px;">\n'
        ),
        inline_code=f'<code style="background-color: {c.code_bg};">{{code}}</code>',
        long_code_header=(
            '<p style="margin-top: 4px; margin-bottom: 0px;'
            f' background-color: {c.code_header};">{lang}&nbsp;&nbsp;{copy_link}</p>\n'
        ),
        long_code_lines=(
            '<pre style="margin-top: 0px; margin-bottom: 0px;'
            f' background-color: {c.code_bg};">{{code}}</pre>'
        ),
        header_background=c.code_header,
        pygments=c.pygments,
    )


_BLOCKQUOTE_CLOSE = "</td></tr></table>\n"

INLINE_LIMIT = 5_000
"""A paragraph (or heading, or table cell) longer than this shows its text without inline
markup: Markdown's inline rules cost more than linear time on some inputs (``[[[[…``)."""

# What rendering costs, in characters of plain prose (about a microsecond each here): every box
# (a table in the document: a quote, a code box, a table) and every table cell costs far more
# than its text. Highlighted code costs about three times prose, but counts as prose: a code
# box up to a whole part (about 200 lines) must look as it always did, and takes ~40 ms.
FRAME_COST = 250
CELL_COST = 60
FORMULA_COST = 150  # a formula: its image object, measured and laid out (about 0.4 ms)
_FORMULA_MARK = re.compile(r"\$\$?|\\[(\[]|\\begin\{|\\boxed")


def formula_cost(text: str) -> int:
    """About what the formulas of text cost to show (a count of their opening marks)."""
    if "$" not in text and "\\" not in text:
        return 0
    marks = _FORMULA_MARK.findall(text)
    dollars = sum(mark[0] == "$" for mark in marks)
    return FORMULA_COST * (len(marks) - dollars + dollars // 2)


@dataclass
class RenderedMarkdown:
    """HTML for QTextDocument plus the raw text of each code block and each formula, in order."""

    html: str
    code_blocks: list[str] = field(default_factory=list)
    formulas: list[Formula] = field(default_factory=list)


class FormulaHtml(Protocol):
    def html(self, formula: Formula, *, block: bool) -> str: ...


def render_markdown(
    text: str, code_index_start: int = 0, formulas: FormulaHtml | None = None
) -> RenderedMarkdown:
    """Render untrusted Markdown to safe Qt rich-text HTML.

    ``code_index_start`` numbers the copy links of this fragment after earlier
    fragments of the same answer (``ponder-copy:N`` with N counted from it).
    ``formulas``: math is recognised and shown as they say; None: math is plain text.
    """
    env: dict[str, Any] = {
        "code_blocks": [],
        "code_index_start": code_index_start,
        "formulas": formulas,
        "found": [],
    }
    html = _markdown(formulas is not None).render(text, env).rstrip("\n")
    return RenderedMarkdown(html=html, code_blocks=env["code_blocks"], formulas=env["found"])


def render_code_header(lang: str, index: int) -> str:
    """The line above code too long for one box: its language and its "Copy" link."""
    return _look(current()).long_code_header.format(lang=escapeHtml(lang or "text"), index=index)


def render_code_lines(code: str, lang: str) -> str:
    """Some lines of code too long for one box, highlighted, as one ``<pre>``."""
    look = _look(current())
    body = highlight(code, _lexer(lang), _formatter(look.pygments)) if code else ""
    return look.long_code_lines.format(code=body.removesuffix("\n"))


@dataclass(frozen=True)
class BlockStart:
    """Where a top-level block (or a list item) starts, and what rendering the text before costs."""

    offset: int
    kind: str  # markdown-it's token type without "_open": paragraph, fence, bullet_list, ...
    cost: int


@dataclass(frozen=True)
class BlockScan:
    """The top-level blocks of a text, and the items after the first of a list that starts it."""

    blocks: list[BlockStart]
    items: list[BlockStart]
    cost: int  # of the whole text


def scan_blocks(text: str, math: bool = False) -> BlockScan:
    """Find the top-level blocks of ``text`` (whose line breaks are ``\\n``), with their costs.

    A top-level block start on a complete line is a clean cut: rendering the text before it
    and the text from it separately gives the whole render (bar later reference definitions).
    Only the block structure is parsed, so this is much cheaper than rendering.
    """
    starts = [0]
    found = text.find("\n")
    while found != -1:
        starts.append(found + 1)
        found = text.find("\n", found + 1)
    extra = 0
    blocks: list[BlockStart] = []
    items: list[BlockStart] = []
    for token in _block_parser(math).parse(text):
        if token.map is not None and token.nesting != -1:
            offset = starts[token.map[0]]
            if token.level == 0:
                blocks.append(BlockStart(offset, token.type.removesuffix("_open"), offset + extra))
            elif _is_later_item(token, blocks, offset):
                items.append(BlockStart(offset, "item", offset + extra))
        extra += _extra_cost(token)
        if math and token.map is not None and token.nesting != -1 and token.level == 0:
            end = starts[token.map[1]] if token.map[1] < len(starts) else len(text)
            extra += formula_cost(text[offset:end])
    return BlockScan(blocks, items, len(text) + extra)


def _is_later_item(token: Token, blocks: list[BlockStart], offset: int) -> bool:
    """An item of the list that is the first block, after its first item."""
    return (
        token.type == "list_item_open"
        and token.level == 1
        and len(blocks) == 1
        and offset > blocks[0].offset
    )


def _extra_cost(token: Token) -> int:
    if token.type in ("blockquote_open", "table_open"):
        return FRAME_COST
    if token.type in ("fence", "code_block"):
        return FRAME_COST
    if token.type in ("th_open", "td_open"):
        return CELL_COST
    return 0


def split_stable(text: str) -> int:
    """Offset up to which ``text`` is stable Markdown: more text appended later cannot
    change how ``text[:offset]`` renders (bar reference definitions that come later).

    The offset is the start of the last top-level block that follows a blank line,
    counting only complete lines; an unclosed fence or a list still growing is one
    block, so the cut is never inside them. 0 means nothing is stable yet.
    """
    starts = [0] + [m.end() for m in _LINE_BREAK_RE.finditer(text)]
    # The last line is still being written unless the text ends with a line break.
    complete = starts[-1]
    if complete == 0:
        return 0
    tokens = _block_parser().parse(text[:complete])
    best = 0
    for token in tokens:
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        line = token.map[0]
        if line > 0 and _is_blank(text, starts[line - 1], starts[line]):
            best = max(best, starts[line])
    return best


# A lone CR at the very end may still become CRLF, so it does not end a line yet.
_LINE_BREAK_RE = re.compile(r"\r\n|\n|\r(?!$)")


def _is_blank(text: str, start: int, end: int) -> bool:
    return not text[start:end].strip(" \t\r\n")


def _safe_href(url: str, schemes: Sequence[str]) -> str | None:
    match = _SCHEME_RE.match(url.strip())
    if match is None or match.group(1).lower() not in schemes:
        return None
    return url.strip()


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    href = _safe_href(str(tokens[idx].attrGet("href") or ""), SAFE_LINK_SCHEMES)
    env.setdefault("link_stack", []).append(href is not None)
    if href is None:
        return ""
    return f'<a href="{escapeHtml(href)}">'


def _link_close(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    stack = env.get("link_stack") or [False]
    return "</a>" if stack.pop() else ""


def _image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    label = escapeHtml(f"🖼 {alt}".rstrip())
    href = _safe_href(str(token.attrGet("src") or ""), _IMAGE_LINK_SCHEMES)
    inside_link = any(env.get("link_stack", []))
    if href is None or inside_link:
        return label
    return f'<a href="{escapeHtml(href)}">{label}</a>'


def _fence(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    info = unescapeAll(token.info).strip() if token.info else ""
    lang = info.split(maxsplit=1)[0] if info else ""
    return _code_box(token.content, lang, env)


def _code_block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _code_box(tokens[idx].content, "", env)


def _code_box(content: str, lang: str, env: Any) -> str:
    # The copied text is what is shown, without the final newline, so a pasted
    # shell command does not run by itself.
    code = content[:-1] if content.endswith("\n") else content
    index = env["code_index_start"] + len(env["code_blocks"])
    env["code_blocks"].append(code)
    look = _look(current())
    body = highlight(code, _lexer(lang), _formatter(look.pygments)) if code else ""
    return look.code_box.format(
        lang=escapeHtml(lang or "text"), index=index, code=body.removesuffix("\n")
    )


def _code_inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _look(current()).inline_code.format(code=escapeHtml(tokens[idx].content))


def _table_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _look(current()).table_open


def _blockquote_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _look(current()).blockquote_open


def _blockquote_close(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _BLOCKQUOTE_CLOSE


def _math(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    formula = formula_of(token)
    assert formula is not None
    env["found"].append(formula)
    return str(env["formulas"].html(formula, block=token.block))


def _th_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("bgcolor", _look(current()).header_background)
    return str(self.renderToken(tokens, idx, options, env))


@lru_cache(maxsize=64)
def _lexer(lang: str) -> Lexer:
    if lang:
        try:
            return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
        except ClassNotFound:
            pass
    return TextLexer(stripnl=False, ensurenl=False)


@lru_cache(maxsize=4)
def _formatter(style: str) -> HtmlFormatter:
    return HtmlFormatter(noclasses=True, nowrap=True, style=style)


def _long_inline_as_text(state: Any) -> None:
    """Show an over-long inline run as its plain text (the "text" rule escapes it)."""
    for token in state.tokens:
        if token.type == "inline" and len(token.content) > INLINE_LIMIT:
            token.type = "text"


def _base_parser(math: bool = False) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Parse every destination; the render rules decide what may become a link.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return add_math(md) if math else md


@lru_cache(maxsize=2)
def _markdown(math: bool = False) -> MarkdownIt:
    md = _base_parser(math)
    for name, rule in {
        "link_open": _link_open,
        "link_close": _link_close,
        "image": _image,
        "fence": _fence,
        "code_block": _code_block,
        "code_inline": _code_inline,
        "table_open": _table_open,
        "th_open": _th_open,
        "blockquote_open": _blockquote_open,
        "blockquote_close": _blockquote_close,
    }.items():
        md.add_render_rule(name, rule)
    for name in (*INLINE_TYPES, *BLOCK_TYPES):
        md.add_render_rule(name, _math)
    md.core.ruler.before("inline", "long_inline_as_text", _long_inline_as_text)
    return md


@lru_cache(maxsize=2)
def _block_parser(math: bool = False) -> MarkdownIt:
    """Block structure only: split_stable needs line maps, not inline content."""
    md = _base_parser(math)
    md.core.ruler.enableOnly(["normalize", "block"])
    return md


HEADINGS_STYLE_SHEET = """
h1 { font-size: x-large; }
h2 { font-size: large; }
h3 { font-size: medium; }
h4, h5, h6 { font-size: medium; font-style: italic; }
"""


def document_style_sheet() -> str:
    """The answer document's CSS: links in the active theme's colour, modest headings."""
    return f"a {{ color: {current().link}; }}" + HEADINGS_STYLE_SHEET
