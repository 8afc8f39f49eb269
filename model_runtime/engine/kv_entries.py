"""Saved KV states in memory: the tokens each was saved with, and the RAM tier (least recently
used first out, within a byte budget)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

_clock = itertools.count(1)


def as_tokens(tokens: Sequence[int] | np.ndarray) -> np.ndarray:
    """Tokens as a compact int32 array."""
    return np.asarray(tokens, dtype=np.int32)


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """How many leading tokens two token arrays share."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


def starts_with(tokens: np.ndarray, prefix: np.ndarray) -> bool:
    return len(prefix) <= len(tokens) and common_prefix(tokens, prefix) == len(prefix)


@dataclass(eq=False)
class Entry:
    """One saved state: the tokens the KV cache held, whose it is (a chat's tag), its size, and
    its bytes when it is in memory (None: only on disk, at `path`)."""

    tokens: np.ndarray
    tag: str
    size: int
    blob: bytearray | None = None
    path: str | None = None
    dropped: bool = False  # forgotten while waiting to be written
    used: int = field(default_factory=lambda: next(_clock))

    def touch(self) -> None:
        self.used = next(_clock)


def best_match(entries: Iterable[Entry], tokens: np.ndarray) -> tuple[Entry | None, int]:
    """The entry sharing the longest prefix with tokens, and how long that prefix is; the more
    recently used one of equals."""
    best, best_n = None, 0
    for entry in entries:
        n = common_prefix(entry.tokens, tokens)
        if n > best_n or (n == best_n and best is not None and n and entry.used > best.used):
            best, best_n = entry, n
    return best, best_n


class RamTier:
    """States kept in this process's memory, at most `budget` bytes, least recently used
    dropped first."""

    def __init__(self, budget: int) -> None:
        self.budget = max(0, budget)
        self.entries: list[Entry] = []

    @property
    def used_bytes(self) -> int:
        return sum(e.size for e in self.entries)

    def best(self, tokens: np.ndarray) -> tuple[Entry | None, int]:
        return best_match(self.entries, tokens)

    def covering(self, tokens: np.ndarray, tag: str) -> Entry | None:
        """An entry of this tag that holds at least these tokens (saving them again is moot)."""
        return next(
            (e for e in self.entries if e.tag == tag and starts_with(e.tokens, tokens)), None
        )

    def put(self, entry: Entry, room: int) -> bool:
        """Keep an entry (its blob set), dropping older ones of its tag that it extends and the
        least recently used beyond the budget; `room` is what the system can spare now. False
        when it does not fit at all (nothing is dropped then)."""
        limit = min(self.budget, self.used_bytes + room)
        if entry.blob is None or entry.size > limit:
            return False
        self.entries = [e for e in self.entries if not extends(entry, e)]
        self.entries.sort(key=lambda e: e.used)
        while self.entries and self.used_bytes + entry.size > limit:
            self.entries.pop(0)
        self.entries.append(entry)
        entry.touch()
        return True

    def drop(self, entry: Entry) -> None:
        self.entries = [e for e in self.entries if e is not entry]

    def forget(self, tag: str | None) -> int:
        """Drop a tag's entries (None: all); how many went."""
        before = len(self.entries)
        self.entries = [e for e in self.entries if tag is not None and e.tag != tag]
        return before - len(self.entries)


def extends(new: Entry, old: Entry) -> bool:
    """Whether `new` makes `old` moot: the same chat's, holding all of old's tokens."""
    return new.tag == old.tag and starts_with(new.tokens, old.tokens)
