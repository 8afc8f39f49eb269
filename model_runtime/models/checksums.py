"""sha256 of files, with progress and a cancel token (hashlib releases the GIL on big blocks)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable

from model_runtime.errors import DownloadCancelled

BLOCK = 4 * 1024 * 1024


def sha256_file(
    path: str | os.PathLike[str],
    *,
    on_bytes: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    hasher: hashlib._Hash | None = None,
    limit: int | None = None,
) -> str:
    """The file's sha256 (hex); `limit` hashes only its first bytes, into `hasher` if given."""
    h = hasher if hasher is not None else hashlib.sha256()
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    left = limit
    with open(path, "rb", buffering=0) as f:
        while left is None or left > 0:
            want = BLOCK if left is None else min(BLOCK, left)
            n = f.readinto(view[:want])
            if not n:
                break
            h.update(view[:n])
            if left is not None:
                left -= n
            if on_bytes is not None:
                on_bytes(n)
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled(f"Checking {os.fspath(path)} was stopped.")
    return h.hexdigest()
