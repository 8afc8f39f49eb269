"""The Hugging Face token row: checked with the Hub, kept in the OS keyring, never shown back."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from desktop.common.background import Tasks
from desktop.common.error_messages import describe
from model_runtime import credentials
from model_runtime.errors import PonderError
from model_runtime.models import hub

SAVED_HINT = "A token is saved (hidden). Paste another to replace it."
EMPTY_HINT = "hf_…  needed only for gated or private models"


def _check_and_save(token: str) -> str:
    """The account name, once the Hub accepted the token and the keyring holds it."""
    account = hub.whoami(token)
    credentials.set_token(token)
    return account


class TokenRow(QWidget):
    """Paste a token and Save: the Hub checks it (whoami) before the keyring keeps it."""

    saved = Signal(str)  # account name
    failed = Signal(str)  # what went wrong, in words
    removed = Signal()

    def __init__(self, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tokenRow")
        self.tasks = tasks
        label = QLabel("Hugging Face token", self)
        self.edit = QLineEdit(self)
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setPlaceholderText(EMPTY_HINT)
        self.edit.returnPressed.connect(self.save)
        self.save_button = QPushButton("Save", self)
        self.save_button.clicked.connect(self.save)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self.remove)
        self.remove_button.setEnabled(False)
        self.status = QLabel(self)
        self.status.setObjectName("tokenStatus")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.save_button)
        layout.addWidget(self.remove_button)
        layout.addWidget(self.status)
        # The keyring may block (a locked wallet): ask it off the GUI thread.
        self.tasks.start(
            lambda task: credentials.get_token() is not None, on_result=self._show_saved
        )

    def _show_saved(self, has_token: bool) -> None:
        self.edit.setPlaceholderText(SAVED_HINT if has_token else EMPTY_HINT)
        self.remove_button.setEnabled(has_token)

    def save(self) -> None:
        """Check the typed token with the Hub in the background; keep it only if accepted."""
        token = self.edit.text().strip()
        if not token:
            return
        self.edit.clear()  # the token is not kept in the widget, nor shown again
        self.save_button.setEnabled(False)
        self.status.setText("Checking with the Hub…")
        self.tasks.start(
            lambda task: _check_and_save(token), on_result=self._saved, on_error=self._failed
        )

    def _saved(self, account: str) -> None:
        self.save_button.setEnabled(True)
        self._show_saved(True)
        self.status.setText(f"Saved for {account}")
        self.saved.emit(account)

    def _failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        title, message = describe(exc)
        self.status.setText("Not saved")
        self.status.setToolTip(message)
        self.failed.emit(f"{title}. {message}")

    def remove(self) -> None:
        try:
            credentials.delete_token()
        except PonderError as exc:
            self.failed.emit(". ".join(describe(exc)))
            return
        self._show_saved(False)
        self.status.setText("Token removed")
        self.removed.emit()
