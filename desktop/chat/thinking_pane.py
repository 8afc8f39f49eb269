"""The collapsible pane above an answer that shows the model's reasoning as it streams."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QGuiApplication, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

MAX_BODY_LINES = 14


def format_seconds(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s"


class ThinkingPane(QWidget):
    """Expanded and streaming while the model thinks; collapses to a summary when it answers."""

    toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thinkingPane")
        self._started = time.monotonic()
        self._thinking = True
        self._note = ""
        self._seconds = 0.0
        self._deferred: str | None = None
        self._tokens: int | None = None
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
        self.body = QTextEdit(self)
        self.body.setObjectName("thinkingBody")
        self.body.setReadOnly(True)
        self.body.setFrameShape(QTextEdit.Shape.NoFrame)
        self.body.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.body.setAcceptRichText(False)
        self.body.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.body.document().contentsChanged.connect(self._fit_height)
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
        return self._deferred if self._deferred is not None else self.body.toPlainText()

    def set_text_later(self, text: str) -> None:
        """Saved reasoning: laid out only when the pane is first opened (long chats stay fast)."""
        if self.expanded:
            self.append(text)
        else:
            self._deferred = text

    def append(self, text: str) -> None:
        """Add streamed reasoning at the end, keeping the view pinned to the newest line."""
        bar = self.body.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        cursor = QTextCursor(self.body.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if at_end:
            bar.setValue(bar.maximum())

    def finish(self, seconds: float, tokens: int | None = None, note: str = "") -> None:
        """Thinking is over: show the summary, and collapse if it was still streaming."""
        was_thinking = self._thinking
        self._thinking = False
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
        text = self.body.toPlainText()
        extra = len(text) - len(text.rstrip())
        if extra:
            cursor = QTextCursor(self.body.document())
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.movePosition(
                QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, extra
            )
            cursor.removeSelectedText()

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
        if expanded and self._deferred is not None:
            text, self._deferred = self._deferred, None
            self.append(text)
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
        doc.setTextWidth(self.body.viewport().width())
        line = QFontMetrics(self.body.font()).lineSpacing()
        text_height = doc.size().height()
        if doc.blockCount() > 1 and not doc.lastBlock().text():
            text_height -= line  # reasoning ends with a newline; no empty last line
        limit = MAX_BODY_LINES * line
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
