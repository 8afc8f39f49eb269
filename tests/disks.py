"""Small real disks for storage failures: a tmpfs mounted for one test, filled, freed, made
read-only. Mounting needs root; without it the fixture skips and says why.

And for machines without mount rights, a stand-in that makes the store's real SQLite
connection fail its writes the way a full disk does (`DiskFullConnection`), named for what it is.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from model_runtime.conversations.store import ConversationStore


class Tmpfs:
    """A tmpfs of a few megabytes at `path`; fill() takes every free byte, free() gives it back."""

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        self.size = size
        self.filler = path / "filler"

    def mount(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.path)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"can't mount a tmpfs here: {done.stderr.strip() or done.returncode}")

    def fill(self) -> None:
        """Write a file until the disk refuses another byte."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for block in (1 << 16, 1 << 12, 1 << 9, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * block)
        finally:
            os.close(fd)

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()

    def read_only(self) -> None:
        """Remount read-only (every file on it must be closed first)."""
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], check=True)  # busy: detach now


@pytest.fixture
def tmpfs() -> Iterator[Callable[..., Tmpfs]]:
    """mount(path, size="2m") mounts a real tmpfs there; all are unmounted after the test,
    even when it fails. Skips without root."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs (a real small disk) needs root")
    mounted: list[Tmpfs] = []

    def mount(path: Path, size: str = "2m") -> Tmpfs:
        disk = Tmpfs(path, size)
        disk.mount()
        mounted.append(disk)
        return disk

    yield mount
    for disk in reversed(mounted):
        with contextlib.suppress(OSError):
            disk.free()
        disk.unmount()


def fill_store(path: Path, conversations: int = 12) -> None:
    """A conversation database of many pages (about 400 KiB): long questions and answers."""
    store = ConversationStore(path)
    for i in range(conversations):
        conversation = store.create_conversation(model="m")
        for j in range(4):
            store.add_message(conversation.id, "user", f"question {i}.{j} " * 40)
            store.add_message(
                conversation.id, "assistant", f"answer {i}.{j} " * 120, reasoning="hmm " * 200
            )
    store.close()


def damage_mid_file(path: Path) -> None:
    """32 KiB of noise from 64 KiB on: the header is fine, pages in the middle are not."""
    where = ["bs=1", "seek=65536", "count=32768", "conv=notrunc", "status=none"]
    subprocess.run(["dd", "if=/dev/urandom", f"of={path}", *where], check=True)


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "COMMIT")


class DiskFullConnection:
    """The store's real SQLite connection, except that while `full` every write fails as SQLite
    fails on a full disk (the statement changes nothing). For CI runners that can't mount."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.full = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if self.full and sql.lstrip().upper().startswith(WRITES):
            raise sqlite3.OperationalError("database or disk is full")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class InjectedFullDisk:
    """fill() and free() as on a real disk, by way of DiskFullConnection."""

    def __init__(self, store: ConversationStore) -> None:
        self.connection = DiskFullConnection(store._db)
        store._db = self.connection  # type: ignore[assignment]

    def fill(self) -> None:
        self.connection.full = True

    def free(self) -> None:
        self.connection.full = False
