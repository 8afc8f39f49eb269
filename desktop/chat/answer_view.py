"""A read-only, auto-height rich-text view for one model answer, rendered from Markdown."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRect, QRectF, QSize, QSizeF, Qt, QUrl, Signal
from PySide6.QtGui import (
    QDesktopServices,
    QGuiApplication,
    QPainter,
    QPyTextObject,
    QResizeEvent,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
    QTextList,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QToolTip, QWidget

from desktop.chat.markdown import COPY_SCHEME, SAFE_LINK_SCHEMES, render_markdown, split_stable

DEFAULT_STYLE_SHEET = """
a { color: #0969da; }
h1 { font-size: x-large; }
h2 { font-size: large; }
h3 { font-size: medium; }
h4, h5, h6 { font-size: medium; font-style: italic; }
"""


class _InertDocument(QTextDocument):
    """A document that never loads a resource by itself.

    QTextDocument.loadResource falls back to reading local files (and decoding
    data: URLs) when its view returns nothing; this asks the owning view, if
    any, and otherwise returns nothing at all.
    """

    def __init__(self, parent: QObject | None = None, view: AnswerView | None = None) -> None:
        super().__init__(parent)
        self._view = view

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        if self._view is not None:
            return self._view.loadResource(type, name)
        return None


class _NoImages(QPyTextObject):
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


class AnswerView(QTextBrowser):
    """Shows one answer; grows to fit its text so many can stack in a scroll area.

    Links open only when clicked and only for http, https and mailto; the
    "Copy" link above a code block puts that block's text on the clipboard.
    """

    code_copied = Signal(int)
    link_activated = Signal(QUrl)

    def __init__(
        self,
        parent: QWidget | None = None,
        open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl,
    ) -> None:
        super().__init__(parent)
        self._open_url = open_url
        self._code_blocks: list[str] = []
        self._stream: _Stream | None = None
        self._height = 0

        document = _InertDocument(self, view=self)
        document.setUndoRedoEnabled(False)
        document.setDefaultStyleSheet(DEFAULT_STYLE_SHEET)
        document.setDocumentMargin(2)
        self.setDocument(document)
        self._no_images = _NoImages(self)
        document.documentLayout().registerHandler(
            QTextFormat.ObjectTypes.ImageObject, self._no_images
        )

        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextBrowserInteraction
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

        self.anchorClicked.connect(self._on_anchor_clicked)
        self.highlighted.connect(self._on_link_hovered)
        document.contentsChanged.connect(self._update_height)
        document.documentLayout().documentSizeChanged.connect(self._update_height)
        self._update_height()

    # -- content -------------------------------------------------------------------------

    @property
    def code_blocks(self) -> list[str]:
        """Raw text of the code blocks shown, indexed as their copy links are."""
        if self._stream is not None:
            return self._code_blocks + self._stream.tail_code_blocks
        return list(self._code_blocks)

    def set_markdown(self, text: str) -> None:
        """Render a whole answer at once (one setHtml)."""
        rendered = render_markdown(text)
        self._stream = None
        self._code_blocks = rendered.code_blocks
        self.setHtml(rendered.html)

    def finish_markdown(self, text: str) -> None:
        """End streaming with one full render of the complete answer."""
        self.set_markdown(text)

    def set_markdown_streaming(self, text: str) -> None:
        """Show a growing answer: ``text`` is the whole answer so far, extending the last one."""
        stream = self._stream
        if stream is None or len(text) < stream.stable_len + len(stream.tail_text):
            self._stream = None
            self.append_markdown_streaming(text)
        else:
            self.append_markdown_streaming(text[stream.stable_len + len(stream.tail_text) :])

    def append_markdown_streaming(self, delta: str) -> None:
        """Add streamed text: append what became stable, re-render only the tail.

        The work is proportional to the new text and the unstable tail, never to the whole
        answer, so a long answer streams without quadratic cost.
        """
        stream = self._stream
        if stream is None:
            stream = self._stream = _Stream()
            self._code_blocks = []
        text = stream.tail_text + delta  # the unstable tail and what just arrived
        document = self.document()
        if stream.tail_pos == 0:
            # All of it is tail: clearing also drops the first block's old format.
            document.clear()
        cursor = QTextCursor(document)
        cursor.beginEditBlock()
        if stream.tail_pos > 0:
            cursor.setPosition(stream.tail_pos)
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            _restore_block_look(cursor, stream.tail_block)
        newly_stable = split_stable(text)
        if newly_stable:
            chunk = text[:newly_stable]
            rendered = render_markdown(chunk, code_index_start=len(self._code_blocks))
            self._insert_html(cursor, rendered.html)
            self._code_blocks.extend(rendered.code_blocks)
            stream.stable_len += newly_stable
            text = text[newly_stable:]
            stream.tail_pos = document.characterCount() - 1
            stream.tail_block = _BlockLook.of(document.lastBlock())
        stream.tail_text = text
        tail = render_markdown(text, code_index_start=len(self._code_blocks))
        self._insert_html(cursor, tail.html)
        stream.tail_code_blocks = tail.code_blocks
        cursor.endEditBlock()

    def _insert_html(self, cursor: QTextCursor, html: str) -> None:
        """Append ``html`` at the end of the document as new blocks.

        Inserting a fragment drops the block format of its first block (Qt keeps it
        only at position 0), so elsewhere the fragment gets an empty first block
        that merges into the document's last one, and every real block keeps its
        own format.
        """
        if not html.strip():
            return
        document = self.document()
        scratch = _InertDocument()
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

    # -- resources and links -------------------------------------------------------------

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        """Load nothing: no images, no files, no network, whatever the HTML asks for."""
        return None

    def _on_anchor_clicked(self, url: QUrl) -> None:
        scheme = url.scheme().lower()
        if scheme == COPY_SCHEME:
            self._copy_code(url.path())
        elif scheme in SAFE_LINK_SCHEMES:
            self._open_url(url)
            self.link_activated.emit(url)

    def _copy_code(self, index_text: str) -> None:
        if not index_text.isdigit():
            return
        index = int(index_text)
        blocks = self.code_blocks
        if index >= len(blocks):
            return
        QGuiApplication.clipboard().setText(blocks[index])
        self.code_copied.emit(index)

    def _on_link_hovered(self, url: QUrl) -> None:
        """Show where a link really goes, since its text may say otherwise."""
        if url.isEmpty():
            tip = ""
        elif url.scheme().lower() == COPY_SCHEME:
            tip = self.tr("Copy code")
        else:
            tip = url.toString()
        self.setToolTip(tip)
        if not tip:
            QToolTip.hideText()

    # -- geometry ------------------------------------------------------------------------

    def _update_height(self, *_: object) -> None:
        margins = self.contentsMargins()
        doc_height = math.ceil(self.document().size().height())
        height = doc_height + margins.top() + margins.bottom() + 2 * self.frameWidth()
        if height != self._height:
            self._height = height
            self.setFixedHeight(height)
            self.updateGeometry()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_height()

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self._height)

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self._height)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Let the chat column scroll: this view never scrolls by itself."""
        event.ignore()


@dataclass
class _Stream:
    """Where a streamed answer stands: a stable part rendered once, then the tail."""

    stable_len: int = 0  # characters of the answer rendered as the stable part
    tail_text: str = ""  # the answer after the stable part, re-rendered on each update
    tail_pos: int = 0  # document position where the tail starts; 0: all of it is tail
    tail_block: _BlockLook | None = None  # the look of the last stable block
    tail_code_blocks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _BlockLook:
    block_format: QTextBlockFormat
    char_format: QTextCharFormat
    in_list: bool

    @classmethod
    def of(cls, block: QTextBlock) -> _BlockLook:
        return cls(block.blockFormat(), block.charFormat(), _in_list(block))


def _in_list(block: QTextBlock) -> bool:
    # A block's format points at a text object only when the block is in a list.
    return block.blockFormat().objectIndex() != -1


def _restore_block_look(cursor: QTextCursor, look: _BlockLook | None) -> None:
    """Give the last stable block back its look once the tail is cut off.

    When that block is empty (the one after a table) the cut starts at a block
    start, and Qt then keeps the format of the removed tail's last block instead.
    """
    block = cursor.block()
    if look is None or _BlockLook.of(block) == look:
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
