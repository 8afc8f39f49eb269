"""Every write of the open chat, and what happens when one fails (a full or read-only disk).

A failed write is said (`failed`, with what it was) and changes nothing else. An answer that
could not be saved stays in memory (UnsavedAnswers), marked under its message as not saved,
and is written before the next write or when the user presses Retry (`retry`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, Signal

from desktop.chat.messages import AssistantMessage
from desktop.chat.view import ChatView
from model_runtime.chat.answer import Answer
from model_runtime.conversations.records import MessageState
from model_runtime.conversations.store import ConversationStore
from model_runtime.conversations.unsaved import UnsavedAnswers
from model_runtime.errors import StorageError

T = TypeVar("T")


class ChatSaving(QObject):
    """Writes to the store for the chat controller; keeps the answers it could not write."""

    # The StorageError, and what was being written: a key of
    # desktop.common.error_messages.SAVE_ACTIONS ("answer", "question", "rename", …).
    failed = Signal(object, str)
    settled = Signal()  # after a failure, a write went through and no answer is left unsaved

    def __init__(
        self, store: ConversationStore, view: ChatView, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.view = view
        self.unsaved = UnsavedAnswers(store)  # answers the store could not take yet
        self.last_error: StorageError | None = None  # of the last write that failed
        self._failing = False  # the last write failed, and `failed` said so

    def write(self, action: str, write: Callable[[], T]) -> T:
        """One store write, after the answers still kept in memory. A StorageError is said
        (`failed`, with the action) and raised again, for the caller to stop there."""
        try:
            self._flush()
            result = write()
        except StorageError as exc:
            self._failing, self.last_error = True, exc
            self.failed.emit(exc, action)
            raise
        if self._failing:
            self._failing = False
            self.settled.emit()
        return result

    def save_answer(
        self, message_id: int, answer: Answer, state: MessageState | None = None
    ) -> bool:
        """Save an answer's text (and state); unsaved, it is kept in memory for the next try."""
        self.unsaved.keep(message_id, answer, state)
        return self.retry()

    def retry(self) -> bool:
        """Write the answers kept in memory now (the banner's Retry); True when all are saved."""
        try:
            self.write("answer", lambda: None)
        except StorageError:
            return False
        return True

    def _flush(self) -> None:
        """Write the answers kept in memory; the marks under them say which are saved now."""
        if not self.unsaved:
            return
        try:
            self.unsaved.flush()
        finally:
            for widget in self.view.messages:
                if isinstance(widget, AssistantMessage) and widget.message_id:
                    widget.set_saved(widget.message_id not in self.unsaved)
