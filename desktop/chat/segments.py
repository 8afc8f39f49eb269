"""Cuts a Markdown answer, whole or as it streams, into pieces that each render in bounded time.

Some Markdown costs Qt far more than its length (a table's cells, quotes inside quotes, one
enormous line), and a streamed answer re-renders its last, still growing block on every
update. So the answer is cut at top-level block boundaries into parts whose cost
(``scan_blocks`` in markdown.py) stays under PART_COST; a block too costly for one part is
shown another way until it ends:

* a long list is cut between its items (each part a list of its own);
* a long fenced code block becomes a header, then chunks of highlighted lines;
* anything else (a huge paragraph, one endless line, an enormous table) shows its plain text,
  a block per line; a huge display formula, its source in monospace, saying why it isn't drawn.

Decisions depend only on the text, never on how it arrived, so a streamed answer ends up as
the same answer rendered at once. Qt-free: the answer view turns the pieces into a document.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from markdown_it.common.utils import unescapeAll

from desktop.chat.markdown import CELL_COST, BlockScan, formula_cost, scan_blocks
from desktop.chat.nesting import NestingFlattener

PART_COST = 8_000  # about 10-40 ms of work for markdown-it and Qt on a 2-core laptop
PLAIN_CHUNK = 16_000  # characters of plain text shown per piece
CODE_CHUNK = 2_000  # characters of a long code block highlighted per piece
LOOKAHEAD = PLAIN_CHUNK + 1  # text flattened ahead of what is cut, to decide the next piece


@dataclass(frozen=True)
class Markdown:
    """Render as Markdown."""

    text: str


@dataclass(frozen=True)
class Plain:
    """Show as it is, a block per line; ``first`` starts a stretch of its own; ``note``: the
    tooltip that says why it is shown so."""

    text: str
    code: bool = False
    first: bool = False
    note: str = ""


@dataclass(frozen=True)
class CodeOpen:
    """A code block too long for one box begins: its header."""

    lang: str


@dataclass(frozen=True)
class Code:
    """Lines of the long code block, highlighted together."""

    text: str


@dataclass(frozen=True)
class CodeClose:
    """The long code block ended: its text is complete."""


Piece = Markdown | Plain | CodeOpen | Code | CodeClose

_NON_SPACE = re.compile(r"[^ \t\n]")
_FENCE_OPEN = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
_LIST_ITEM = re.compile(r" {0,3}(?:[-+*]|\d{1,9}[.)])( *)")
_MATH_BLOCKS = ("math_block", "math_block_label", "math_environment")
_DISPLAY_OPENER = re.compile(r" {0,3}(?:\$\$|\\\[|\\begin\{)")  # its closer may lie far on
TOO_LONG_FORMULA = "Not rendered: the formula is too long to draw"


class Segmenter:
    """Feed the answer's text, then take pieces until there are none for now.

    ``next_piece`` does a bounded amount of work and returns None when it needs more text
    (or the answer is done); ``tail`` is the text not cut yet, to show for now. With ``math``,
    display math is a block of its own (never cut inside).
    """

    def __init__(self, math: bool = False) -> None:
        self._math = math
        self._flattener = NestingFlattener()
        self._raw: deque[str] = deque()  # text fed and not flattened yet, in order
        self._raw_at = 0  # how much of the first of them is flattened
        self._finishing = False  # no more text comes
        self._buf = ""  # flattened text
        self._pos = 0  # what comes before is cut into pieces
        self._final = False  # all the text is flattened into the buffer
        self._mode = "normal"  # or "plain", "fence"
        self._mid_line = False  # plain or fence: the piece before ended inside a line
        self._first = False  # plain: the next piece starts the stretch
        self._code = False  # plain: monospace
        self._note = ""  # plain: why it is shown so
        self._dedent: int | None = None  # plain: ends at a line indented less than this
        self._lines = 0  # plain: lines shown so far
        self._held = ""  # plain: blank lines that show only if the stretch goes on
        self._fence = ("`", 3, 0)  # fence: character, length, indentation
        self._tail_cost = 0

    @property
    def math(self) -> bool:
        """Math is recognised (display math is a block of its own)."""
        return self._math

    @property
    def final(self) -> bool:
        """No more text comes (``finish`` was called)."""
        return self._finishing

    @property
    def done(self) -> bool:
        """The answer is complete and every piece of it has been taken."""
        return self._final and self._pos == len(self._buf) and self._mode == "normal"

    def feed(self, text: str) -> None:
        """Take more of the answer; the work on it is done piece by piece, later."""
        if text:
            self._raw.append(text)

    def finish(self) -> None:
        """No more text comes: the last line is complete."""
        self._finishing = True
        self._flatten(0)

    def next_piece(self) -> Piece | None:
        lookahead = LOOKAHEAD
        while True:
            self._flatten(self._pos + lookahead - len(self._buf))
            before = (self._pos, self._mode)
            if self._mode == "normal":
                piece = self._next_markdown()
            elif self._mode == "plain":
                piece = self._next_plain()
            else:
                piece = self._next_code()
            if piece is not None:
                return piece
            if (self._pos, self._mode) == before:
                if not self._raw:
                    return None
                lookahead *= 2  # what is flattened so far cannot decide: flatten more

    def _flatten(self, wanted: int) -> None:
        """Flatten at least ``wanted`` more characters of what was fed (all of it once the
        answer is complete and nothing is left to want)."""
        if self._pos > 65_536 and self._pos * 2 > len(self._buf):
            self._buf, self._pos = self._buf[self._pos :], 0
        out: list[str] = []
        while self._raw and wanted > 0:
            first = self._raw[0]
            piece = first[self._raw_at : self._raw_at + wanted]
            self._raw_at += len(piece)
            wanted -= len(piece)
            if self._raw_at == len(first):
                self._raw.popleft()
                self._raw_at = 0
            out.append(self._flattener.feed(piece))
        self._buf += "".join(out)
        if self._finishing and not self._raw and not self._final:
            self._buf += self._flattener.finish()
            self._final = True

    def tail(self) -> Markdown | Plain | Code | None:
        """What is not cut into pieces yet, to show until it is."""
        rest = self._buf[self._pos :]
        if self._mode == "fence":
            code = self._code_lines(self._pos, whole=True)[0]
            return Code(code) if code else None
        if self._mode != "normal" or not rest.strip():
            return None
        partial = rest[rest.rfind("\n") + 1 :]
        cost = self._tail_cost + len(partial) + CELL_COST * partial.count("|")
        return Markdown(rest) if cost <= 2 * PART_COST else Plain(rest, first=True)

    # -- Markdown ------------------------------------------------------------------------

    def _next_markdown(self) -> Piece | None:
        """A part of whole top-level blocks, or the start of another way to show one."""
        buf, pos = self._buf, self._pos
        full = len(buf) - pos > PART_COST
        if self._final and not full:
            window = buf[pos:]
        else:
            window = buf[pos : buf.rfind("\n", pos, pos + PART_COST) + 1 or pos]
        scan = scan_blocks(window, self._math)
        self._tail_cost = scan.cost
        if not scan.blocks:
            if window:  # blank lines
                self._pos += len(window)
                return None
            return self._start_plain(buf[pos : pos + 16]) if full else None
        whole = self._final and not full
        if whole and scan.cost <= PART_COST:
            return self._take(window)
        cuts = [b.offset for b in scan.blocks if b.offset > 0 and b.cost <= PART_COST]
        if cuts:
            return self._take(window[: cuts[-1]])
        first_cost = scan.blocks[1].cost if len(scan.blocks) > 1 else scan.cost
        if first_cost > PART_COST or full or whole:
            return self._oversized(window, scan)
        return None

    def _take(self, text: str) -> Markdown:
        self._pos += len(text)
        return Markdown(text)

    def _oversized(self, window: str, scan: BlockScan) -> Piece | None:
        """The first block is too costly for one part: show it another way."""
        kind = scan.blocks[0].kind
        if kind in ("bullet_list", "ordered_list"):
            items = [item.offset for item in scan.items if item.cost <= PART_COST]
            if items:
                return self._take(window[: items[-1]])
            return self._start_plain(window)
        if kind == "fence":
            return self._start_code(window)
        if kind in _MATH_BLOCKS or (self._math and _DISPLAY_OPENER.match(window)):
            return self._start_plain(window, note=TOO_LONG_FORMULA)
        return self._start_plain(window)

    # -- plain text ----------------------------------------------------------------------

    def _start_plain(self, start: str, note: str = "") -> Plain | None:
        """Show the block that begins ``start`` as plain text: until a blank line, or for a
        list item or indented code, until a line indented less; with a note, in monospace."""
        indented, dedent = start.startswith("    "), None
        marker = _LIST_ITEM.match(start)
        if indented:
            dedent = 4
        elif marker is not None and not note:
            dedent = marker.end() if 0 < len(marker.group(1)) <= 4 else len(marker.group()) + 1
        self._mode, self._code, self._dedent = "plain", indented or bool(note), dedent
        self._note = note
        self._first, self._mid_line, self._lines, self._held = True, False, 0, ""
        return self._next_plain()

    def _next_plain(self) -> Plain | None:
        """The next lines of the stretch of plain text, which ends at a blank line (or, for a
        list item or indented code, at a line indented less)."""
        buf, at, size = self._buf, self._pos, 0
        out: list[str] = []
        while at < len(buf) and size < PLAIN_CHUNK:
            end = buf.find("\n", at) + 1 or len(buf)
            complete = buf[end - 1] == "\n" or self._final
            if not self._mid_line:
                text = _NON_SPACE.search(buf, at, end)
                if text is None and not complete:
                    break  # only spaces so far: perhaps a blank line
                if text is None and self._dedent is None:
                    at = self._end_plain(end)
                    break
                if text is None:
                    self._held += buf[at:end]
                    at = end
                    continue
                if self._dedent is not None and self._lines and text.start() - at < self._dedent:
                    at = self._end_plain(at)
                    break
                out.append(self._held)
                size, self._held = size + len(self._held), ""
            take = min(end, at + PLAIN_CHUNK - size)
            out.append(buf[at:take])
            size += take - at
            self._mid_line = take < end or not complete
            self._lines += not self._mid_line
            at = take
        if at == len(buf) and self._final and self._mode == "plain":
            self._end_plain(at)
        self._pos = at
        if not size:
            return None
        piece = Plain("".join(out), self._code, self._first, self._note)
        self._first = False
        return piece

    def _end_plain(self, at: int) -> int:
        self._mode, self._held = "normal", ""
        return at

    # -- long code -----------------------------------------------------------------------

    def _start_code(self, window: str) -> CodeOpen:
        opener = window[: window.find("\n") + 1 or len(window)]
        found = _FENCE_OPEN.match(opener)
        assert found is not None  # markdown-it said this block is a fence
        info = unescapeAll(found.group(3)).strip()
        self._fence = (found.group(2)[0], len(found.group(2)), len(found.group(1)))
        self._mode, self._mid_line = "fence", False
        self._pos += len(opener)
        return CodeOpen(info.split(maxsplit=1)[0] if info else "")

    def _next_code(self) -> Code | CodeClose | None:
        code, at, closed, mid_line, full = self._code_lines(self._pos, whole=False)
        end = len(self._buf)
        if code and (full or closed or (self._final and at == end)):
            self._pos, self._mid_line = at, mid_line
            return Code(code)
        if closed:
            self._pos, self._mode = self._buf.find("\n", at) + 1 or end, "normal"
            return CodeClose()
        if self._final and at == end:
            self._pos, self._mode = at, "normal"
            return CodeClose()
        return None

    def _code_lines(self, at: int, *, whole: bool) -> tuple[str, int, bool, bool, bool]:
        """The code lines from ``at`` that make a chunk (all of them, for the tail): the text,
        where it stopped, whether at the closing fence, whether inside a line, and whether the
        chunk is full. A chunk ends before the line that does not fit in CODE_CHUNK; a line
        longer than that alone is cut."""
        buf, size, mid_line = self._buf, 0, self._mid_line
        out: list[str] = []
        while at < len(buf):
            end = buf.find("\n", at) + 1 or len(buf)
            complete = buf[end - 1] == "\n" or self._final
            start = at
            if not mid_line:
                closing = self._closing(buf[at:end], complete)
                if closing is None:
                    break  # could still become the closing fence
                if closing:
                    return "".join(out), at, True, False, False
                start += _indent_to_strip(buf, at, self._fence[2])
            if not whole and size + end - start > CODE_CHUNK:
                if size:
                    return "".join(out), at, False, mid_line, True
                end = start + CODE_CHUNK  # a line longer than a chunk
            elif not (whole or complete):
                break  # a line still being written, and it fits so far
            out.append(buf[start:end])
            size += end - start
            mid_line, at = buf[end - 1] != "\n", end
        return "".join(out), at, False, mid_line, not whole and size >= CODE_CHUNK

    def _closing(self, line: str, complete: bool) -> bool | None:
        """Whether ``line`` closes the fence; None while it cannot tell yet."""
        char, length, _ = self._fence
        body = line.rstrip("\n").lstrip(" ")
        if len(line.rstrip("\n")) - len(body) > 3:
            return False
        run = len(body) - len(body.lstrip(char))
        if body[run:].strip(" \t"):
            return False  # not only fence characters
        if not complete:
            return None
        return run >= length


def _indent_to_strip(buf: str, at: int, indent: int) -> int:
    """How many spaces of a code line's indentation go with the fence's own indentation."""
    count = 0
    while count < indent and at + count < len(buf) and buf[at + count] == " ":
        count += 1
    return count


def piece_cost(piece: Piece, math: bool) -> int:
    """About what showing a piece costs, in the units of PART_COST."""
    if isinstance(piece, Plain):
        return len(piece.text) // 2
    if isinstance(piece, Markdown):
        return len(piece.text) + (formula_cost(piece.text) if math else 0)
    if isinstance(piece, Code):
        return 3 * len(piece.text)
    return 100
