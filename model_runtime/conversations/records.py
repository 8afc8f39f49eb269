"""What the conversation database holds, as plain dataclasses: conversations, messages, hits."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from model_runtime.chat.answer import AnswerFigures

MessageState = Literal["complete", "streaming", "interrupted"]
TITLE_LENGTH = 60


@dataclass
class StoredMessage:
    """One message as stored; an assistant's reasoning and figures are kept beside its answer."""

    id: int
    conversation_id: int
    parent_id: int | None
    role: str
    content: str = ""
    reasoning: str = ""
    reasoning_seconds: float = 0.0
    reasoning_tokens: int = 0
    n_prompt: int = 0
    n_generated: int = 0
    tokens_per_second: float = 0.0
    model: str = ""
    finish_reason: str = ""
    state: MessageState = "complete"
    created: float = 0.0
    thinking_note: str = ""  # how Ponder ended the thinking, in words (schema 4)
    finish_note: str = ""  # why Ponder stopped the answer, in words (schema 4)
    ttft_seconds: float = 0.0  # time to the first token (schema 4)
    vote_id: int = 0  # the first answer of the Think harder vote it is in; 0: none (schema 6)

    @property
    def figures(self) -> AnswerFigures:
        return AnswerFigures(**{key: getattr(self, key) for key in FIGURE_COLUMNS})


@dataclass
class Conversation:
    """A conversation's own fields (its messages are read separately)."""

    id: int
    title: str
    model: str
    system_prompt: str
    params: dict[str, Any]
    created: float
    updated: float
    current_leaf: int | None = None
    title_is_auto: bool = True
    model_ref: str = ""  # the model that last answered, to load again (schema 5)


@dataclass(frozen=True)
class SearchHit:
    """A message that matches a search, with a short excerpt around the match."""

    conversation_id: int
    message_id: int
    title: str
    excerpt: str  # the matches in [brackets], for plain text
    in_reasoning: bool
    in_file: str = ""  # the attached file's name, when the match is in a file
    plain: str = ""  # the excerpt without brackets, for a display that shows matches itself
    marks: tuple[tuple[int, int], ...] = ()  # (start, end) of each match in `plain`


@dataclass(frozen=True)
class RemovedMessages:
    """Messages deleted together (one and all that followed it), kept to put back (undo)."""

    conversation_id: int
    leaf: int | None  # the conversation's shown branch before the delete
    rows: tuple[dict[str, Any], ...] = ()  # every column, parents before children
    attachments: tuple[dict[str, Any], ...] = ()  # their questions' attached files, as rows
    files: tuple[dict[str, Any], ...] = ()  # the files those name (some may go with them)

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(int(row["id"]) for row in self.rows)


@dataclass(frozen=True)
class Branch:
    """Where a message stands among its siblings (1-based), for ◀ 1/2 ▶."""

    index: int
    count: int
    sibling_ids: tuple[int, ...] = field(default=())


MESSAGE_COLUMNS = tuple(f.name for f in fields(StoredMessage))
FIGURE_COLUMNS = tuple(f.name for f in fields(AnswerFigures))


def make_title(first_user_message: str) -> str:
    """A title from the first question (never from reasoning): its first line, shortened."""
    line = " ".join(first_user_message.strip().split("\n", 1)[0].split())
    if len(line) <= TITLE_LENGTH:
        return line or "New chat"
    cut = line[:TITLE_LENGTH].rsplit(" ", 1)[0]
    return (cut or line[:TITLE_LENGTH]) + "…"


def message_from_row(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(**{key: row[key] for key in MESSAGE_COLUMNS})


def conversation_from_row(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        title=row["title"],
        model=row["model"],
        system_prompt=row["system_prompt"],
        params=json.loads(row["params"] or "{}"),
        created=row["created"],
        updated=row["updated"],
        current_leaf=row["current_leaf"],
        title_is_auto=bool(row["title_is_auto"]),
        model_ref=row["model_ref"],
    )
