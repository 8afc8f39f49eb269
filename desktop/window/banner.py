"""A non-blocking error strip above the chat; after an engine crash it offers a reload, after a
failed save a retry."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class NoticeBanner(QFrame):
    """The words of what went wrong, with Reload or Retry, and Dismiss."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBanner")
        self.kind = ""  # "save" while it tells of a failed save, else "error"
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reload_button = QPushButton("Reload model", self)
        self.retry_button = QPushButton("Retry", self)
        self.retry_button.setToolTip("Save what is kept in memory now")
        self.close_button = QPushButton("Dismiss", self)
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.reload_button)
        layout.addWidget(self.retry_button)
        layout.addWidget(self.close_button)
        self.hide()

    def show_error(self, title: str, text: str, *, offer_reload: bool = False) -> None:
        self._show("error", f"{title}. {text}", reload=offer_reload, retry=False)

    def show_save_failure(self, sentence: str, *, offer_retry: bool) -> None:
        """A save failed: the sentence says what is kept and what to do; Retry tries again."""
        self._show("save", sentence, reload=False, retry=offer_retry)

    def clear_save_failure(self) -> None:
        """Everything is saved now: a failed save's notice goes (any other stays)."""
        if self.kind == "save":
            self.hide()

    def _show(self, kind: str, text: str, *, reload: bool, retry: bool) -> None:
        self.kind = kind
        self.label.setText(text)
        self.reload_button.setVisible(reload)
        self.retry_button.setVisible(retry)
        self.show()
