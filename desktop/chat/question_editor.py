"""Edit a question in place, in its bubble, as chat apps do: the text wraps and grows with it;
Save & send (Ctrl+Enter) asks it again, Cancel (Esc) puts the bubble back as it was."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

MAX_LINES = 12


def _is_send(event: QKeyEvent) -> bool:
    enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
    return enter and bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)


def _own_key(event: QEvent) -> bool:
    """Esc (cancel) and Ctrl+Enter (send) belong to the editor while it has the focus."""
    if not isinstance(event, QKeyEvent):
        return False
    return event.key() == Qt.Key.Key_Escape or _is_send(event)


class QuestionText(QPlainTextEdit):
    """The question's text: wraps at the bubble's width, as tall as its lines (up to
    MAX_LINES), never scrolls sideways. Esc and Ctrl+Enter are its own, not the window's."""

    send = Signal()
    cancel = Signal()

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("questionEdit")
        self.setPlainText(text)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._fit_height()

    def event(self, event: QEvent) -> bool:
        """Claim Esc and Ctrl+Enter before the window's shortcuts (Stop, Answer now) see them."""
        if event.type() == QEvent.Type.ShortcutOverride and _own_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancel.emit()
        elif _is_send(event):
            self.send.emit()
        else:
            super().keyPressEvent(event)

    def _fit_height(self) -> None:
        """As tall as the wrapped text (its blocks' laid-out heights), up to MAX_LINES."""
        document = self.document()
        block, content = document.firstBlock(), 0.0
        while block.isValid():
            content += self.blockBoundingRect(block).height()
            block = block.next()
        limit = MAX_LINES * QFontMetrics(self.font()).lineSpacing()
        self.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if content > limit
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )
        margins = self.contentsMargins()
        frame = margins.top() + margins.bottom() + 2 * int(document.documentMargin())
        self.setFixedHeight(int(min(content, limit)) + frame + 1)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()  # a narrower bubble wraps into more lines


class QuestionEditor(QWidget):
    """The text and Save & send / Cancel. `saved(text)` only for a changed, non-empty text."""

    saved = Signal(str)
    cancelled = Signal()

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("questionEditor")
        self.original = text
        self.text = QuestionText(text, self)
        self.save_button = QPushButton("Save && send", self)
        self.save_button.setObjectName("saveQuestion")
        self.save_button.setToolTip("Ask the edited question (Ctrl+Enter); the old one stays")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Keep the question as it was (Esc)")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.cancelled)
        self.text.send.connect(self.save)
        self.text.cancel.connect(self.cancelled)
        self.text.textChanged.connect(self._update)
        self._update()

    def edited(self) -> str:
        return self.text.toPlainText()

    def _update(self) -> None:
        text = self.edited()
        self.save_button.setEnabled(bool(text.strip()) and text != self.original)

    def save(self) -> None:
        if self.save_button.isEnabled():
            self.saved.emit(self.edited())

    def start(self) -> None:
        """Focus the text, the cursor at its end."""
        self.text.setFocus()
        cursor = self.text.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.text.setTextCursor(cursor)
