"""SQLite's storage failures in plain words: a full, read-only or failing disk, a locked or
damaged database. Anything else SQLite raises (a constraint, a misuse) is a bug and stays as it is.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from model_runtime.errors import StorageError
from model_runtime.paths import MIN_FREE_BYTES, free_bytes, read_only_error

# (SQLite's error name prefix, words of its message): the first that matches decides.
_FULL = (("SQLITE_FULL",), ("database or disk is full",))
_READ_ONLY = (("SQLITE_READONLY", "SQLITE_PERM"), ("readonly database",))
_LOCKED = (("SQLITE_BUSY", "SQLITE_LOCKED"), ("database is locked", "table is locked"))
_DAMAGED = (("SQLITE_CORRUPT", "SQLITE_NOTADB"), ("malformed", "not a database"))
_FAILING = (("SQLITE_IOERR", "SQLITE_CANTOPEN"), ("disk i/o error", "unable to open"))


def _is(exc: sqlite3.Error, kind: tuple[tuple[str, ...], tuple[str, ...]]) -> bool:
    names, words = kind
    name = getattr(exc, "sqlite_errorname", None) or ""
    text = str(exc).lower()
    return name.startswith(names) or any(word in text for word in words)


def storage_error(exc: sqlite3.Error, path: Path) -> StorageError | None:
    """The StorageError for an SQLite error of the database at path; None when it is not a
    storage failure (a constraint or a misuse: a bug, not the disk)."""
    if type(exc) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
        return None
    if _is(exc, _FAILING):  # a write the disk refused is often ENOSPC in disguise
        free = free_bytes(path.parent)
        if free is not None and free < MIN_FREE_BYTES:
            return StorageError(f"The disk that holds {path} is full.", problem="full", path=path)
    if _is(exc, _FULL):
        return StorageError(f"The disk that holds {path} is full.", problem="full", path=path)
    if _is(exc, _READ_ONLY):
        return read_only_error(path)
    if _is(exc, _LOCKED):
        return StorageError(
            f"Another program is using {path}, so Ponder could not write to it.",
            problem="locked",
            path=path,
        )
    if _is(exc, _DAMAGED):
        return StorageError(f"{path} is damaged ({exc}).", problem="damaged", path=path)
    if _is(exc, _FAILING):
        return StorageError(
            f"The disk that holds {path} reported an error ({exc}).", problem="failing", path=path
        )
    return None


class _HasPath(Protocol):
    path: Path


S = TypeVar("S", bound=_HasPath)
P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def translated(path: Path) -> Iterator[None]:
    """SQLite's storage failures of the database at path come out as StorageError (nothing
    else changes: SQLite has already undone the statement or transaction that failed)."""
    try:
        yield
    except sqlite3.Error as exc:
        error = storage_error(exc, path)
        if error is None:
            raise
        raise error from exc


def guarded(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A store method whose SQLite storage failures come out as StorageError."""

    @functools.wraps(method)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with translated(self.path):
            return method(self, *args, **kwargs)

    return wrapper


__all__ = ["guarded", "storage_error", "translated"]
