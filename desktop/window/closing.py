"""Before the window closes: answers kept in memory (a full disk) are saved first; if they
can't be, the person decides — Retry, Discard, or Cancel the close."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.chat.controller import ChatController
from desktop.common.error_messages import unsaved_on_close


def may_close(controller: ChatController, parent: QWidget) -> bool:
    """True when nothing unsaved is left, or the person chose to discard it."""
    while controller.saving.unsaved and not controller.retry_saves():
        saving = controller.saving
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Ponder could not save",
            unsaved_on_close(len(saving.unsaved), saving.last_error),
            QMessageBox.StandardButton.Retry
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            parent,
        )
        box.setObjectName("unsavedOnClose")
        choice = box.exec()
        if choice == QMessageBox.StandardButton.Discard:
            return True
        if choice != QMessageBox.StandardButton.Retry:
            return False
    return True
