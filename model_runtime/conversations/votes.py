"""Think harder's thoughts in the database: the answers of one vote are siblings (versions of
the same question, ◀ 1/8 ▶) that share a vote_id, the id of the vote's first answer (schema 6).

Each thought is an answer like any other: saved as it streams, searched and exported. The
tally is counted again from their answers whenever it is shown (chat/vote.py), so a thought
deleted later simply no longer counts.
"""

from __future__ import annotations

import sqlite3
import time

from model_runtime.conversations.records import StoredMessage, message_from_row


def add_thoughts(
    db: sqlite3.Connection, conversation_id: int, question_id: int, n: int, model: str
) -> list[int]:
    """Insert n empty, streaming answers to a question as one vote (call it in a transaction);
    their ids, in order. The first becomes the conversation's leaf until the vote is counted."""
    now = time.time()
    ids = []
    for _ in range(n):
        cursor = db.execute(
            "INSERT INTO messages (conversation_id, parent_id, role, created, model, state)"
            " VALUES (?, ?, 'assistant', ?, ?, 'streaming')",
            (conversation_id, question_id, now, model),
        )
        ids.append(int(cursor.lastrowid or 0))
    db.execute(
        f"UPDATE messages SET vote_id = ? WHERE id IN ({', '.join('?' * n)})", (ids[0], *ids)
    )
    db.execute(
        "UPDATE conversations SET current_leaf = ?, updated = ? WHERE id = ?",
        (ids[0], now, conversation_id),
    )
    return ids


def vote_of(db: sqlite3.Connection, message: StoredMessage) -> list[StoredMessage]:
    """The answers of the vote a message belongs to, in order; [] when it is in none."""
    if not message.vote_id:
        return []
    rows = db.execute(
        "SELECT * FROM messages WHERE conversation_id = ? AND vote_id = ? ORDER BY id",
        (message.conversation_id, message.vote_id),
    )
    return [message_from_row(row) for row in rows]
