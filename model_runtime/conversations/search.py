"""Full-text search over questions, answers and reasoning (SQLite FTS5, prefix match), and over
the files attached to questions: by name, and by content when asked."""

from __future__ import annotations

import sqlite3

from model_runtime.conversations.records import SearchHit

_SEARCH = """
    SELECT m.conversation_id, m.id, c.title,
           snippet(messages_fts, 0, char(2), char(3), '…', 10) AS in_content,
           snippet(messages_fts, 1, char(2), char(3), '…', 10) AS in_reasoning
    FROM messages_fts
    JOIN messages m ON m.id = messages_fts.rowid
    JOIN conversations c ON c.id = m.conversation_id
    WHERE messages_fts MATCH ? AND c.deleted IS NULL
    ORDER BY rank LIMIT ?
"""


def search(db: sqlite3.Connection, query: str, limit: int = 50) -> list[SearchHit]:
    """Messages whose words start with every word of the query, best first."""
    words = [w.replace('"', '""') for w in query.split()]
    if not words:
        return []
    match = " ".join(f'"{word}"*' for word in words)
    hits = []
    for row in db.execute(_SEARCH, (match, limit)):
        in_reasoning = "\x02" not in row["in_content"]  # match markers no text contains
        marked = row["in_reasoning"] if in_reasoning else row["in_content"]
        excerpt = marked.replace("\x02", "[").replace("\x03", "]")
        plain, marks = _spans(marked)
        hits.append(
            SearchHit(row[0], row[1], row["title"], excerpt, in_reasoning, plain=plain, marks=marks)
        )
    return hits


def _spans(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The text without FTS5's markers, and where the marked matches are in it."""
    plain: list[str] = []
    marks: list[tuple[int, int]] = []
    start = length = 0
    for char in marked:
        if char == "\x02":
            start = length
        elif char == "\x03":
            marks.append((start, length))
        else:
            plain.append(char)
            length += 1
    return "".join(plain), tuple(marks)


_FILE_NAMES = """
    SELECT m.conversation_id, m.id, c.title, a.name
    FROM message_attachments a
    JOIN messages m ON m.id = a.message_id
    JOIN conversations c ON c.id = m.conversation_id
    WHERE a.name LIKE ? ESCAPE '\\' AND c.deleted IS NULL
    ORDER BY m.id DESC LIMIT ?
"""
_FILE_CONTENTS = """
    SELECT m.conversation_id, m.id, c.title, a.name,
           snippet(attachment_files_fts, 0, char(2), char(3), '…', 10) AS excerpt
    FROM attachment_files_fts
    JOIN message_attachments a ON a.file_id = attachment_files_fts.rowid
    JOIN messages m ON m.id = a.message_id
    JOIN conversations c ON c.id = m.conversation_id
    WHERE attachment_files_fts MATCH ? AND c.deleted IS NULL
    ORDER BY rank LIMIT ?
"""


def search_files(
    db: sqlite3.Connection, query: str, limit: int = 50, *, contents: bool = False
) -> list[SearchHit]:
    """Questions with an attached file whose name contains the query; with contents, also
    those whose files' text has every word of it."""
    query = query.strip()
    if not query:
        return []
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    hits = [
        SearchHit(row[0], row[1], row["title"], f"attached {row['name']}", False, row["name"])
        for row in db.execute(_FILE_NAMES, (pattern, limit))
    ]
    words = [w.replace('"', '""') for w in query.split()]
    if contents and words:
        match = " ".join(f'"{word}"*' for word in words)
        for row in db.execute(_FILE_CONTENTS, (match, limit)):
            excerpt = row["excerpt"].replace("\x02", "[").replace("\x03", "]")
            plain, marks = _spans(row["excerpt"])
            hits.append(
                SearchHit(row[0], row[1], row["title"], excerpt, False, row["name"], plain, marks)
            )
    return hits
