"""Conversations on disk: SQLite in WAL mode, versioned migrations, branches, full-text search.

Every message is written as it streams (the caller saves the partial text about twice a
second), so a hard kill loses at most that much; on the next open, answers that were still
streaming are marked interrupted and can be continued.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from model_runtime.errors import PonderError

MessageState = Literal["complete", "streaming", "interrupted"]

# Ordered migrations; index + 1 is the schema version they produce.
MIGRATIONS: tuple[str, ...] = (
    # 1: conversations and a flat list of messages
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT '',
        params TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL DEFAULT '',
        reasoning TEXT NOT NULL DEFAULT '',
        reasoning_seconds REAL NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        n_prompt INTEGER NOT NULL DEFAULT 0,
        n_generated INTEGER NOT NULL DEFAULT 0,
        tokens_per_second REAL NOT NULL DEFAULT 0,
        model TEXT NOT NULL DEFAULT '',
        finish_reason TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'complete',
        created REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
    # 2: branches (edit / regenerate keep the old version), soft delete with undo,
    #    automatic titles, full-text search over answers and reasoning
    """
    ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages(id);
    UPDATE messages SET parent_id = (
        SELECT MAX(p.id) FROM messages p
        WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id
    );
    ALTER TABLE conversations ADD COLUMN current_leaf INTEGER;
    UPDATE conversations SET current_leaf = (
        SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = conversations.id
    );
    ALTER TABLE conversations ADD COLUMN deleted REAL;
    ALTER TABLE conversations ADD COLUMN title_is_auto INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX messages_by_parent ON messages(conversation_id, parent_id);
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, reasoning, content='messages', content_rowid='id'
    );
    INSERT INTO messages_fts(rowid, content, reasoning)
        SELECT id, content, reasoning FROM messages;
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content, reasoning)
        VALUES (new.id, new.content, new.reasoning);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, reasoning)
        VALUES ('delete', old.id, old.content, old.reasoning);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, reasoning ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, reasoning)
        VALUES ('delete', old.id, old.content, old.reasoning);
        INSERT INTO messages_fts(rowid, content, reasoning)
        VALUES (new.id, new.content, new.reasoning);
    END;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
TITLE_LENGTH = 60
EXPORT_FORMAT = "ponder-conversation"


class ConversationStoreError(PonderError, RuntimeError):
    """The conversation database can't be used (newer schema, damaged file, bad import)."""


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


@dataclass(frozen=True)
class SearchHit:
    """A message that matches a search, with a short excerpt around the match."""

    conversation_id: int
    message_id: int
    title: str
    excerpt: str
    in_reasoning: bool


@dataclass(frozen=True)
class Branch:
    """Where a message stands among its siblings (1-based), for ◀ 1/2 ▶."""

    index: int
    count: int
    sibling_ids: tuple[int, ...] = field(default=())


MESSAGE_COLUMNS = tuple(f.name for f in fields(StoredMessage))


def make_title(first_user_message: str) -> str:
    """A title from the first question (never from reasoning): its first line, shortened."""
    line = " ".join(first_user_message.strip().split("\n", 1)[0].split())
    if len(line) <= TITLE_LENGTH:
        return line or "New chat"
    cut = line[:TITLE_LENGTH].rsplit(" ", 1)[0]
    return (cut or line[:TITLE_LENGTH]) + "…"


class ConversationStore:
    """All conversations of one profile, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open()
        self._migrate()
        self.recovered = self._recover_interrupted()

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                db.close()
                raise ConversationStoreError(
                    f"The conversation database was written by a newer Ponder (schema "
                    f"{version}, this one knows {SCHEMA_VERSION}). Update Ponder; the file is "
                    "left untouched."
                )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # durable across an app crash
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=5000")
        except sqlite3.DatabaseError as exc:
            raise ConversationStoreError(
                f"The conversation database {self.path} can't be opened: {exc}"
            ) from exc
        return db

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- schema ----------------------------------------------------------------------------

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.version
        if version == SCHEMA_VERSION:
            return
        if version > 0:
            self.backup(self.path.with_name(f"{self.path.stem}.v{version}.backup.sqlite"))
        for number in range(version + 1, SCHEMA_VERSION + 1):
            with self._transaction() as db:
                for statement in _statements(MIGRATIONS[number - 1]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    def backup(self, target: Path) -> Path:
        """A consistent copy of the whole database (SQLite's online backup)."""
        target = Path(target)
        if target.exists():
            target = target.with_name(f"{target.stem}-{int(time.time())}{target.suffix}")
        copy = sqlite3.connect(target)
        with copy:
            self._db.backup(copy)
        copy.close()
        return target

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def _recover_interrupted(self) -> int:
        """Answers still marked streaming were cut off by a crash or a kill: say so."""
        cursor = self._db.execute(
            "UPDATE messages SET state = 'interrupted' WHERE state = 'streaming'"
        )
        return cursor.rowcount

    # -- conversations ---------------------------------------------------------------------

    def create_conversation(
        self, *, model: str = "", system_prompt: str = "", params: dict[str, Any] | None = None
    ) -> Conversation:
        now = time.time()
        cursor = self._db.execute(
            "INSERT INTO conversations (title, model, system_prompt, params, created, updated)"
            " VALUES ('', ?, ?, ?, ?, ?)",
            (model, system_prompt, json.dumps(params or {}), now, now),
        )
        return self.conversation(int(cursor.lastrowid or 0))

    def conversation(self, conversation_id: int) -> Conversation:
        row = self._db.execute(
            "SELECT * FROM conversations WHERE id = ? AND deleted IS NULL", (conversation_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no conversation {conversation_id}")
        return _conversation(row)

    def conversations(self) -> list[Conversation]:
        """Every conversation not deleted, most recently updated first."""
        rows = self._db.execute(
            "SELECT * FROM conversations WHERE deleted IS NULL ORDER BY updated DESC, id DESC"
        )
        return [_conversation(row) for row in rows]

    def update_conversation(self, conversation_id: int, **changes: Any) -> None:
        """Change model, system_prompt or params (a dict)."""
        allowed = {"model", "system_prompt", "params"}
        if not changes.keys() <= allowed:
            raise ValueError(f"can't change {sorted(changes.keys() - allowed)}")
        if "params" in changes:
            changes["params"] = json.dumps(changes["params"])
        assignments = ", ".join(f"{key} = ?" for key in changes)
        self._db.execute(
            f"UPDATE conversations SET {assignments}, updated = ? WHERE id = ?",
            (*changes.values(), time.time(), conversation_id),
        )

    def rename(self, conversation_id: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise ValueError("A title can't be empty.")
        self._db.execute(
            "UPDATE conversations SET title = ?, title_is_auto = 0 WHERE id = ?",
            (title, conversation_id),
        )

    def delete(self, conversation_id: int) -> None:
        """Hide a conversation; undo_delete brings it back until purge_deleted runs."""
        self._db.execute(
            "UPDATE conversations SET deleted = ? WHERE id = ?", (time.time(), conversation_id)
        )

    def undo_delete(self, conversation_id: int) -> None:
        self._db.execute("UPDATE conversations SET deleted = NULL WHERE id = ?", (conversation_id,))

    def remove(self, conversation_id: int) -> None:
        """Remove one conversation for good at once (one whose only question got no answer)."""
        with self._transaction() as db:
            db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def purge_deleted(self, older_than_seconds: float = 0.0) -> int:
        """Remove deleted conversations for good (the app does this at start, after a day)."""
        cutoff = time.time() - older_than_seconds
        with self._transaction() as db:
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

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str = "",
        *,
        parent_id: int | Literal["leaf"] | None = "leaf",
        state: MessageState = "complete",
        **figures: Any,
    ) -> StoredMessage:
        """Append a message after parent_id (default: the current leaf) and make it the leaf."""
        conversation = self.conversation(conversation_id)
        parent = conversation.current_leaf if parent_id == "leaf" else parent_id
        now = time.time()
        values = {"content": content, "state": state, **figures}
        unknown = values.keys() - set(MESSAGE_COLUMNS)
        if unknown:
            raise ValueError(f"unknown message fields {sorted(unknown)}")
        columns = ["conversation_id", "parent_id", "role", "created", *values]
        with self._transaction() as db:
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
            if role == "user" and conversation.title_is_auto and not conversation.title:
                db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ?",
                    (make_title(content), conversation_id),
                )
        return self.message(message_id)

    def message(self, message_id: int) -> StoredMessage:
        row = self._db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise KeyError(f"no message {message_id}")
        return _message(row)

    def update_message(self, message_id: int, **values: Any) -> None:
        """Save streamed text or final figures (content, reasoning, state, stats …)."""
        unknown = values.keys() - set(MESSAGE_COLUMNS) | ({"id", "conversation_id"} & values.keys())
        if unknown:
            raise ValueError(f"can't update {sorted(unknown)}")
        assignments = ", ".join(f"{key} = ?" for key in values)
        self._db.execute(
            f"UPDATE messages SET {assignments} WHERE id = ?", (*values.values(), message_id)
        )

    def delete_message(self, message_id: int) -> None:
        """Remove a message and everything that followed it on any branch."""
        message = self.message(message_id)
        with self._transaction() as db:
            doomed = [message_id]
            index = 0
            while index < len(doomed):
                doomed += [
                    row[0]
                    for row in db.execute(
                        "SELECT id FROM messages WHERE parent_id = ?", (doomed[index],)
                    )
                ]
                index += 1
            for doomed_id in reversed(doomed):
                db.execute("DELETE FROM messages WHERE id = ?", (doomed_id,))
            leaf = self._db.execute(
                "SELECT current_leaf FROM conversations WHERE id = ?", (message.conversation_id,)
            ).fetchone()[0]
            if leaf in doomed:
                db.execute(
                    "UPDATE conversations SET current_leaf = ? WHERE id = ?",
                    (
                        self._newest_leaf_below(message.parent_id, message.conversation_id),
                        message.conversation_id,
                    ),
                )

    def visible_messages(self, conversation_id: int) -> list[StoredMessage]:
        """The messages of the visible branch, first to last."""
        conversation = self.conversation(conversation_id)
        by_id = {
            row["id"]: _message(row)
            for row in self._db.execute(
                "SELECT * FROM messages WHERE conversation_id = ?", (conversation_id,)
            )
        }
        chain: list[StoredMessage] = []
        node = by_id.get(conversation.current_leaf) if conversation.current_leaf else None
        while node is not None:
            chain.append(node)
            node = by_id.get(node.parent_id) if node.parent_id is not None else None
        chain.reverse()
        return chain

    def branch(self, message: StoredMessage) -> Branch:
        """Which version of this turn the message is, among its siblings."""
        ids = tuple(
            row[0]
            for row in self._db.execute(
                "SELECT id FROM messages WHERE conversation_id = ? AND parent_id IS ?"
                " AND role = ? ORDER BY id",
                (message.conversation_id, message.parent_id, message.role),
            )
        )
        return Branch(index=ids.index(message.id) + 1, count=len(ids), sibling_ids=ids)

    def child_count(self, message_id: int) -> int:
        """How many messages follow this one, on all branches."""
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM messages WHERE parent_id = ?", (message_id,)
            ).fetchone()[0]
        )

    def switch_branch(self, message_id: int) -> None:
        """Show the branch through this message (its newest continuation)."""
        message = self.message(message_id)
        self._db.execute(
            "UPDATE conversations SET current_leaf = ? WHERE id = ?",
            (self._newest_leaf_below(message_id, message.conversation_id), message.conversation_id),
        )

    def _newest_leaf_below(self, message_id: int | None, conversation_id: int) -> int | None:
        """Follow the newest child from message_id down to a leaf."""
        node = message_id
        while True:
            child = self._db.execute(
                "SELECT MAX(id) FROM messages WHERE conversation_id = ? AND parent_id IS ?",
                (conversation_id, node),
            ).fetchone()[0]
            if child is None:
                return node
            node = child

    # -- search ----------------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Full-text search over answers, questions and reasoning (words, prefix match)."""
        words = [w.replace('"', '""') for w in query.split()]
        if not words:
            return []
        match = " ".join(f'"{word}"*' for word in words)
        rows = self._db.execute(
            """
            SELECT m.conversation_id, m.id, c.title,
                   snippet(messages_fts, 0, char(2), char(3), '…', 10) AS in_content,
                   snippet(messages_fts, 1, char(2), char(3), '…', 10) AS in_reasoning
            FROM messages_fts
            JOIN messages m ON m.id = messages_fts.rowid
            JOIN conversations c ON c.id = m.conversation_id
            WHERE messages_fts MATCH ? AND c.deleted IS NULL
            ORDER BY rank LIMIT ?
            """,
            (match, limit),
        )
        hits = []
        for row in rows:
            in_reasoning = "\x02" not in row["in_content"]  # match markers no text contains
            excerpt = row["in_reasoning"] if in_reasoning else row["in_content"]
            excerpt = excerpt.replace("\x02", "[").replace("\x03", "]")
            hits.append(SearchHit(row[0], row[1], row["title"], excerpt, in_reasoning))
        return hits

    # -- export and import -----------------------------------------------------------------

    def export_json(self, conversation_id: int) -> dict[str, Any]:
        """The whole conversation, every branch included: import_json brings it back as it was."""
        conversation = self.conversation(conversation_id)
        messages = [
            asdict(_message(row))
            for row in self._db.execute(
                "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
            )
        ]
        return {
            "format": EXPORT_FORMAT,
            "version": 1,
            "conversation": asdict(conversation),
            "messages": messages,
        }

    def import_json(self, data: dict[str, Any]) -> Conversation:
        """Add an exported conversation as a new one (new ids, same content and branches)."""
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
            raise ConversationStoreError("This file is not a Ponder conversation export.")
        try:
            source = data["conversation"]
            messages = sorted(data["messages"], key=lambda m: m["id"])
            with self._transaction() as db:
                cursor = db.execute(
                    "INSERT INTO conversations (title, model, system_prompt, params, created,"
                    " updated, title_is_auto) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        source["title"],
                        source["model"],
                        source["system_prompt"],
                        json.dumps(source["params"]),
                        source["created"],
                        source["updated"],
                        int(source.get("title_is_auto", True)),
                    ),
                )
                conversation_id = int(cursor.lastrowid or 0)
                new_ids: dict[int, int] = {}
                for message in messages:
                    values = {
                        key: message[key]
                        for key in MESSAGE_COLUMNS
                        if key not in ("id", "conversation_id", "parent_id")
                    }
                    parent = message["parent_id"]
                    if parent is not None and parent not in new_ids:
                        raise ConversationStoreError("The export's message tree is broken.")
                    columns = ["conversation_id", "parent_id", *values]
                    cursor = db.execute(
                        f"INSERT INTO messages ({', '.join(columns)})"
                        f" VALUES ({', '.join('?' for _ in columns)})",
                        (
                            conversation_id,
                            new_ids.get(parent) if parent else None,
                            *values.values(),
                        ),
                    )
                    new_ids[message["id"]] = int(cursor.lastrowid or 0)
                leaf = source.get("current_leaf")
                db.execute(
                    "UPDATE conversations SET current_leaf = ? WHERE id = ?",
                    (new_ids.get(leaf) if leaf is not None else None, conversation_id),
                )
        except (KeyError, TypeError, ValueError, sqlite3.Error) as exc:
            raise ConversationStoreError(f"The conversation export is incomplete: {exc}") from exc
        return self.conversation(conversation_id)

    def export_markdown(self, conversation_id: int, *, reasoning: bool = True) -> str:
        """The visible branch as Markdown, reasoning in a <details> block or left out."""
        conversation = self.conversation(conversation_id)
        lines = [f"# {conversation.title or 'Conversation'}", ""]
        if conversation.model:
            lines += [f"*Model: {conversation.model}*", ""]
        if conversation.system_prompt:
            lines += ["**System:**", "", conversation.system_prompt, ""]
        for message in self.visible_messages(conversation_id):
            if message.role == "user":
                lines += ["## You", "", message.content, ""]
            elif message.role == "assistant":
                lines += ["## Assistant", ""]
                if reasoning and message.reasoning.strip():
                    summary = f"Thought for {message.reasoning_seconds:.0f} s"
                    lines += [
                        f"<details><summary>{summary}</summary>",
                        "",
                        message.reasoning.strip(),
                        "",
                        "</details>",
                        "",
                    ]
                lines += [message.content, ""]
        return "\n".join(lines).rstrip() + "\n"


def _statements(script: str) -> Sequence[str]:
    """Split a migration script into statements (triggers keep their inner semicolons)."""
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def _message(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(**{key: row[key] for key in MESSAGE_COLUMNS})


def _conversation(row: sqlite3.Row) -> Conversation:
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
    )


def default_store() -> ConversationStore:
    """The profile's conversation database, in the data dir beside the models."""
    from model_runtime.paths import data_dir

    return ConversationStore(data_dir() / "conversations.sqlite")
