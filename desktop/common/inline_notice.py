"""A line of words above a list: offline, busy, or what went wrong (through describe)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from desktop.common.error_messages import describe


class InlineNotice(QLabel):
    """Hidden until there is something to say; errors in red, other notes in gray."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inlineNotice")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind = ""
        self.hide()

    def show_info(self, text: str) -> None:
        self._show(text, "info")

    def show_error(self, exc: BaseException) -> None:
        title, message = describe(exc)
        self._show(f"{title}. {message}", "error")

    def show_problem(self, text: str) -> None:
        """A problem already said in words (a failed verify, a failed download)."""
        self._show(text, "error")

    def _show(self, text: str, kind: str) -> None:
        self.kind = kind
        self.setText(text)
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()

    def clear_notice(self) -> None:
        self.kind = ""
        self.setText("")
        self.hide()
