"""Branches: every edit or regeneration keeps the old version as a sibling in a message tree.

A conversation's current_leaf names the branch shown; these functions walk the tree.
"""

from __future__ import annotations

import sqlite3

from model_runtime.conversations.records import Branch, StoredMessage, message_from_row


def visible_messages(
    db: sqlite3.Connection, conversation_id: int, leaf: int | None
) -> list[StoredMessage]:
    """The messages from the root to `leaf`, first to last."""
    by_id = {
        row["id"]: message_from_row(row)
        for row in db.execute(
            "SELECT * FROM messages WHERE conversation_id = ?", (conversation_id,)
        )
    }
    chain: list[StoredMessage] = []
    node = by_id.get(leaf) if leaf else None
    while node is not None:
        chain.append(node)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    chain.reverse()
    return chain


def branch_of(db: sqlite3.Connection, message: StoredMessage) -> Branch:
    """Which version of this turn the message is, among its siblings."""
    ids = tuple(
        row[0]
        for row in db.execute(
            "SELECT id FROM messages WHERE conversation_id = ? AND parent_id IS ?"
            " AND role = ? ORDER BY id",
            (message.conversation_id, message.parent_id, message.role),
        )
    )
    return Branch(index=ids.index(message.id) + 1, count=len(ids), sibling_ids=ids)


def child_count(db: sqlite3.Connection, message_id: int) -> int:
    """How many messages follow this one, on all branches."""
    return int(
        db.execute("SELECT COUNT(*) FROM messages WHERE parent_id = ?", (message_id,)).fetchone()[0]
    )


def newest_leaf_below(
    db: sqlite3.Connection, message_id: int | None, conversation_id: int
) -> int | None:
    """Follow the newest child from message_id down to a leaf."""
    node = message_id
    while True:
        child = db.execute(
            "SELECT MAX(id) FROM messages WHERE conversation_id = ? AND parent_id IS ?",
            (conversation_id, node),
        ).fetchone()[0]
        if child is None:
            return node
        node = child


def subtree(db: sqlite3.Connection, message_id: int) -> list[int]:
    """The message and everything that followed it on any branch, parents before children."""
    found = [message_id]
    index = 0
    while index < len(found):
        found += [
            row[0]
            for row in db.execute("SELECT id FROM messages WHERE parent_id = ?", (found[index],))
        ]
        index += 1
    return found
