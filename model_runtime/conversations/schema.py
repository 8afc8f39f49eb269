"""The conversation database's file: opened safely, migrated in order, backed up before that.

SQLite in WAL mode; the schema version is PRAGMA user_version, and MIGRATIONS[n - 1] takes a
database from version n - 1 to n inside one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from model_runtime.conversations.failures import storage_error
from model_runtime.errors import ConversationStoreError

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
    # 3: files attached to questions, stored once per content (sha256) and searchable
    """
    CREATE TABLE attachment_files (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL,
        text TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE message_attachments (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        file_id INTEGER NOT NULL REFERENCES attachment_files(id),
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        mode TEXT NOT NULL DEFAULT 'whole',
        spans TEXT NOT NULL DEFAULT '[]',
        tokens INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX message_attachments_by_message ON message_attachments(message_id, position);
    CREATE INDEX message_attachments_by_file ON message_attachments(file_id);
    CREATE TRIGGER attachment_files_unused AFTER DELETE ON message_attachments BEGIN
        DELETE FROM attachment_files WHERE id = old.file_id
            AND NOT EXISTS (SELECT 1 FROM message_attachments WHERE file_id = old.file_id);
    END;
    CREATE VIRTUAL TABLE attachment_files_fts USING fts5(
        text, content='attachment_files', content_rowid='id'
    );
    CREATE TRIGGER attachment_files_fts_insert AFTER INSERT ON attachment_files BEGIN
        INSERT INTO attachment_files_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER attachment_files_fts_delete AFTER DELETE ON attachment_files BEGIN
        INSERT INTO attachment_files_fts(attachment_files_fts, rowid, text)
        VALUES ('delete', old.id, old.text);
    END;
    """,
    # 4: what Ponder did to an answer's thinking (answered on request, a budget, a loop) and
    #    why it stopped the answer, in words, and the time to the first token: shown again
    #    when the chat is opened
    """
    ALTER TABLE messages ADD COLUMN thinking_note TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN finish_note TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN ttft_seconds REAL NOT NULL DEFAULT 0;
    """,
    # 5: which model last answered a conversation, as an identity that can be loaded again
    #    (model_runtime/models/model_ref.py: store:ID, starter:, file:PATH, remote:NAME)
    """
    ALTER TABLE conversations ADD COLUMN model_ref TEXT NOT NULL DEFAULT '';
    """,
    # 6: Think harder: the answers of one vote share the id of its first answer (votes.py)
    """
    ALTER TABLE messages ADD COLUMN vote_id INTEGER NOT NULL DEFAULT 0;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def open_database(path: Path) -> sqlite3.Connection:
    """Connect with Ponder's settings; refuse a newer Ponder's file, or one SQLite can't read
    or finds damaged anywhere. A refused file is left as it was: it is checked before the
    connection turns on the write-ahead log or anything else writes."""
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise storage_error(exc, path) or _damaged(path, str(exc)) from exc
    try:
        db.row_factory = sqlite3.Row
        _check(db, path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # durable across an app crash
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=5000")
    except BaseException:
        db.close()
        raise
    return db


def _check(db: sqlite3.Connection, path: Path) -> None:
    """The file is a database of a schema this Ponder knows, and every page of it is sound."""
    try:
        version = schema_version(db)
        if version > SCHEMA_VERSION:
            raise ConversationStoreError(
                f"The conversation database was written by a newer Ponder (schema "
                f"{version}, this one knows {SCHEMA_VERSION}). Update Ponder; the file is "
                "left untouched.",
                path=path,
            )
        problems = [str(row[0]) for row in db.execute("PRAGMA quick_check(3)")]
    except sqlite3.DatabaseError as exc:
        error = storage_error(exc, path)
        if error is not None and error.problem != "damaged":
            raise error from exc
        raise _damaged(path, str(exc)) from exc
    if problems != ["ok"]:
        lines = [line for row in problems for line in row.splitlines()]
        raise _damaged(path, next((x for x in lines if not x.startswith("***")), lines[0]))


def _damaged(path: Path, why: str) -> ConversationStoreError:
    backups = sorted(p.name for p in path.parent.glob(f"{path.stem}*.backup{path.suffix}"))
    restore = f" or put a backup in its place ({', '.join(backups)})" if backups else ""
    return ConversationStoreError(
        f"The conversation database {path} can't be opened: it is damaged ({why}). Ponder "
        f"left it untouched. Move it out of that folder to start with an empty history{restore}; "
        "keep the damaged file: SQLite's .recover command can save most of it.",
        path=path,
    )


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, all or nothing; inside another transaction, a savepoint.

    A failed write or COMMIT (a full disk) may have ended the transaction already; what is
    left of it is rolled back, and the first error is the one raised.
    """
    if db.in_transaction:
        with _savepoint(db):
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            with suppress(sqlite3.Error):  # the first error is the one to tell
                db.execute("ROLLBACK")
        raise


@contextmanager
def _savepoint(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("SAVEPOINT nested")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # the outer transaction is still there: undo this part alone
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK TO nested")
                db.execute("RELEASE nested")
        raise
    db.execute("RELEASE nested")


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION; an existing database is backed up first."""
    version = schema_version(db)
    if version == SCHEMA_VERSION:
        return
    if version > 0:
        backup(db, path.with_name(f"{path.stem}.v{version}.backup.sqlite"))
    for number in range(version + 1, SCHEMA_VERSION + 1):
        with transaction(db):
            for statement in statements(MIGRATIONS[number - 1]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")


def backup(db: sqlite3.Connection, target: Path) -> Path:
    """A consistent copy of the whole database (SQLite's online backup)."""
    target = Path(target)
    if target.exists():
        target = target.with_name(f"{target.stem}-{int(time.time())}{target.suffix}")
    copy = sqlite3.connect(target)
    with copy:
        db.backup(copy)
    copy.close()
    return target


def statements(script: str) -> Sequence[str]:
    """Split a migration script into statements (triggers keep their inner semicolons)."""
    found, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    if current.strip():
        found.append(current.strip())
    return found
