"""The collapsible pane above an answer that shows the model's reasoning as it streams.

Reasoning can run to megabytes, so it is written into the pane in bounded steps (the rest
waits for the render queue), long lines become several blocks (desktop/chat/plain_text.py),
and fitting the pane's height lays out only its first lines, never the whole text. It stays
plain text, but its formulas are drawn once they are closed (desktop/chat/reasoning_math.py).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import (
    QFontMetrics,
    QGuiApplication,
    QPalette,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.formula_objects import FormulaObjects, selection_mime, show_tooltip
from desktop.chat.formulas import FormulaStore, shared_formulas
from desktop.chat.plain_text import PlainWriter
from desktop.chat.reasoning_math import ReasoningFormulas
from desktop.chat.render_queue import RenderQueue, shared_queue
from desktop.common.theme import theme_manager

MAX_BODY_LINES = 14
WRITE_STEP = 16_000  # characters of reasoning written into the pane per step


def format_seconds(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s"


class ReasoningBody(QTextEdit):
    """The pane's text: a copied selection keeps its formulas' LaTeX; a formula's tooltip says
    why it is shown as its source."""

    def __init__(self, formulas: FormulaStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.formulas = formulas
        self.objects = FormulaObjects(
            self.document(), formulas, lambda: self.palette().color(QPalette.ColorRole.Text)
        )

    def createMimeDataFromSelection(self) -> QMimeData:
        return selection_mime(self, self.formulas) or super().createMimeDataFromSelection()

    def viewportEvent(self, event: QEvent) -> bool:
        return show_tooltip(self, self.formulas, event) or super().viewportEvent(event)


class ThinkingPane(QWidget):
    """Expanded and streaming while the model thinks; collapses to a summary when it answers."""

    toggled = Signal(bool)

    def __init__(
        self,
        parent: QWidget | None = None,
        queue: RenderQueue | None = None,
        formulas: FormulaStore | None = None,
    ) -> None:
        super().__init__(parent)
        self._formulas = formulas if formulas is not None else shared_formulas()
        self.setObjectName("thinkingPane")
        self._started = time.monotonic()
        self._thinking = True
        self._note = ""
        self._seconds = 0.0
        self._tokens: int | None = None
        self._queue = queue
        self._parts: list[str] = []  # the reasoning as given
        self._pending = ""  # given, not written into the pane yet (from _pending_at on)
        self._pending_at = 0
        self.header = QToolButton(self)
        self.header.setObjectName("thinkingHeader")
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setCheckable(True)
        self.header.setChecked(True)
        self.header.setCursor(Qt.CursorShape.PointingHandCursor)
        self.header.setAutoRaise(True)
        self.header.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Tab reaches it; Space toggles
        self.header.setToolTip("Show or hide the reasoning (Space; Ctrl+Shift+R: the last one)")
        self.header.toggled.connect(self._on_toggled)
        self.body = ReasoningBody(self._formulas, self)
        self.body.setObjectName("thinkingBody")
        self.body.setReadOnly(True)
        self.body.setFrameShape(QTextEdit.Shape.NoFrame)
        self.body.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.body.setAcceptRichText(False)
        self.body.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.body.document().contentsChanged.connect(self._fit_height)
        theme_manager().chat.add(self.body)  # the chat's text size, not the style sheet's
        theme_manager().zoom_changed.connect(self._fit_height)  # then fit it again
        self.body.objects.relaid.connect(self._fit_height)
        self._writer = PlainWriter(self.body.document(), own_block=False)
        self._math = ReasoningFormulas(self.body.document(), self._writer, self._formulas)
        self._formulas.enabled_changed.connect(self._math_switched)
        self.find_box = QLineEdit(self)
        self.find_box.setObjectName("thinkingFind")
        self.find_box.setPlaceholderText("Find in reasoning")
        self.find_box.setClearButtonEnabled(True)
        self.find_box.setMaximumWidth(200)
        self.find_box.returnPressed.connect(self.find_next)
        self.copy_button = QToolButton(self)
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy the reasoning")
        self.copy_button.setAutoRaise(True)
        self.copy_button.clicked.connect(self.copy_reasoning)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.header)
        top.addStretch(1)
        top.addWidget(self.find_box)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.body)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._update_header)
        self._ticker.start()
        self._update_header()
        self._fit_height()

    @property
    def expanded(self) -> bool:
        return self.header.isChecked()

    @property
    def thinking(self) -> bool:
        return self._thinking

    def text(self) -> str:
        """The reasoning as given (what the pane shows once it is all written)."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def set_text_later(self, text: str) -> None:
        """Saved reasoning: laid out only when the pane is first opened (long chats stay fast)."""
        self.append(text)

    @property
    def writing(self) -> bool:
        """Reasoning given is still waiting to be written into the open pane."""
        return self._render_queue().pending(self)

    def append(self, text: str) -> None:
        """Add streamed reasoning at the end, keeping the view pinned to the newest line.

        While the pane is folded it is only kept, and written when the pane opens."""
        if not text:
            return
        self._parts.append(text)
        self._pending += text
        if self.expanded and not self.writing:
            self._write_pending()

    def _write_pending(self) -> bool:
        """Write up to WRITE_STEP characters; True when more waits (the queue calls again)."""
        start = self._pending_at
        if start >= len(self._pending):
            return False
        bar = self.body.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        self._pending_at = min(len(self._pending), start + WRITE_STEP)
        self._writer.write(self._pending[start : self._pending_at])
        self._math.written(self._pending[start : self._pending_at])
        if self._pending_at == len(self._pending):
            self._pending, self._pending_at = "", 0
            if not self._thinking:
                self._math.finished()
        if at_end:
            bar.setValue(bar.maximum())
        more = bool(self._pending) and self.expanded
        if more:
            self._render_queue().add(self, self._write_pending)
        return more

    def _render_queue(self) -> RenderQueue:
        if self._queue is None:
            self._queue = shared_queue()
        return self._queue

    def finish(self, seconds: float, tokens: int | None = None, note: str = "") -> None:
        """Thinking is over: show the summary, and collapse if it was still streaming."""
        was_thinking = self._thinking
        self._thinking = False
        if not self._pending:
            self._math.finished()
        self._trim_trailing_space()
        self._ticker.stop()
        self._seconds = seconds
        self._tokens = tokens
        self._note = note
        self._update_header()
        if was_thinking:
            self.set_expanded(False)

    def _trim_trailing_space(self) -> None:
        """R1 ends its reasoning with blank lines; don't show them as empty space."""
        text = self.text()
        trimmed = text.rstrip()
        if len(trimmed) == len(text):
            return
        self._parts = [trimmed]
        pending = self._pending[self._pending_at :].rstrip()
        self._pending, self._pending_at = pending, 0
        if pending:
            return  # the written part's whitespace is followed by more text
        self._writer.drop_pending_breaks()
        document = self.body.document()
        cursor = QTextCursor(document)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        while cursor.position() > 0 and document.characterAt(cursor.position() - 1).isspace():
            cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._math.restart(self._writer)

    def _math_switched(self) -> None:
        """Math rendering was switched on or off: write the reasoning again."""
        self._render_queue().remove(self)
        self.body.document().clear()
        self._writer = PlainWriter(self.body.document(), own_block=False)
        self._math.restart(self._writer)
        self._pending, self._pending_at = self.text(), 0
        if self.expanded:
            self._write_pending()

    def resume(self) -> None:
        """Thinking goes on (Continue, or a second thinking segment): stream and expand again."""
        self._started = time.monotonic() - self._seconds
        self._thinking = True
        self._ticker.start()
        self._update_header()
        self.set_expanded(True)

    def set_expanded(self, expanded: bool) -> None:
        self.header.setChecked(expanded)

    def focus_order(self) -> list[QWidget]:
        """Its keyboard stops, in order: the header first."""
        return [self.header, self.find_box, self.copy_button]

    def copy_reasoning(self) -> None:
        QGuiApplication.clipboard().setText(self.text().strip())

    def find_next(self) -> bool:
        """Select the next match of the search text in the reasoning (wrapping around)."""
        needle = self.find_box.text()
        if not needle:
            return False
        self.set_expanded(True)
        if self.body.find(needle):
            return True
        self.body.moveCursor(QTextCursor.MoveOperation.Start)
        return self.body.find(needle)

    def _on_toggled(self, expanded: bool) -> None:
        self.find_box.setVisible(expanded)
        self.copy_button.setVisible(expanded)
        if expanded and self._pending and not self.writing:
            self._write_pending()
        self.body.setVisible(expanded)
        self._update_header()
        self.toggled.emit(expanded)

    def _update_header(self) -> None:
        arrow = Qt.ArrowType.DownArrow if self.expanded else Qt.ArrowType.RightArrow
        self.header.setArrowType(arrow)
        if self._thinking:
            label = f"Thinking… {int(time.monotonic() - self._started)} s"
        else:
            label = f"Thought for {format_seconds(self._seconds)}"
            if self._tokens:  # the speed is the answer's, said once, under it
                label += f" · {self._tokens:,} tokens"
            if self._note:
                label += f" · {self._note}"
        self.header.setText(label)

    def _fit_height(self) -> None:
        """Grow with the text up to MAX_BODY_LINES, then scroll inside."""
        doc = self.body.document()
        width = self.body.viewport().width()
        if doc.textWidth() != width:
            doc.setTextWidth(width)
        line = QFontMetrics(doc.defaultFont()).lineSpacing()
        limit = MAX_BODY_LINES * line
        text_height = _height_up_to(doc, limit)
        if text_height <= limit and doc.blockCount() > 1 and not doc.lastBlock().text():
            text_height -= line  # reasoning ends with a newline; no empty last line
        frame = self._chrome_height()
        self.body.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if text_height > limit
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )
        height = int(min(text_height, limit)) + frame
        if self.body.height() != height:
            self.body.setFixedHeight(height)

    def _chrome_height(self) -> int:
        """What the body draws above and below its text: the theme's borders and padding.

        Not frameWidth() on each side: that is the widest side (here the left border and
        padding, 11 px). Once laid out, the viewport says it exactly; before, the margins do.
        """
        laid_out = self.body.height() - self.body.viewport().height()
        if self.body.isVisible() and laid_out >= 0:
            return laid_out
        margins = self.body.contentsMargins()
        return margins.top() + margins.bottom()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()


def _height_up_to(doc: QTextDocument, limit: float) -> float:
    """The text's height, laying out only as many blocks as it takes to pass ``limit``."""
    layout = doc.documentLayout()
    height = 0.0
    block = doc.begin()
    while block.isValid():
        height += layout.blockBoundingRect(block).height()
        if height > limit:
            return height
        block = block.next()
    return doc.size().height()  # all of it is laid out: the exact figure, with margins
