"""A read-only, auto-height rich-text view for one model answer, rendered from Markdown.

An answer of any size renders in bounded steps: desktop/chat/segments.py cuts it into parts of
bounded cost, each part is rendered once and appended (a streamed answer re-renders only its
short unfinished tail), and what does not fit in one step goes on between events through the
render queue (desktop/chat/render_queue.py), so no event waits long for it.

Formulas are image objects drawn from desktop/chat/formulas.py (off the GUI thread, once each);
the last one holding a \\boxed{…} is highlighted, and a copied selection keeps their LaTeX.

The HTML holds the theme's colours (code boxes, quotes, tables, links): when the view is polished
in another theme (a theme switch reaches it, at once or in its turn: desktop/common/theme.py), it
renders the answer again, through the render queue.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QSize, QSizeF, Qt, QUrl, Signal
from PySide6.QtGui import (
    QDesktopServices,
    QGuiApplication,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QTextCursor,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QFrame,
    QSizePolicy,
    QTextBrowser,
    QToolTip,
    QWidget,
)

from desktop.chat.answer_document import (
    BlockLook,
    InertDocument,
    insert_html,
    plain_formats,
    restore_block_look,
)
from desktop.chat.formula_objects import FormulaObjects, selection_mime, show_tooltip
from desktop.chat.formulas import FormulaStore, shared_formulas
from desktop.chat.markdown import (
    COPY_SCHEME,
    SAFE_LINK_SCHEMES,
    RenderedMarkdown,
    document_style_sheet,
    render_code_header,
    render_code_lines,
    render_markdown,
)
from desktop.chat.plain_text import PlainWriter
from desktop.chat.render_queue import RenderQueue, shared_queue
from desktop.chat.render_state import RenderState
from desktop.chat.segments import (
    PART_COST,
    Code,
    CodeOpen,
    Markdown,
    Piece,
    Plain,
    Segmenter,
    piece_cost,
)
from desktop.common.colours import current
from desktop.common.theme import theme_manager
from model_runtime.chat.boxed import boxed_spans

ANSWER_SCALE = 1.15  # answers a little larger than the system's text, at the chat's zoom
_MAX_HEIGHT = 16_777_215  # QWIDGETSIZE_MAX
LAZY_LAYOUT_CHARS = 200_000  # a longer answer is laid out for a new width in steps
BLOCK_GAP = 12.0  # above plain text and below long code, as between paragraphs


class AnswerView(QTextBrowser):
    """Shows one answer; grows to fit its text so many can stack in a scroll area.

    Links open only when clicked and only for http, https and mailto; the
    "Copy" link above a code block puts that block's text on the clipboard.
    """

    code_copied = Signal(int)
    link_activated = Signal(QUrl)
    rendered = Signal()  # all the text given so far is shown

    def __init__(
        self,
        parent: QWidget | None = None,
        open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl,
        queue: RenderQueue | None = None,
        formulas: FormulaStore | None = None,
    ) -> None:
        super().__init__(parent)
        self._open_url = open_url
        self._queue = queue
        self._formulas = formulas if formulas is not None else shared_formulas()
        self._render = RenderState(Segmenter(self._formulas.enabled))
        self._height = 0
        self._height_held = False  # rendering again: the height is told after the step
        self._relayout = False  # laying the text out for a new width, in steps
        self._laid_out = 0.0  # how far down that has come
        self._paused = False  # rendering waits for that
        self._colours = current()  # the theme the text shown was rendered in

        document = InertDocument(self, view=self)
        document.setUndoRedoEnabled(False)
        document.setDefaultStyleSheet(document_style_sheet())
        document.setDocumentMargin(2)
        self.setDocument(document)
        self.objects = FormulaObjects(
            document, self._formulas, lambda: self.palette().color(QPalette.ColorRole.Text)
        )
        self._formulas.enabled_changed.connect(self._math_switched)

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
        theme_manager().chat.add(self, ANSWER_SCALE)  # the chat's text size, not the style sheet's
        self._update_height()

    # -- content -------------------------------------------------------------------------

    @property
    def code_blocks(self) -> list[str]:
        """Raw text of the code blocks shown, indexed as their copy links are."""
        render = self._render
        blocks = list(render.code_blocks)
        if render.long_code is not None:
            blocks.append(("".join(render.long_code) + render.tail_code).removesuffix("\n"))
        return blocks + render.tail_code_blocks

    @property
    def formulas(self) -> FormulaStore:
        """Where this view's formulas are drawn (and whether math is rendered at all)."""
        return self._formulas

    @property
    def rendering(self) -> bool:
        """Part of the text given is still waiting to be shown (``rendered`` comes after)."""
        return self._paused or self._render_queue().pending(self)

    def set_markdown(self, text: str) -> None:
        """Show a whole answer: at once when it is short, else part by part between events."""
        self._show(text, final=True)

    def _show(self, text: str, *, final: bool) -> bool:
        """Show ``text`` from the start (``final``: all of the answer); True when more is left
        for the render queue."""
        self._start()
        self._add(text)
        render = self._render
        if not final:
            return self._work()
        render.segmenter.finish()
        piece = render.segmenter.next_piece()
        if isinstance(piece, Markdown) and render.segmenter.done:  # one part: one setHtml
            rendered = self._markdown(piece.text)
            render.code_blocks, render.tail_stale = rendered.code_blocks, False
            self.setHtml(rendered.html)
            self.rendered.emit()
            return False
        render.waiting = piece
        return self._work()

    def changeEvent(self, event: QEvent) -> None:
        """Polished in another theme: render it again in its colours (code, quotes, tables,
        links, formulas), through the render queue, so a long chat does not hold the switch."""
        super().changeEvent(event)
        polished = event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange)
        if polished and self._follow_theme() and self._render.length:
            self._render_queue().add(self, self._render_again)

    def _follow_theme(self) -> bool:
        """The document's style sheet in the active theme; True when that changed it."""
        if self._colours == current():
            return False
        self._colours = current()
        self.document().setDefaultStyleSheet(document_style_sheet())
        return True

    def _render_again(self) -> bool:
        """The answer shown again from the start, its height told once at the end of the step:
        unchanged (a new theme), the chat's column is not laid out again for it."""
        render = self._render
        self._height_held = True
        try:
            more = self._show("".join(render.text), final=render.segmenter.final)
        finally:
            self._height_held = False
        self._update_height()
        return more

    def finish_markdown(self, text: str) -> None:
        """End streaming: the complete answer, rendered again whole when it is short."""
        render = self._render
        streamed = not render.segmenter.final and render.length == len(text)
        if len(text) > PART_COST and streamed and "".join(render.text) == text:
            render.segmenter.finish()
            render.tail_stale = True
            self._resume()
        else:
            self.set_markdown(text)

    def set_markdown_streaming(self, text: str) -> None:
        """Show a growing answer: ``text`` is the whole answer so far, extending the last one."""
        render = self._render
        if render.segmenter.final or len(text) < render.length:
            self._start()
            self.append_markdown_streaming(text)
        else:
            self.append_markdown_streaming(text[render.length :])

    def append_markdown_streaming(self, delta: str) -> None:
        """Add streamed text: what became stable is rendered once, and only the short tail
        after it again on each update, so a long answer streams without quadratic cost."""
        if self._render.segmenter.final:
            self._start()
        self._add(delta)
        self._resume()

    def _start(self) -> None:
        self._render_queue().remove(self)
        self._render = RenderState(Segmenter(self._formulas.enabled))
        self._follow_theme()
        self.document().clear()
        self.objects.highlighted = None

    def _math_switched(self) -> None:
        """Math rendering was switched on or off: show the answer again."""
        render = self._render
        text = "".join(render.text)
        if render.segmenter.final:
            self.set_markdown(text)
        elif text:
            self._start()
            self.append_markdown_streaming(text)

    def _markdown(self, text: str, *, tail: bool = False) -> RenderedMarkdown:
        """A part (or the tail) rendered, its formulas as the store has them; notes the last
        boxed formula so far, which is highlighted."""
        render = self._render
        math = self._formulas if render.segmenter.math else None
        rendered = render_markdown(text, len(render.code_blocks), math)
        boxed = [f for f in rendered.formulas if boxed_spans(f.source)]
        number = self._formulas.number(boxed[-1]) if boxed else None
        if tail:
            render.tail_boxed = number
        elif number is not None:
            render.boxed = number
        shown = render.tail_boxed if render.tail_boxed is not None else render.boxed
        if shown != self.objects.highlighted:
            self.objects.highlighted = shown
            self.viewport().update()
        return rendered

    def _add(self, text: str) -> None:
        render = self._render
        render.segmenter.feed(text)
        render.text.append(text)
        render.length += len(text)
        render.tail_stale = True

    def _resume(self) -> None:
        if not self._render_queue().pending(self):
            self._work()

    def _render_queue(self) -> RenderQueue:
        if self._queue is None:
            self._queue = shared_queue()
        return self._queue

    def _work(self) -> bool:
        """Show up to one part's worth of the text given; the rest waits for the queue.

        True when more is left (the queue calls this again)."""
        render = self._render
        if self._relayout:
            self._paused = True  # goes on once the text is laid out for the new width
            return False
        piece = self._next_piece()
        if piece is None and not render.tail_stale:
            self.rendered.emit()
            return False
        if render.tail_pos == 0:  # all of it is tail: clearing also drops the first format
            self.document().clear()
            render.tail_pos, render.tail_stale = -1, True
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        spent = 0
        while piece is not None:
            if spent and spent + piece_cost(piece, render.segmenter.math) > PART_COST:
                render.waiting = piece  # for the next step
                break
            self._remove_tail(cursor)
            spent += self._apply(cursor, piece)
            piece = self._next_piece()
        tail = render.segmenter.tail() if piece is None else None
        more = piece is not None or (tail is not None and spent > PART_COST // 2)
        if not more:  # after a costly part, the tail gets a step of its own
            self._remove_tail(cursor)
            self._show_tail(cursor, tail)
        cursor.endEditBlock()
        if more:
            render.tail_stale = True
            self._render_queue().add(self, self._work)
            return True
        self.rendered.emit()
        return False

    def _next_piece(self) -> Piece | None:
        render = self._render
        piece, render.waiting = render.waiting, None
        return piece if piece is not None else render.segmenter.next_piece()

    def _apply(self, cursor: QTextCursor, piece: Piece) -> int:
        """Add one piece at the end of the document; returns about what it cost."""
        render, document = self._render, self.document()
        if isinstance(piece, Plain):
            if piece.first or render.plain is None:
                block, char = plain_formats(piece.code)
                char.setToolTip(piece.note)
                render.plain = PlainWriter(document, block, char, gap=BLOCK_GAP)
            render.plain.write(piece.text)
            return piece_cost(piece, render.segmenter.math)
        render.plain = None
        if isinstance(piece, Markdown):
            rendered = self._markdown(piece.text)
            insert_html(document, cursor, rendered.html)
            render.code_blocks.extend(rendered.code_blocks)
        elif isinstance(piece, CodeOpen):
            render.long_code, render.long_lang = [], piece.lang
            insert_html(document, cursor, render_code_header(piece.lang, len(render.code_blocks)))
        elif isinstance(piece, Code):
            insert_html(document, cursor, render_code_lines(piece.text, render.long_lang))
            assert render.long_code is not None
            render.long_code.append(piece.text)
        else:
            assert render.long_code is not None
            render.code_blocks.append("".join(render.long_code).removesuffix("\n"))
            render.long_code = None
            cursor.movePosition(QTextCursor.MoveOperation.End)
            spaced = cursor.blockFormat()
            spaced.setBottomMargin(BLOCK_GAP)  # as below a code box
            cursor.setBlockFormat(spaced)
        return piece_cost(piece, render.segmenter.math)

    def _show_tail(self, cursor: QTextCursor, tail: Markdown | Plain | Code | None) -> None:
        """Show what is not cut into parts yet; it is taken away again before the next part."""
        render, document = self._render, self.document()
        render.tail_stale, render.tail_code_blocks, render.tail_code = False, [], ""
        render.tail_boxed = None
        if tail is None:
            return
        render.tail_pos = document.characterCount() - 1
        render.tail_look = BlockLook.of(document.lastBlock())
        if isinstance(tail, Markdown):
            rendered = self._markdown(tail.text, tail=True)
            insert_html(document, cursor, rendered.html)
            render.tail_code_blocks = rendered.code_blocks
        elif isinstance(tail, Code):
            insert_html(document, cursor, render_code_lines(tail.text, render.long_lang))
            render.tail_code = tail.text
        else:
            PlainWriter(document, *plain_formats(False), gap=BLOCK_GAP).write(tail.text)

    def _remove_tail(self, cursor: QTextCursor) -> None:
        render = self._render
        if render.tail_pos > 0:
            cursor.setPosition(render.tail_pos)
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            restore_block_look(cursor, render.tail_look)
            render.tail_stale = True  # to be shown again
        render.tail_pos = -1
        render.tail_code_blocks, render.tail_code = [], ""

    # -- resources, links, copies ----------------------------------------------------------

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        """Load nothing: no images, no files, no network, whatever the HTML asks for."""
        return None

    def createMimeDataFromSelection(self) -> QMimeData:
        """A selection with formulas copies as text with their LaTeX between dollars."""
        return selection_mime(self, self._formulas) or super().createMimeDataFromSelection()

    def viewportEvent(self, event: QEvent) -> bool:
        """A formula's tooltip says why it is shown as its source."""
        return show_tooltip(self, self._formulas, event) or super().viewportEvent(event)

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

    def _update_height(self, size: object = None) -> None:
        if self._height_held:
            return
        if self._relayout and not self._relayout_done(size):
            return  # keep the height until the text is laid out for the new width
        margins = self.contentsMargins()
        doc_height = math.ceil(self.document().size().height())
        height = doc_height + margins.top() + margins.bottom() + 2 * self.frameWidth()
        height = min(height, _MAX_HEIGHT)
        if height != self._height:
            self._height = height
            self.setFixedHeight(height)
            self.updateGeometry()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """A new width lays the text out again: a long answer in steps between events.

        QTextEdit would lay out all of it at once (down to the bottom of its viewport, which
        here is the whole answer); Qt's document layout can also go on by itself in steps.
        """
        new_width = event.oldSize().width() != event.size().width()
        if new_width and self.document().characterCount() > LAZY_LAYOUT_CHARS:
            QAbstractScrollArea.resizeEvent(self, event)
            self._relayout, self._laid_out = True, 0.0
            self.document().setPageSize(QSizeF(self.viewport().width(), -1))
            return
        super().resizeEvent(event)
        self._update_height()

    def _relayout_done(self, size: object) -> bool:
        if isinstance(size, QSizeF):
            self._laid_out = size.height()
        last = self.document().lastBlock().layout()
        if last is not None and last.lineCount() == 0:
            return False
        self._relayout = False
        self.viewport().update()
        if self._paused:
            self._paused = False
            self._work()
        return True

    def paintEvent(self, event: QPaintEvent) -> None:
        """While the text is laid out for a new width, paint only what is laid out already:
        painting lower would lay out everything above it at once."""
        if self._relayout and event.rect().bottom() > self._laid_out:
            return
        super().paintEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self._height)

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self._height)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Let the chat column scroll: this view never scrolls by itself."""
        event.ignore()
