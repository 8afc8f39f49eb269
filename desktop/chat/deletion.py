"""Deleting a message of the open chat, with an undo: the removed rows are kept in memory and
put back by Undo, until the undo window passes or the chat moves on (a new question, another
chat), after which nothing could take their place back safely."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from PySide6.QtCore import QObject, Signal

from desktop.chat.saving import ChatSaving
from model_runtime.attachments.prompt import Included
from model_runtime.conversations.records import RemovedMessages, StoredMessage
from model_runtime.conversations.store import ConversationStore
from model_runtime.errors import StorageError


class Discarded(NamedTuple):
    """An answer that got no word, removed: its question if it went too (with its files)."""

    question: StoredMessage | None
    files: list[Included]
    emptied: bool  # its conversation had nothing left, and went too


def deleted_words(removed: RemovedMessages) -> str:
    """What the undo bar says: what went, and how much followed it."""
    first = removed.rows[0]
    what = "question" if first["role"] == "user" else "answer"
    after = len(removed.rows) - 1
    more = f" and {after} message{'s' if after != 1 else ''} after it" if after else ""
    return f"Deleted the {what}{more}"


class MessageDeletion(QObject):
    """Deletes through the chat's saving (a failed write is said there), keeps one undo."""

    offered = Signal(str)  # words for the undo bar
    forgotten = Signal()  # the undo is gone (done, expired, or the chat moved on)

    def __init__(
        self, store: ConversationStore, saving: ChatSaving, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.saving = saving
        self.removed: RemovedMessages | None = None

    def delete(self, message_id: int) -> bool:
        """Delete the message and what followed it; False when the write failed."""
        self.forget()
        try:
            removed = self.saving.write("delete", lambda: self.store.delete_message(message_id))
        except StorageError:
            return False
        self.removed = removed
        self.offered.emit(deleted_words(removed))
        return True

    def undo(self) -> int | None:
        """Put the deleted messages back; their conversation's id, or None when they can't be
        (a failed write is said by the saving; a chat changed since just ends the undo)."""
        removed = self.removed
        if removed is None:
            return None
        try:
            self.saving.write("undo_message", lambda: self.store.restore_messages(removed))
        except StorageError:
            return None
        except (KeyError, ValueError):
            self.forget()
            return None
        self.forget()
        return removed.conversation_id

    def forget(self) -> None:
        """No undo from now on."""
        if self.removed is not None:
            self.removed = None
            self.forgotten.emit()

    def discard_unanswered(
        self, answer_id: int, files_of: Callable[[int | None], list[Included]]
    ) -> Discarded | None:
        """Remove an answer that got no word (no undo: nothing was lost), and its question if
        no other answer follows it: that question with its files (`files_of` reads them first),
        and whether its conversation went too, having nothing left; None when a write failed
        (the saving said so)."""
        try:
            files = self.saving.write(
                "discard", lambda: files_of(self.store.message(answer_id).parent_id)
            )
            question, emptied = self.saving.write("discard", lambda: self._remove_answer(answer_id))
        except StorageError:
            return None
        return Discarded(question, files, emptied)

    def _remove_answer(self, answer_id: int) -> tuple[StoredMessage | None, bool]:
        with self.store.atomic():
            stored = self.store.message(answer_id)
            self.store.delete_message(stored.id)
            question = self.store.message(stored.parent_id) if stored.parent_id else None
            if question is None or self.store.child_count(question.id):
                return None, False
            self.store.delete_message(question.id)  # unanswered: back to the composer
            if self.store.conversation(question.conversation_id).current_leaf is not None:
                return question, False
            self.store.remove(question.conversation_id)
            return question, True
