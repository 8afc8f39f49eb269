"""The document of one answer: it loads nothing by itself, and rendered parts are appended to it.

Parts of an answer are rendered separately (see desktop/chat/segments.py) and added at the end
of the document, so that a long answer is never rendered twice; the helpers here keep every
block's look as if the whole answer had been set at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from PySide6.QtCore import QObject, QRect, QRectF, QSizeF, QUrl
from PySide6.QtGui import (
    QPainter,
    QPyTextObject,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
    QTextList,
)


class ResourceLoader(Protocol):
    def loadResource(self, type: int, name: QUrl | str) -> Any: ...


class InertDocument(QTextDocument):
    """A document that never loads a resource by itself.

    QTextDocument.loadResource falls back to reading local files (and decoding
    data: URLs) when its view returns nothing; this asks the owning view, if
    any, and otherwise returns nothing at all.
    """

    def __init__(self, parent: QObject | None = None, view: ResourceLoader | None = None) -> None:
        super().__init__(parent)
        self._view = view

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        if self._view is not None:
            return self._view.loadResource(type, name)
        return None


class NoImages(QPyTextObject):
    """Stands in for Qt's image handler, which reads an image straight from disk
    by its file name when the document's resources have none. Draws nothing."""

    def intrinsicSize(self, doc: QTextDocument, pos: int, fmt: QTextFormat) -> QSizeF:
        return QSizeF(0, 0)

    def drawObject(
        self,
        painter: QPainter,
        rect: QRectF | QRect,
        doc: QTextDocument,
        pos: int,
        fmt: QTextFormat,
    ) -> None:
        pass


def insert_html(document: QTextDocument, cursor: QTextCursor, html: str) -> None:
    """Append ``html`` at the end of ``document`` as new blocks.

    Inserting a fragment drops the block format of its first block (Qt keeps it
    only at position 0), so elsewhere the fragment gets an empty first block
    that merges into the document's last one, and every real block keeps its
    own format.
    """
    if not html.strip():
        return
    scratch = InertDocument()
    scratch.setDefaultFont(document.defaultFont())
    scratch.setDefaultStyleSheet(document.defaultStyleSheet())
    scratch.setHtml(html)
    at = document.characterCount() - 1
    if at > 0 and not _starts_with_frame(scratch):
        lead = QTextCursor(scratch)
        first = scratch.begin()
        lead.insertBlock(first.blockFormat(), first.charFormat())
        lead.movePosition(QTextCursor.MoveOperation.Start)
        lead.setBlockFormat(QTextBlockFormat())
    cursor.setPosition(at)
    cursor.insertFragment(QTextDocumentFragment(scratch))


def plain_formats(code: bool) -> tuple[QTextBlockFormat, QTextCharFormat]:
    """The look of text shown as it is: like a paragraph, or like code, without margins."""
    block, char = _pre_formats() if code else (QTextBlockFormat(), QTextCharFormat())
    return QTextBlockFormat(block), QTextCharFormat(char)


@lru_cache(maxsize=1)
def _pre_formats() -> tuple[QTextBlockFormat, QTextCharFormat]:
    scratch = QTextDocument()
    scratch.setHtml("<pre>x</pre>")
    first = scratch.begin()
    block = first.blockFormat()
    block.setTopMargin(0)
    block.setBottomMargin(0)
    return block, QTextCursor(first).charFormat()


@dataclass(frozen=True)
class BlockLook:
    block_format: QTextBlockFormat
    char_format: QTextCharFormat
    in_list: bool

    @classmethod
    def of(cls, block: QTextBlock) -> BlockLook:
        return cls(block.blockFormat(), block.charFormat(), _in_list(block))


def _in_list(block: QTextBlock) -> bool:
    # A block's format points at a text object only when the block is in a list.
    return block.blockFormat().objectIndex() != -1


def restore_block_look(cursor: QTextCursor, look: BlockLook | None) -> None:
    """Give the last block back its look once what followed it is cut off.

    When that block is empty (the one after a table) the cut starts at a block
    start, and Qt then keeps the format of the removed part's last block instead.
    """
    block = cursor.block()
    if look is None or BlockLook.of(block) == look:
        return
    cursor.setBlockFormat(look.block_format)
    cursor.setBlockCharFormat(look.char_format)
    if not look.in_list and _in_list(block):
        text_list = block.document().objectForFormat(block.blockFormat())
        if isinstance(text_list, QTextList):
            text_list.remove(block)


def _starts_with_frame(document: QTextDocument) -> bool:
    """True when the first block is only the empty block Qt puts before a table."""
    first = document.begin()
    following = first.next()
    return (
        first.length() == 1
        and following.isValid()
        and QTextCursor(following).currentFrame() != document.rootFrame()
    )
