"""Where the person types: Enter sends, Shift+Enter adds a line, the button turns into Stop."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

MAX_LINES = 8


class PromptEdit(QPlainTextEdit):
    """A text box that submits on Enter and grows with its text up to MAX_LINES."""

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("promptEdit")
        self.setPlaceholderText("Ask anything…  (Shift+Enter: a new line)")  # one line, narrow too
        self.setTabChangesFocus(True)
        self.document().contentsChanged.connect(self._fit_height)
        self._fit_height()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def _fit_height(self) -> None:
        needed = max(1, int(self.document().size().height()))
        lines = min(MAX_LINES, needed)
        policy = (
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if needed > MAX_LINES
            else (Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        )
        self.setVerticalScrollBarPolicy(policy)
        self.setFixedHeight(lines * QFontMetrics(self.font()).lineSpacing() + 26)


class Composer(QWidget):
    """The prompt box and its Send / Stop button."""

    send_requested = Signal(str)
    stop_requested = Signal()
    answer_now_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.edit = PromptEdit(self)
        self.edit.submitted.connect(self._submit)
        self.button = QPushButton("Send", self)
        self.button.setObjectName("sendButton")
        self.button.clicked.connect(self._on_button)
        self.answer_now = QPushButton("Answer now", self)
        self.answer_now.setObjectName("answerNowButton")
        self.answer_now.setToolTip("End the thinking here and let the model answer (Ctrl+Enter)")
        self.answer_now.clicked.connect(self.answer_now_requested)
        self.answer_now.hide()
        self.notice = QLabel(self)  # why it can't send now, and what to do: always in sight
        self.notice.setObjectName("composerNotice")
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self._busy = False
        self._can_send = False
        self._reason = ""
        row = QHBoxLayout()
        row.addWidget(self.edit, 1)
        row.addWidget(self.answer_now, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 8, 16, 12)
        layout.setSpacing(4)
        layout.addWidget(self.notice)
        layout.addLayout(row)
        self._update()

    def set_busy(self, busy: bool) -> None:
        """While an answer streams, the button stops it; Enter does not send."""
        self._busy = busy
        if not busy:
            self.answer_now.hide()
        self._update()

    def set_thinking(self, thinking: bool) -> None:
        """While the model thinks, offer to end its reasoning."""
        self.answer_now.setVisible(thinking and self._busy)

    def set_can_send(self, can_send: bool, reason: str = "") -> None:
        """reason: why it can't, in words that say what to do (shown above the prompt)."""
        self._can_send = can_send
        self._reason = reason
        self._update()

    def _update(self) -> None:
        self.button.setText("Stop" if self._busy else "Send")
        self.button.setToolTip("Stop the answer (Esc)" if self._busy else self._reason)
        self.button.setEnabled(self._busy or self._can_send)
        blocked = not self._busy and not self._can_send and bool(self._reason)
        self.notice.setText(f"⚠ {self._reason}" if blocked else "")
        self.notice.setVisible(blocked)

    def _on_button(self) -> None:
        if self._busy:
            self.stop_requested.emit()
        else:
            self._submit()

    def _submit(self) -> None:
        text = self.edit.toPlainText().strip()
        if self._busy or not self._can_send or not text:
            return
        self.edit.clear()
        self.send_requested.emit(text)
