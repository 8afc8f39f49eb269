"""Where downloaded bytes go: a file written and hashed on a helper thread, so that reading the
network never waits for the disk or for sha256."""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any


class Sink:
    """Writes and hashes chunks on a helper thread, so that reading the network never waits.

    hashlib and file writes release the GIL, so this overlaps them with HTTP parsing. Leaving
    the block (normally or by an exception) writes every chunk already received; at most
    QUEUE chunks (about 0.5 MiB) are lost if the process is killed.
    """

    QUEUE = 8

    def __init__(self, path: Path, mode: str, hasher: Any) -> None:
        self.file = open(path, mode)  # noqa: SIM115 - closed in __exit__
        self.hasher = hasher
        self.queue: queue.Queue[bytes | None] = queue.Queue(self.QUEUE)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._drain, name="ponder-sink", daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while (chunk := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.file.write(chunk)
                    self.hasher.update(chunk)
                except BaseException as exc:  # reported to the reading thread
                    self.error = exc

    def put(self, chunk: bytes) -> None:
        """Queue one chunk (blocks while the queue is full)."""
        if self.error is not None:
            raise self.error
        self.queue.put(chunk)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.queue.put(None)
        self.thread.join()
        self.file.close()
        if self.error is not None and exc_info[0] is None:
            raise self.error
