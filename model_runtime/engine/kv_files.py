"""The disk tier of saved KV states: one file each in the user cache folder, written atomically
on a helper thread, capped in size (the least recently used go first), checked before use.

A file is a fixed head (magic, format), a JSON header (the key, the chat's tag, the counts, the
CRC-32 of the state), the tokens (int32) and llama.cpp's sequence state. One that is truncated
or damaged, of another format, from another Ponder or llama.cpp version, or for a model file
that has changed or gone, is deleted unread; one that claims this model's key but carries
another is deleted too.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import sys
import threading
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from model_runtime.engine.kv_entries import Entry, best_match, extends, starts_with
from model_runtime.engine.kv_key import FORMAT, StateKey
from model_runtime.units import MIB, size_text

MAGIC = b"PONDERKV"
SUFFIX = ".kvstate"
TMP_SUFFIX = ".tmp"
HEAD_SIZE = 16  # magic (8 bytes), format (uint32 LE), header length (uint32 LE)
MAX_HEADER = 1 << 20
DISK_RESERVE = 512 * MIB  # never fill the disk beyond this for a cache file

Log = Callable[[str], None]


def log_to_stderr(message: str) -> None:
    print(f"KV cache: {message}", file=sys.stderr, flush=True)


class BadStateFile(ValueError):
    """A state file that must not be used (truncated, foreign, damaged)."""


@dataclass(frozen=True)
class Header:
    """What a state file says about itself."""

    key: StateKey
    tag: str
    n_tokens: int
    state_bytes: int
    crc32: int  # of the state's bytes
    offset: int  # where its tokens begin

    @property
    def file_size(self) -> int:
        return self.offset + 4 * self.n_tokens + self.state_bytes


def safe_tag(tag: str) -> str:
    """A tag as it appears in file names ("_" for none)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", tag)[:64] or "_"


def file_name(key: StateKey, tag: str, tokens: np.ndarray) -> str:
    digest = hashlib.sha256(tokens.astype("<i4").tobytes()).hexdigest()[:16]
    return f"{key.digest[:16]}-{digest}-{safe_tag(tag)}{SUFFIX}"


def tag_in_name(name: str) -> str:
    return name.removesuffix(SUFFIX).split("-", 2)[-1]


def read_header(f: BinaryIO, size: int) -> Header:
    """The header of an open state file whose size is `size`; BadStateFile if it is not one
    this Ponder may read."""
    head = f.read(HEAD_SIZE)
    if len(head) < HEAD_SIZE:
        raise BadStateFile("truncated")
    if head[:8] != MAGIC:
        raise BadStateFile("not a saved state")
    version = int.from_bytes(head[8:12], "little")
    length = int.from_bytes(head[12:16], "little")
    if version != FORMAT:
        raise BadStateFile(f"of cache format {version}, not {FORMAT}")
    if length > MAX_HEADER or HEAD_SIZE + length > size:
        raise BadStateFile("truncated")
    try:
        data = json.loads(f.read(length).decode("utf-8"))
        header = Header(
            key=StateKey.of(dict(data["key"])),
            tag=str(data["tag"]),
            n_tokens=int(data["n_tokens"]),
            state_bytes=int(data["state_bytes"]),
            crc32=int(data["crc32"]),
            offset=HEAD_SIZE + length,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BadStateFile(f"damaged header ({exc})") from None
    if header.n_tokens < 1 or header.state_bytes < 1:
        raise BadStateFile("damaged header")
    if size != header.file_size:
        raise BadStateFile("truncated" if size < header.file_size else "longer than it says")
    return header


def read_tokens(f: BinaryIO, header: Header) -> np.ndarray:
    data = f.read(4 * header.n_tokens)
    if len(data) != 4 * header.n_tokens:
        raise BadStateFile("truncated")
    return np.frombuffer(data, dtype="<i4").astype(np.int32)


def write_state_file(folder: Path, key: StateKey, entry: Entry) -> Path:
    """Write an entry's state atomically (a crash leaves no file or the whole one); OSError
    when it can't be written, and then nothing is left behind."""
    assert entry.blob is not None
    fields = {
        "key": key.as_dict(),
        "tag": entry.tag,
        "n_tokens": len(entry.tokens),
        "state_bytes": entry.size,
        "crc32": zlib.crc32(entry.blob),
    }
    header = json.dumps(fields).encode("utf-8")
    head = MAGIC + FORMAT.to_bytes(4, "little") + len(header).to_bytes(4, "little")
    final = folder / file_name(key, entry.tag, entry.tokens)
    tmp = folder / f".{final.name}.{os.getpid()}{TMP_SUFFIX}"
    try:
        with open(tmp, "wb") as f:
            f.write(head + header)
            f.write(entry.tokens.astype("<i4").tobytes())
            f.write(memoryview(entry.blob))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return final


def _state_files(folder: Path) -> list[Path]:
    try:
        names = folder.iterdir()
        return [p for p in names if p.name.endswith(SUFFIX) and not p.name.startswith(".")]
    except OSError:
        return []


def _stale_tmp(path: Path) -> bool:
    """A temporary file whose writer has gone (this process, or one that no longer runs)."""
    try:
        pid = int(path.name.removesuffix(TMP_SUFFIX).rsplit(".", 1)[-1])
    except ValueError:
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def usage(folder: Path) -> tuple[int, int]:
    """How many saved states a cache folder holds, and their bytes."""
    sizes = []
    for path in _state_files(folder):
        with contextlib.suppress(OSError):
            sizes.append(path.stat().st_size)
    return len(sizes), sum(sizes)


def forget_files(folder: Path, tag: str | None) -> int:
    """Delete the saved states of one tag (a chat), whatever model they are for; None: all of
    them, and temporary files left by writers that are gone. How many were deleted."""
    gone = 0
    for path in _state_files(folder):
        if tag is None or tag_in_name(path.name) == safe_tag(tag):
            with contextlib.suppress(OSError):
                path.unlink()
                gone += 1
    if tag is None:
        clean_tmp(folder)
    return gone


def clean_tmp(folder: Path) -> None:
    """Delete temporary files whose writers have gone (a crash, a kill mid-write)."""
    for path in folder.glob(f".*{TMP_SUFFIX}") if folder.is_dir() else ():
        if _stale_tmp(path):
            with contextlib.suppress(OSError):
                path.unlink()


class DiskTier:
    """The states of one key in a cache folder that all keys share (at most `cap` bytes in all).

    Files are written by a helper thread (put() returns at once); reads happen on the caller's.
    """

    def __init__(
        self,
        folder: Path,
        key: StateKey,
        cap: int,
        *,
        reserve: int = DISK_RESERVE,
        log: Log = log_to_stderr,
    ) -> None:
        self.folder = folder
        self.key = key
        self.cap = cap
        self.reserve = reserve
        self.log = log
        self.entries: list[Entry] = []
        self._lock = threading.Condition()
        self._jobs: deque[Entry] = deque()
        self._writing: Entry | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self.scan()

    # -- reading ----------------------------------------------------------------------------

    def scan(self) -> None:
        """Index this key's files; delete what no Ponder may use (see the module's words)."""
        entries = []
        for path in _state_files(self.folder):
            try:
                with open(path, "rb") as f:
                    header = read_header(f, os.fstat(f.fileno()).st_size)
                    if not header.key.same_versions(self.key):
                        raise BadStateFile("from another version of Ponder or llama.cpp")
                    if header.key != self.key:
                        if path.name.startswith(self.key.digest[:16]):
                            raise BadStateFile("for another model or settings than its name says")
                        if not header.key.model_files_unchanged():
                            raise BadStateFile("for a model file that has changed or gone")
                        continue  # another model's: kept for when it is loaded again
                    tokens = read_tokens(f, header)
            except BadStateFile as exc:
                self._delete(path, str(exc))
                continue
            except OSError:
                continue
            entries.append(Entry(tokens, header.tag, header.state_bytes, path=str(path)))
        clean_tmp(self.folder)
        with self._lock:
            self.entries = sorted(entries, key=lambda e: _mtime(e.path))
            for entry in self.entries:
                entry.touch()

    def _delete(self, path: Path, why: str) -> None:
        self.log(f"deleted {path.name}: {why}")
        with contextlib.suppress(OSError):
            path.unlink()

    def best(self, tokens: np.ndarray) -> tuple[Entry | None, int]:
        with self._lock:
            return best_match(self.entries, tokens)

    def covering(self, tokens: np.ndarray, tag: str) -> Entry | None:
        with self._lock:
            known = [*self.entries, *self._jobs]
            return next((e for e in known if e.tag == tag and starts_with(e.tokens, tokens)), None)

    def load(self, entry: Entry) -> bytearray | None:
        """An indexed entry's state, read back and checked against the key and its tokens;
        None (and the file deleted) when it no longer holds what the index says."""
        if entry.blob is not None:  # still waiting to be written
            return entry.blob
        assert entry.path is not None
        path = Path(entry.path)
        try:
            with open(path, "rb") as f:
                header = read_header(f, os.fstat(f.fileno()).st_size)
                if header.key != self.key:
                    raise BadStateFile("for another model or settings")
                if not np.array_equal(read_tokens(f, header), entry.tokens):
                    raise BadStateFile("its tokens changed")
                blob = bytearray(header.state_bytes)
                if f.readinto(blob) != header.state_bytes:
                    raise BadStateFile("truncated")
            if zlib.crc32(blob) != header.crc32:
                raise BadStateFile("damaged (its checksum does not match)")
            os.utime(path)  # recently used: evicted last
        except BadStateFile as exc:
            self._delete(path, str(exc))
            self._unindex(entry)
            return None
        except OSError as exc:
            self.log(f"could not read {path.name}: {exc}")
            self._unindex(entry)
            return None
        entry.touch()
        return blob

    def discard(self, entry: Entry, why: str) -> None:
        """Delete an entry's file (llama.cpp refused its state)."""
        if entry.path is not None:
            self._delete(Path(entry.path), why)
        self._unindex(entry)

    def _unindex(self, entry: Entry) -> None:
        with self._lock:
            self.entries = [e for e in self.entries if e is not entry]

    # -- writing ----------------------------------------------------------------------------

    def put(self, entry: Entry) -> None:
        """Write an entry (blob set) on the helper thread; a pending one of its tag that it
        extends is not written."""
        with self._lock:
            if self._closed or entry.size > self.cap:
                return
            self._jobs = deque(j for j in self._jobs if not extends(entry, j))
            self._jobs.append(entry)
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="ponder-kv-disk", daemon=True)
                self._thread = thread
                thread.start()
            self._lock.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._jobs and not self._closed:
                    self._lock.wait()
                if not self._jobs:
                    return
                entry = self._writing = self._jobs.popleft()
            try:
                self._write(entry)
            finally:
                with self._lock:
                    self._writing = None
                    self._lock.notify_all()

    def _write(self, entry: Entry) -> None:
        if not self._make_room(entry.size):
            return
        try:
            path = write_state_file(self.folder, self.key, entry)
        except OSError as exc:
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            self.log("the disk is full: a state was not saved" if full else f"not saved: {exc}")
            return
        written = Entry(entry.tokens, entry.tag, entry.size, path=str(path))
        with self._lock:
            if entry.dropped:  # its chat was deleted while it was being written
                with contextlib.suppress(OSError):
                    path.unlink()
                return
            superseded = [e for e in self.entries if extends(entry, e)]
            self.entries = [e for e in self.entries if e not in superseded and e.path != str(path)]
            self.entries.append(written)
        for old in superseded:
            if old.path != str(path):
                with contextlib.suppress(OSError):
                    Path(old.path or "").unlink()

    def _make_room(self, size: int) -> bool:
        """Delete the least recently used files (of any model) until `size` more bytes fit the
        cap; False when they can't, or when the disk itself has too little free space."""
        if size > self.cap:
            return False
        files = []
        for path in _state_files(self.folder):
            with contextlib.suppress(OSError):
                stat = path.stat()
                files.append((stat.st_mtime, stat.st_size, path))
        files.sort()
        total = sum(f[1] for f in files)
        while files and total + size > self.cap:
            _, old_size, old = files.pop(0)
            with contextlib.suppress(OSError):
                old.unlink()
            total -= old_size
            with self._lock:
                self.entries = [e for e in self.entries if e.path != str(old)]
        free = shutil.disk_usage(self.folder).free if self.folder.is_dir() else 0
        if free - size < self.reserve:
            self.log(f"not saved: {size_text(free)} free on the disk, {size_text(size)} needed")
            return False
        return True

    # -- forgetting -------------------------------------------------------------------------

    def forget(self, tag: str | None) -> None:
        """Drop a tag's states (None: every state of every model), written or pending; one
        being written is waited for, so that no file of the tag is left when this returns."""
        with self._lock:
            for job in [*self._jobs, *([self._writing] if self._writing else [])]:
                if tag is None or job.tag == tag:
                    job.dropped = True
            self._jobs = deque(j for j in self._jobs if not j.dropped)
            self.entries = [e for e in self.entries if tag is not None and e.tag != tag]
            while self._writing is not None and self._writing.dropped:
                self._lock.wait()
        forget_files(self.folder, tag)

    def close(self, timeout: float = 3.0) -> None:
        """Finish the writes under way (at most `timeout` seconds), then stop the helper."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)


def _mtime(path: str | None) -> float:
    try:
        return os.stat(path or "").st_mtime
    except OSError:
        return 0.0
