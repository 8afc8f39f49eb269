"""Plain text appended to a QTextDocument in blocks short enough to lay out quickly.

Qt lays out a block as a whole, again on every change to it, and a block without spaces costs
it quadratic time: one 100,000-character line took a quarter of a second, and a line that grows
as it streams is laid out again each time. So a line longer than LINE_LIMIT is shown as several
blocks, cut at a space near the limit where there is one. The cut depends only on the line, not
on how it arrived, so streamed text looks exactly like the same text written at once.
"""

from __future__ import annotations

from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument

LINE_LIMIT = 2_000
_SPACES = " \t"


class PlainWriter:
    """Writes at the end of ``document``: a block per line, long lines cut into several.

    ``own_block``: the text starts in a new block after what the document holds (else it goes
    on in the last block), ``gap`` above it. A line break is only put in once more text follows
    it, so a stretch of plain text never ends with an empty block.
    """

    def __init__(
        self,
        document: QTextDocument,
        block_format: QTextBlockFormat | None = None,
        char_format: QTextCharFormat | None = None,
        *,
        own_block: bool = True,
        gap: float = 0.0,
    ) -> None:
        self._document = document
        self._block_format = block_format or QTextBlockFormat()
        self._char_format = char_format or QTextCharFormat()
        self._breaks = 1 if own_block else 0  # blocks to start before the next text
        self._gap = gap if own_block else 0.0  # above the first block
        self.cuts = 0  # long lines cut so far (each adds a block break the text doesn't have)

    def write(self, text: str) -> None:
        cursor = QTextCursor(self._document)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        for index, line in enumerate(text.split("\n")):
            if index:
                self._breaks += 1
            if line:
                self._start_blocks(cursor)
                self._append(cursor, line)
        cursor.endEditBlock()

    def drop_pending_breaks(self) -> None:
        """Forget line breaks not put in yet (the text they ended was trimmed)."""
        self._breaks = 0

    @property
    def pending_breaks(self) -> int:
        """Line breaks written but not put in yet (they go in before the next text)."""
        return self._breaks

    def _start_blocks(self, cursor: QTextCursor) -> None:
        first = QTextBlockFormat(self._block_format)
        first.setTopMargin(self._gap)
        if self._breaks and self._document.isEmpty():
            cursor.setBlockFormat(first)
            cursor.setBlockCharFormat(self._char_format)
            self._breaks -= 1
        elif self._breaks:
            cursor.insertBlock(first, self._char_format)
            self._breaks -= 1
        for _ in range(self._breaks):
            cursor.insertBlock(self._block_format, self._char_format)
        self._breaks, self._gap = 0, 0.0

    def _append(self, cursor: QTextCursor, line: str) -> None:
        while line:
            room = max(0, LINE_LIMIT - (cursor.block().length() - 1))
            head, line = line[:room], line[room:]
            if head:
                cursor.insertText(head, self._char_format)
            if line:  # the block is full (when exactly full, it is cut once more text comes)
                self._cut_block(cursor)

    def _cut_block(self, cursor: QTextCursor) -> None:
        """The last block is full: go on in a new one, from the last space near its end."""
        block = cursor.block()
        text = block.text()
        cut = max(text.rfind(" ", LINE_LIMIT * 3 // 4), text.rfind("\t", LINE_LIMIT * 3 // 4))
        cursor.setPosition(block.position() + (cut + 1 if cut >= 0 else len(text)))
        cursor.insertBlock(self._block_format, self._char_format)
        self.cuts += 1
        cursor.movePosition(QTextCursor.MoveOperation.End)
