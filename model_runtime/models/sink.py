"""Where downloaded bytes go: a file written on one helper thread and hashed on another, so that
reading the network waits neither for the disk nor for sha256, and the two overlap.

The network's chunks (64 KiB at most from httpx) are gathered into blocks of BLOCK bytes first:
one hand-over per block instead of per chunk. hashlib and file writes release the GIL, so the
three threads run at once where there are cores for them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

BLOCK = 256 * 1024


class _Stage:
    """One helper thread applying `step` to every block, in order; its first error is kept."""

    def __init__(self, name: str, step: Callable[[bytes], Any], depth: int) -> None:
        self.step = step
        self.queue: queue.Queue[bytes | None] = queue.Queue(depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._drain, name=name, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while (block := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.step(block)
                except BaseException as exc:  # reported to the reading thread
                    self.error = exc

    def end(self) -> None:
        self.queue.put(None)
        self.thread.join()


class Sink:
    """Writes and hashes the bytes put into it on two helper threads.

    Leaving the block (normally or by an exception) writes every byte already put. If the
    process is killed, at most WRITE_DEPTH blocks waiting for the disk and the block being
    gathered (about 0.75 MiB in all) are lost: a resume fetches them again.
    """

    WRITE_DEPTH = 2
    HASH_DEPTH = 16  # hashing lags harmlessly: a resume hashes the file on disk again

    def __init__(self, path: Path, mode: str, hasher: Any) -> None:
        self.file = open(path, mode)  # noqa: SIM115 - closed in __exit__
        self._gathered: list[bytes] = []
        self._size = 0
        self._writer = _Stage("ponder-sink-write", self.file.write, self.WRITE_DEPTH)
        self._hasher = _Stage("ponder-sink-hash", hasher.update, self.HASH_DEPTH)

    def _error(self) -> BaseException | None:
        return self._writer.error or self._hasher.error

    def put(self, chunk: bytes) -> None:
        """Take one chunk (blocks while the helpers are a few blocks behind)."""
        error = self._error()
        if error is not None:
            raise error
        self._gathered.append(chunk)
        self._size += len(chunk)
        if self._size >= BLOCK:
            self._flush()

    def _flush(self) -> None:
        if not self._gathered:
            return
        block = self._gathered[0] if len(self._gathered) == 1 else b"".join(self._gathered)
        self._gathered, self._size = [], 0
        self._hasher.queue.put(block)
        self._writer.queue.put(block)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._flush()
        self._writer.end()
        self._hasher.end()
        self.file.close()
        error = self._error()
        if error is not None and exc_info[0] is None:
            raise error
