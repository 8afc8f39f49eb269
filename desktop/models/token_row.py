"""The Hugging Face token row: checked with the Hub, kept in the OS keyring, never shown back.
Without a key store the token is kept in memory until Ponder quits, and the row says so."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from desktop.common.background import Tasks
from desktop.common.error_messages import describe
from model_runtime import credentials
from model_runtime.errors import PonderError
from model_runtime.models import hub

SAVED_HINT = "A token is saved (hidden). Paste another to replace it."
MEMORY_HINT = "A token is kept until Ponder quits (hidden). Paste another to replace it."
EMPTY_HINT = "hf_…  needed only for gated or private models"


def _check_and_save(token: str) -> tuple[str, bool]:
    """(account name, kept in memory only), once the Hub accepted the token and it is kept."""
    account = hub.whoami(token)
    kept = credentials.set_token(token, memory_ok=True)
    return account, kept == credentials.MEMORY


def _saved_state() -> tuple[bool, bool]:
    """(a token is kept, in memory only), asked of the keyring (which may block: a worker)."""
    return credentials.get_token() is not None, credentials.kept_in_memory(credentials.ACCOUNT)


class TokenRow(QWidget):
    """Paste a token and Save: the Hub checks it (whoami) before the keyring keeps it."""

    saved = Signal(str, bool)  # account name, kept in memory only (no key store)
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
        self.tasks.start(lambda task: _saved_state(), on_result=self._show_state)

    def _show_state(self, state: tuple[bool, bool]) -> None:
        self._show_saved(*state)

    def _show_saved(self, has_token: bool, in_memory: bool = False) -> None:
        hint = MEMORY_HINT if in_memory else SAVED_HINT
        self.edit.setPlaceholderText(hint if has_token else EMPTY_HINT)
        self.edit.setToolTip(credentials.MEMORY_ONLY if has_token and in_memory else "")
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

    def _saved(self, result: tuple[str, bool]) -> None:
        account, in_memory = result
        self.save_button.setEnabled(True)
        self._show_saved(True, in_memory)
        self.status.setText("Kept until Ponder quits" if in_memory else f"Saved for {account}")
        self.status.setToolTip(credentials.MEMORY_ONLY if in_memory else "")
        self.saved.emit(account, in_memory)

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
