"""A strip that says what was just deleted and offers Undo for a few seconds (a chat in the
sidebar, an answer in the chat). Its words are cut to its width: it never widens its parent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSizePolicy, QWidget

from desktop.common.elided_label import ElidedLabel

UNDO_SECONDS = 10


class UndoBar(QWidget):
    """`offer(words)` shows it; Undo emits undo_requested; after UNDO_SECONDS, expired."""

    undo_requested = Signal()
    expired = Signal()  # the undo window passed: what was deleted goes for good

    def __init__(
        self, parent: QWidget | None = None, *, seconds: int = UNDO_SECONDS, name: str = "undoBar"
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)  # the theme paints it
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.label = ElidedLabel("", self)
        self.label.setObjectName("undoLabel")
        self.button = QPushButton("Undo", self)
        self.button.setObjectName("undoButton")
        self.button.clicked.connect(self.undo_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(seconds * 1000)
        self.timer.timeout.connect(self._expire)
        self.hide()

    def offer(self, words: str) -> None:
        """Say what was deleted; Undo works until the timer ends (a new offer starts it again)."""
        self.label.setText(words)
        self.label.setToolTip(words)
        self.show()
        self.timer.start()

    def follow(self, deletion: Any, undo: Callable[[], None]) -> None:
        """Offer what `deletion` (offered(str), forgotten(), forget()) says was deleted; Undo
        calls undo, and the undo window's end makes deletion forget."""
        deletion.offered.connect(self.offer)
        deletion.forgotten.connect(self.dismiss)
        self.undo_requested.connect(undo)
        self.expired.connect(deletion.forget)

    def dismiss(self) -> None:
        """Undo is no longer possible (or was done): hide, without `expired`."""
        self.timer.stop()
        self.hide()

    def _expire(self) -> None:
        self.hide()
        self.expired.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.dismiss()
        else:
            super().keyPressEvent(event)
