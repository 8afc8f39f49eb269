"""The download sink: every byte written and hashed in order, on helper threads, in blocks; a
full disk surfaces as the OSError it is."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path

import pytest

from model_runtime.models.sink import BLOCK, Sink
from tests.disks import Tmpfs


class ThreadSpy:
    """A sha256 that notes which threads fed it, and the sizes it was fed."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.threads: set[str] = set()
        self.sizes: list[int] = []

    def update(self, data: bytes) -> None:
        self.threads.add(threading.current_thread().name)
        self.sizes.append(len(data))
        self.hash.update(data)


def test_every_byte_is_written_and_hashed_in_order_off_the_reading_thread(tmp_path: Path) -> None:
    data = os.urandom(3 * BLOCK + 12345)
    sizes = [1, 65536, 17, BLOCK + 3, 4096, 300_000]  # network chunks of any size
    spy, at, path = ThreadSpy(), 0, tmp_path / "file.incomplete"
    with Sink(path, "wb", spy) as sink:
        while at < len(data):
            n = sizes[at % len(sizes)]
            sink.put(data[at : at + n])
            at += n
    assert path.read_bytes() == data
    assert spy.hash.hexdigest() == hashlib.sha256(data).hexdigest()
    assert spy.threads == {"ponder-sink-hash"}  # not the reading (main) thread
    assert all(n >= BLOCK for n in spy.sizes[:-1])  # handed over in blocks, not per chunk


def test_leaving_by_an_exception_still_writes_what_was_put(tmp_path: Path) -> None:
    path = tmp_path / "file.incomplete"
    path.write_bytes(b"head")
    with pytest.raises(ConnectionError), Sink(path, "ab", hashlib.sha256()) as sink:
        sink.put(b"x" * 1000)  # less than a block: still gathered when the drop comes
        raise ConnectionError("dropped")
    assert path.read_bytes() == b"head" + b"x" * 1000


def test_a_full_disk_is_the_oserror_it_is(tmpfs, tmp_path: Path) -> None:
    small: Tmpfs = tmpfs(tmp_path / "small", "1m")
    with pytest.raises(OSError) as failed, Sink(small.path / "f", "wb", hashlib.sha256()) as sink:
        for _ in range(64):
            sink.put(os.urandom(64 * 1024))  # 4 MiB into 1 MiB
    assert failed.value.errno == errno.ENOSPC
