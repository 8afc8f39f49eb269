"""The conversation column: one widget per message in a scroll area that follows new text."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from .message_widgets import AssistantMessage, UserMessage

COLUMN_MAX_WIDTH = 860


class ChatView(QScrollArea):
    """Messages stacked top to bottom; stays pinned to the bottom while the user is there."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._column = QWidget()
        self._column.setObjectName("chatColumn")
        self._column.setMaximumWidth(COLUMN_MAX_WIDTH)
        self._layout = QVBoxLayout(self._column)
        self._layout.setContentsMargins(16, 16, 16, 16)
        self._layout.setSpacing(14)
        self.hint = QLabel(self._column)
        self.hint.setObjectName("chatHint")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self._layout.addWidget(self.hint)
        self._layout.addStretch(1)
        outer = QWidget()
        outer.setObjectName("chatOuter")
        outer_layout = QVBoxLayout(outer)
        outer_layout.setContentsMargins(0, 0, 0, 0)
        outer_layout.addWidget(self._column, 0, Qt.AlignmentFlag.AlignHCenter)
        self.setWidget(outer)
        self._follow = True
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)
        self.messages: list[QWidget] = []

    def _on_scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 8

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def set_hint(self, text: str) -> None:
        """What an empty chat shows (which model is ready, what it is)."""
        self.hint.setText(text)
        self.hint.setVisible(not self.messages)

    def _append(self, widget: QWidget) -> None:
        self.hint.hide()
        self._layout.insertWidget(self._layout.count() - 1, widget)
        self.messages.append(widget)
        self._column.setMinimumWidth(min(COLUMN_MAX_WIDTH, max(0, self.viewport().width())))
        self.scroll_to_end()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._column.setMinimumWidth(min(COLUMN_MAX_WIDTH, max(0, self.viewport().width())))

    def scroll_to_end(self) -> None:
        self._follow = True
        QTimer.singleShot(
            0, lambda: self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
        )

    def add_user_message(self, text: str) -> UserMessage:
        widget = UserMessage(text)
        self._append(widget)
        return widget

    def add_assistant_message(self) -> AssistantMessage:
        widget = AssistantMessage()
        self._append(widget)
        return widget

    def clear(self) -> None:
        for widget in self.messages:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        self.messages.clear()
        self.hint.show()
