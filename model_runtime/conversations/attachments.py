"""Files attached to questions: stored once per content (sha256) however often they are
attached, linked to each question with what of them went in (whole, or which passages).

A file's row goes when its last link goes (a trigger), so deleting a question, or purging a
deleted conversation, deletes the files only it used.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from model_runtime.attachments.files import AttachedFile, stored_file
from model_runtime.attachments.prompt import Included, Mode


@dataclass(frozen=True)
class StoredAttachment:
    """One file of a question, as saved: its name, what it is, and what of it went in."""

    message_id: int
    position: int
    name: str
    kind: str
    size: int
    sha256: str
    mode: Mode
    spans: tuple[tuple[int, int], ...]
    tokens: int


_SELECT = """
    SELECT a.message_id, a.position, a.name, f.kind, f.size, f.sha256, a.mode, a.spans, a.tokens
    FROM message_attachments a JOIN attachment_files f ON f.id = a.file_id
"""


def _record(row: sqlite3.Row) -> StoredAttachment:
    spans = tuple((int(a), int(b)) for a, b in json.loads(row["spans"] or "[]"))
    mode: Mode = "passages" if row["mode"] == "passages" else "whole"
    return StoredAttachment(
        row["message_id"],
        row["position"],
        row["name"],
        row["kind"],
        row["size"],
        row["sha256"],
        mode,
        spans,
        row["tokens"],
    )


def file_id(db: sqlite3.Connection, file: AttachedFile) -> int:
    """The stored file with this content, added if it is new (the same file is kept once)."""
    row = db.execute("SELECT id FROM attachment_files WHERE sha256 = ?", (file.sha256,)).fetchone()
    if row is not None:
        return int(row[0])
    cursor = db.execute(
        "INSERT INTO attachment_files (sha256, kind, size, text, created) VALUES (?, ?, ?, ?, ?)",
        (file.sha256, file.kind, file.size, file.text, time.time()),
    )
    return int(cursor.lastrowid or 0)


def link(db: sqlite3.Connection, message_id: int, included: Sequence[Included]) -> None:
    """Attach files to a message, in order (call inside a transaction)."""
    for position, item in enumerate(included):
        db.execute(
            "INSERT INTO message_attachments (message_id, file_id, position, name, mode, spans,"
            " tokens) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                message_id,
                file_id(db, item.file),
                position,
                item.file.name,
                item.mode,
                json.dumps([list(span) for span in item.spans]),
                item.tokens,
            ),
        )


def of_messages(
    db: sqlite3.Connection, message_ids: Iterable[int]
) -> dict[int, list[StoredAttachment]]:
    """The attachments of these messages, by message id, in order."""
    ids = list(message_ids)
    out: dict[int, list[StoredAttachment]] = {}
    for start in range(0, len(ids), 500):  # SQLite's limit on parameters
        chunk = ids[start : start + 500]
        rows = db.execute(
            f"{_SELECT} WHERE a.message_id IN ({', '.join('?' for _ in chunk)})"
            " ORDER BY a.message_id, a.position",
            chunk,
        )
        for row in rows:
            out.setdefault(row["message_id"], []).append(_record(row))
    return out


def text_of(db: sqlite3.Connection, sha256: str) -> str:
    row = db.execute("SELECT text FROM attachment_files WHERE sha256 = ?", (sha256,)).fetchone()
    if row is None:
        raise KeyError(f"no attached file {sha256}")
    return str(row[0])


def included(db: sqlite3.Connection, attachments: Sequence[StoredAttachment]) -> list[Included]:
    """Stored attachments with their text, as the prompt and retrieval take them."""
    return [
        Included(
            stored_file(a.name, a.kind, a.size, a.sha256, text_of(db, a.sha256)),
            a.mode,
            a.spans,
            a.tokens,
        )
        for a in attachments
    ]


def count(db: sqlite3.Connection) -> tuple[int, int]:
    """(stored files, links to questions): what the database holds."""
    files = db.execute("SELECT COUNT(*) FROM attachment_files").fetchone()[0]
    links = db.execute("SELECT COUNT(*) FROM message_attachments").fetchone()[0]
    return int(files), int(links)


# -- export and import --------------------------------------------------------------------


def export(db: sqlite3.Connection, message_ids: Sequence[int]) -> dict[str, Any]:
    """The attachments of these messages and the text of their files, for a JSON export."""
    links = [a for group in of_messages(db, message_ids).values() for a in group]
    files = {
        a.sha256: {"kind": a.kind, "size": a.size, "text": text_of(db, a.sha256)} for a in links
    }
    return {
        "attachments": [
            {
                "message_id": a.message_id,
                "position": a.position,
                "name": a.name,
                "sha256": a.sha256,
                "mode": a.mode,
                "spans": [list(span) for span in a.spans],
                "tokens": a.tokens,
            }
            for a in links
        ],
        "files": files,
    }


def import_links(db: sqlite3.Connection, data: dict[str, Any], new_ids: dict[int, int]) -> None:
    """Add an export's attachments to the imported messages (an export without any: none)."""
    files = data.get("files") or {}
    by_message: dict[int, list[Included]] = {}
    for entry in sorted(
        data.get("attachments") or [], key=lambda e: (e["message_id"], e["position"])
    ):
        source = files[entry["sha256"]]
        file = stored_file(
            str(entry["name"]),
            str(source["kind"]),
            int(source["size"]),
            str(entry["sha256"]),
            str(source["text"]),
        )
        mode: Mode = "passages" if entry.get("mode") == "passages" else "whole"
        spans = tuple((int(a), int(b)) for a, b in entry.get("spans") or [])
        item = Included(file, mode, spans, int(entry.get("tokens") or 0))
        by_message.setdefault(new_ids[entry["message_id"]], []).append(item)
    for message_id, items in by_message.items():
        link(db, message_id, items)
