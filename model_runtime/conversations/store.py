"""The conversation store: every conversation of one profile in one SQLite file.

Every message is written as it streams (the caller saves the partial text about twice a
second), so a hard kill loses at most that much; on the next open, answers that were still
streaming are marked interrupted and can be continued. The schema, branches, search and
export live in their own modules of this package; this class is the one door to them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from model_runtime.attachments.prompt import Included
from model_runtime.conversations import attachments, branches, exchange, schema, votes
from model_runtime.conversations.attachments import StoredAttachment
from model_runtime.conversations.failures import guarded, translated
from model_runtime.conversations.records import (
    FIGURE_COLUMNS,
    AnswerFigures,
    Branch,
    Conversation,
    MessageState,
    RemovedMessages,
    SearchHit,
    StoredMessage,
    conversation_from_row,
    make_title,
    message_from_row,
)
from model_runtime.conversations.search import search, search_files
from model_runtime.paths import check_writable, data_dir, read_only_error

__all__ = ["ConversationStore", "default_store"]

CHANGED = "The chat changed since; the deleted messages can't go back."


def _rows(db: Any, table: str, column: str, values: list[int]) -> list[dict[str, Any]]:
    """Every column of the rows whose `column` is one of `values`, in the values' order."""
    found: list[dict[str, Any]] = []
    for value in values:
        found += [
            dict(row) for row in db.execute(f"SELECT * FROM {table} WHERE {column} = ?", (value,))
        ]
    return found


def _insert(db: Any, table: str, row: dict[str, Any]) -> None:
    """Put a row back as it was, its id included; a place taken since is refused."""
    if db.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row["id"],)).fetchone() is not None:
        raise ValueError(CHANGED)
    columns, marks = ", ".join(row), ", ".join("?" for _ in row)
    db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))


def _file_id(db: Any, file: dict[str, Any]) -> int:
    """Where a deleted question's file is now: the row that holds its content (kept by another
    question, or stored again since), or the row put back, under its old id if still free."""
    found = db.execute("SELECT id FROM attachment_files WHERE sha256 = ?", (file["sha256"],))
    row = found.fetchone()
    if row is not None:
        return int(row[0])
    taken = db.execute("SELECT 1 FROM attachment_files WHERE id = ?", (file["id"],)).fetchone()
    values = {k: v for k, v in file.items() if not (taken and k == "id")}
    columns, marks = ", ".join(values), ", ".join("?" for _ in values)
    cursor = db.execute(
        f"INSERT INTO attachment_files ({columns}) VALUES ({marks})", (*values.values(),)
    )
    return int(cursor.lastrowid)


class ConversationStore:
    """All conversations of one profile, in one SQLite file.

    Every method turns SQLite's storage failures (a full, read-only or failing disk, a locked
    or damaged file) into StorageError; the write that failed changed nothing.
    """

    def __init__(self, path: Path) -> None:
        """Open (or create) the database. A folder Ponder can't write to, a full disk, or a
        damaged file is refused before anything is written: no migration, no recovery."""
        self.path = Path(path)
        check_writable(self.path.parent)
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise read_only_error(self.path)
        with translated(self.path):
            self._db = schema.open_database(self.path)
        try:
            self.recovered = self._prepare()
        except BaseException:
            self._db.close()
            raise

    @guarded
    def _prepare(self) -> int:
        schema.migrate(self._db, self.path)
        return self._recover_interrupted()

    def close(self) -> None:
        self._db.close()

    @property
    def version(self) -> int:
        return schema.schema_version(self._db)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Several writes as one: all of them are kept, or (when one fails) none."""
        with translated(self.path), schema.transaction(self._db):
            yield

    @guarded
    def backup(self, target: Path) -> Path:
        """A consistent copy of the whole database (SQLite's online backup)."""
        return schema.backup(self._db, target)

    @guarded
    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def _recover_interrupted(self) -> int:
        """Answers still marked streaming were cut off by a crash or a kill: say so."""
        cursor = self._db.execute(
            "UPDATE messages SET state = 'interrupted' WHERE state = 'streaming'"
        )
        return cursor.rowcount

    # -- conversations ---------------------------------------------------------------------

    @guarded
    def create_conversation(
        self,
        *,
        model: str = "",
        system_prompt: str = "",
        params: dict[str, Any] | None = None,
        model_ref: str = "",
    ) -> Conversation:
        now = time.time()
        cursor = self._db.execute(
            "INSERT INTO conversations"
            " (title, model, system_prompt, params, created, updated, model_ref)"
            " VALUES ('', ?, ?, ?, ?, ?, ?)",
            (model, system_prompt, json.dumps(params or {}), now, now, model_ref),
        )
        return self.conversation(int(cursor.lastrowid or 0))

    @guarded
    def conversation(self, conversation_id: int) -> Conversation:
        row = self._db.execute(
            "SELECT * FROM conversations WHERE id = ? AND deleted IS NULL", (conversation_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no conversation {conversation_id}")
        return conversation_from_row(row)

    @guarded
    def conversations(self) -> list[Conversation]:
        """Every conversation not deleted, most recently updated first."""
        rows = self._db.execute(
            "SELECT * FROM conversations WHERE deleted IS NULL ORDER BY updated DESC, id DESC"
        )
        return [conversation_from_row(row) for row in rows]

    @guarded
    def update_conversation(
        self,
        conversation_id: int,
        *,
        model: str | None = None,
        system_prompt: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        """Change the model, system prompt or sampling parameters (None: unchanged)."""
        changes: dict[str, Any] = {
            key: value
            for key, value in (("model", model), ("system_prompt", system_prompt))
            if value is not None
        }
        if params is not None:
            changes["params"] = json.dumps(params)
        assignments = ", ".join(f"{key} = ?" for key in changes)
        self._db.execute(
            f"UPDATE conversations SET {assignments}{', ' if changes else ''}updated = ?"
            " WHERE id = ?",
            (*changes.values(), time.time(), conversation_id),
        )

    @guarded
    def rename(self, conversation_id: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise ValueError("A title can't be empty.")
        self._db.execute(
            "UPDATE conversations SET title = ?, title_is_auto = 0 WHERE id = ?",
            (title, conversation_id),
        )

    @guarded
    def delete(self, conversation_id: int) -> None:
        """Hide a conversation; undo_delete brings it back until purge_deleted runs."""
        self._db.execute(
            "UPDATE conversations SET deleted = ? WHERE id = ?", (time.time(), conversation_id)
        )

    @guarded
    def undo_delete(self, conversation_id: int) -> None:
        self._db.execute("UPDATE conversations SET deleted = NULL WHERE id = ?", (conversation_id,))

    @guarded
    def remove(self, conversation_id: int) -> None:
        """Remove one conversation for good at once (one whose only question got no answer)."""
        with schema.transaction(self._db) as db:
            db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    @guarded
    def purge_deleted(self, older_than_seconds: float = 0.0) -> int:
        """Remove deleted conversations for good (the app does this at start, after a day)."""
        cutoff = time.time() - older_than_seconds
        with schema.transaction(self._db) as db:
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM conversations WHERE deleted IS NOT NULL AND deleted <= ?",
                    (cutoff,),
                )
            ]
            for conversation_id in ids:
                db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
                db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        return len(ids)

    # -- messages --------------------------------------------------------------------------

    @guarded
    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str = "",
        *,
        parent_id: int | Literal["leaf"] | None = "leaf",
        state: MessageState = "complete",
        reasoning: str = "",
        model: str = "",
        figures: AnswerFigures | None = None,
        model_ref: str | None = None,
    ) -> StoredMessage:
        """Append a message after parent_id (default: the current leaf) and make it the leaf.

        model_ref: the answering model's identity (model_runtime/models/model_ref.py), kept as
        the conversation's model, with ``model`` its name."""
        conversation = self.conversation(conversation_id)
        parent = conversation.current_leaf if parent_id == "leaf" else parent_id
        now = time.time()
        values: dict[str, Any] = {
            "content": content,
            "reasoning": reasoning,
            "model": model,
            "state": state,
            **_figure_values(figures),
        }
        columns = ["conversation_id", "parent_id", "role", "created", *values]
        with schema.transaction(self._db) as db:
            cursor = db.execute(
                f"INSERT INTO messages ({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})",
                (conversation_id, parent, role, now, *values.values()),
            )
            message_id = int(cursor.lastrowid or 0)
            db.execute(
                "UPDATE conversations SET current_leaf = ?, updated = ? WHERE id = ?",
                (message_id, now, conversation_id),
            )
            if model_ref is not None:
                db.execute(
                    "UPDATE conversations SET model = ?, model_ref = ? WHERE id = ?",
                    (model, model_ref, conversation_id),
                )
            if role == "user" and conversation.title_is_auto and not conversation.title:
                db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ?",
                    (make_title(content), conversation_id),
                )
        return self.message(message_id)

    @guarded
    def message(self, message_id: int) -> StoredMessage:
        row = self._db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise KeyError(f"no message {message_id}")
        return message_from_row(row)

    @guarded
    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        reasoning: str | None = None,
        state: MessageState | None = None,
        figures: AnswerFigures | None = None,
    ) -> None:
        """Save streamed text, a new state or the final figures (None: unchanged)."""
        values: dict[str, Any] = {
            key: value
            for key, value in (("content", content), ("reasoning", reasoning), ("state", state))
            if value is not None
        }
        values.update(_figure_values(figures))
        if not values:
            return
        assignments = ", ".join(f"{key} = ?" for key in values)
        self._db.execute(
            f"UPDATE messages SET {assignments} WHERE id = ?", (*values.values(), message_id)
        )

    @guarded
    def delete_message(self, message_id: int) -> RemovedMessages:
        """Remove a message and everything that followed it on any branch; what was removed
        comes back, for restore_messages to put back (undo)."""
        message = self.message(message_id)
        with schema.transaction(self._db) as db:
            doomed = branches.subtree(db, message_id)
            rows = tuple(_rows(db, "messages", "id", doomed))
            attachments = tuple(_rows(db, "message_attachments", "message_id", doomed))
            file_ids = sorted({row["file_id"] for row in attachments})
            files = tuple(_rows(db, "attachment_files", "id", file_ids))
            for doomed_id in reversed(doomed):
                db.execute("DELETE FROM messages WHERE id = ?", (doomed_id,))
            leaf = db.execute(
                "SELECT current_leaf FROM conversations WHERE id = ?", (message.conversation_id,)
            ).fetchone()[0]
            removed = RemovedMessages(message.conversation_id, leaf, rows, attachments, files)
            if leaf in doomed:
                newest = branches.newest_leaf_below(db, message.parent_id, message.conversation_id)
                db.execute(
                    "UPDATE conversations SET current_leaf = ? WHERE id = ?",
                    (newest, message.conversation_id),
                )
        return removed

    @guarded
    def restore_messages(self, removed: RemovedMessages) -> None:
        """Put deleted messages back as they were, ids and shown branch included (undo). A
        place another message took since (ValueError) or a conversation gone (KeyError)
        changes nothing."""
        self.conversation(removed.conversation_id)
        with schema.transaction(self._db) as db:
            file_ids = {file["id"]: _file_id(db, file) for file in removed.files}
            for row in removed.rows:
                _insert(db, "messages", row)
            for row in removed.attachments:
                _insert(db, "message_attachments", {**row, "file_id": file_ids[row["file_id"]]})
            db.execute(
                "UPDATE conversations SET current_leaf = ? WHERE id = ?",
                (removed.leaf, removed.conversation_id),
            )

    # -- attachments -------------------------------------------------------------------------

    @guarded
    def attach(self, message_id: int, included: Sequence[Included]) -> None:
        """Save the files that went with a question (each content once, however often)."""
        with schema.transaction(self._db) as db:
            attachments.link(db, message_id, included)

    @guarded
    def attachments(self, message_ids: Iterable[int]) -> dict[int, list[StoredAttachment]]:
        """The files attached to these messages, by message id (messages without: left out)."""
        return attachments.of_messages(self._db, message_ids)

    @guarded
    def included(self, stored: Sequence[StoredAttachment]) -> list[Included]:
        """Stored attachments with their text: what the prompt and retrieval take."""
        return attachments.included(self._db, stored)

    @guarded
    def attachment_text(self, sha256: str) -> str:
        return attachments.text_of(self._db, sha256)

    # -- branches ----------------------------------------------------------------------------

    @guarded
    def visible_messages(self, conversation_id: int) -> list[StoredMessage]:
        """The messages of the visible branch, first to last."""
        leaf = self.conversation(conversation_id).current_leaf
        return branches.visible_messages(self._db, conversation_id, leaf)

    @guarded
    def branch(self, message: StoredMessage) -> Branch:
        """Which version of this turn the message is, among its siblings."""
        return branches.branch_of(self._db, message)

    @guarded
    def child_count(self, message_id: int) -> int:
        """How many messages follow this one, on all branches."""
        return branches.child_count(self._db, message_id)

    @guarded
    def switch_branch(self, message_id: int) -> None:
        """Show the branch through this message (its newest continuation)."""
        message = self.message(message_id)
        newest = branches.newest_leaf_below(self._db, message_id, message.conversation_id)
        self._db.execute(
            "UPDATE conversations SET current_leaf = ? WHERE id = ?",
            (newest, message.conversation_id),
        )

    @guarded
    def add_thoughts(
        self, conversation_id: int, question_id: int, n: int, *, model: str = ""
    ) -> list[StoredMessage]:
        """n empty answers to a question, streaming, as one Think harder vote (votes.py)."""
        with schema.transaction(self._db) as db:
            ids = votes.add_thoughts(db, conversation_id, question_id, n, model)
        return [self.message(message_id) for message_id in ids]

    @guarded
    def vote(self, message: StoredMessage) -> list[StoredMessage]:
        """The answers of the vote this message is in, in order ([] when in none)."""
        return votes.vote_of(self._db, message)

    # -- search, export and import -----------------------------------------------------------

    @guarded
    def search(self, query: str, limit: int = 50, *, in_files: bool = False) -> list[SearchHit]:
        """Full-text search over answers, questions and reasoning (words, prefix match), then
        questions whose attached files are named so (in_files: or hold those words)."""
        hits = search(self._db, query, limit)
        seen = {(hit.message_id, hit.in_file) for hit in hits}
        for hit in search_files(self._db, query, limit, contents=in_files):
            if (hit.message_id, hit.in_file) not in seen:
                seen.add((hit.message_id, hit.in_file))
                hits.append(hit)
        return hits[:limit]

    @guarded
    def export_json(self, conversation_id: int) -> dict[str, Any]:
        """The whole conversation, every branch included: import_json brings it back as it was."""
        rows = self._db.execute(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        )
        messages = [message_from_row(row) for row in rows]
        attached = attachments.export(self._db, [m.id for m in messages])
        return exchange.export_json(self.conversation(conversation_id), messages, attached)

    @guarded
    def import_json(self, data: dict[str, Any]) -> Conversation:
        """Add an exported conversation as a new one (new ids, same content and branches)."""
        return self.conversation(exchange.import_json(self._db, data))

    @guarded
    def export_markdown(self, conversation_id: int, *, reasoning: bool = True) -> str:
        """The visible branch as Markdown, reasoning in a <details> block or left out."""
        visible = self.visible_messages(conversation_id)
        return exchange.export_markdown(
            self.conversation(conversation_id),
            visible,
            reasoning=reasoning,
            attached=self.attachments(m.id for m in visible),
        )


def _figure_values(figures: AnswerFigures | None) -> dict[str, Any]:
    if figures is None:
        return {}
    return {key: getattr(figures, key) for key in FIGURE_COLUMNS}


def default_store() -> ConversationStore:
    """The profile's conversation database, in the data dir beside the models."""
    return ConversationStore(data_dir() / "conversations.sqlite")
