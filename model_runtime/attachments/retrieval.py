"""Which passages answer a question: an in-memory SQLite FTS5 index ranked by BM25 (no
embedding model), then the best ones that fit the room left in the context."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence

from model_runtime.attachments.passages import Passage

# Words too common to say what a question is about.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our out over own same she should
    so some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your
    yours tell show find give explain says say said according document file text page pages
    please mentioned mention""".split()  # noqa: SIM905 - a list of words reads better as one
)
_WORD = re.compile(r"\w+", re.UNICODE)


def query_terms(question: str) -> list[str]:
    """The question's words that can find a passage: no stopwords, no single letters."""
    terms = []
    for word in _WORD.findall(question.lower()):
        if word in STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        if word not in terms:
            terms.append(word)
    return terms


class PassageIndex:
    """Passages in an in-memory FTS5 table (Porter stemming), searched with BM25."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = list(passages)
        self._db = sqlite3.connect(":memory:")
        self._db.execute(
            "CREATE VIRTUAL TABLE passages USING fts5(text, tokenize='porter unicode61')"
        )
        with self._db:
            self._db.executemany(
                "INSERT INTO passages (rowid, text) VALUES (?, ?)",
                ((i, p.text) for i, p in enumerate(self.passages)),
            )

    def rank(self, question: str, limit: int = 200) -> list[int]:
        """Indices of the passages that match any of the question's words, best first."""
        terms = query_terms(question)
        if not terms:
            return []
        match = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        rows = self._db.execute(
            "SELECT rowid FROM passages WHERE passages MATCH ? ORDER BY bm25(passages) LIMIT ?",
            (match, limit),
        )
        return [int(row[0]) for row in rows]

    def close(self) -> None:
        self._db.close()


def select_passages(
    question: str,
    passages: Sequence[Passage],
    budget: int,
    tokens: Callable[[Passage], int],
) -> list[Passage]:
    """The passages that best match the question and fit in `budget` tokens together, in
    reading order. The best matches come first, then their neighbours while room is left; a
    question that matches nothing gets the files' first passages."""
    index = PassageIndex(passages)
    try:
        ranked = index.rank(question)
    finally:
        index.close()
    order = ranked + _neighbours(ranked, passages) if ranked else list(range(len(passages)))
    chosen: list[int] = []
    left = budget
    for i in order:
        cost = tokens(passages[i])
        if cost <= left:
            chosen.append(i)
            left -= cost
    return [
        passages[i] for i in sorted(chosen, key=lambda i: (passages[i].file, passages[i].start))
    ]


def _neighbours(ranked: list[int], passages: Sequence[Passage]) -> list[int]:
    """The passages just before and after the matches, best match first (same file only)."""
    seen = set(ranked)
    out = []
    for i in ranked:
        for j in (i + 1, i - 1):
            if 0 <= j < len(passages) and j not in seen and passages[j].file == passages[i].file:
                seen.add(j)
                out.append(j)
    return out
