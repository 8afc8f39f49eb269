"""Answers the store could not take yet (a full disk): kept in memory and written again.

A chat's controller hands every save of a streamed answer to UnsavedAnswers. A save that fails
stays here, holding the Answer itself, so that the latest text goes in when it is retried;
the next save, or a retry the user asks for, writes every answer still kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from model_runtime.chat.answer import Answer
from model_runtime.conversations.records import FIGURE_COLUMNS, MessageState, StoredMessage
from model_runtime.conversations.store import ConversationStore


@dataclass
class UnsavedAnswer:
    """What the store should hold for one answer: its text, and its state once it ended."""

    answer: Answer
    state: MessageState | None = None  # None: only the text (it still streams)

    def over(self, stored: StoredMessage) -> StoredMessage:
        """The stored row as it will read once this is written."""
        changes: dict[str, object] = {
            "content": self.answer.answer,
            "reasoning": self.answer.reasoning,
        }
        if self.state is not None:
            changes["state"] = self.state
        if self.state == "complete":
            figures = self.answer.figures
            changes.update({key: getattr(figures, key) for key in FIGURE_COLUMNS})
        return dataclasses.replace(stored, **changes)  # type: ignore[arg-type]


class UnsavedAnswers:
    """The answers whose latest text or state is not in the store yet, by message id."""

    def __init__(self, store: ConversationStore) -> None:
        self.store = store
        self._kept: dict[int, UnsavedAnswer] = {}

    def keep(self, message_id: int, answer: Answer, state: MessageState | None = None) -> None:
        """Remember what to write for this answer (a state stays until another replaces it)."""
        previous = self._kept.get(message_id)
        if state is None and previous is not None:
            state = previous.state
        self._kept[message_id] = UnsavedAnswer(answer, state)

    def flush(self) -> None:
        """Write every answer kept, oldest first; StorageError stops at the first that fails,
        which stays kept with those after it."""
        for message_id, unsaved in list(self._kept.items()):
            figures = unsaved.answer.figures if unsaved.state == "complete" else None
            self.store.update_message(
                message_id,
                content=unsaved.answer.answer,
                reasoning=unsaved.answer.reasoning,
                state=unsaved.state,
                figures=figures,
            )
            del self._kept[message_id]

    def get(self, message_id: int) -> UnsavedAnswer | None:
        return self._kept.get(message_id)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._kept

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._kept))

    def __len__(self) -> int:
        return len(self._kept)
