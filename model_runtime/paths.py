"""Where Ponder keeps its data; PONDER_HOME moves all of it (tests, portable installs).

Also whether this profile has been welcomed yet (a flag file in its config folder), and
whether a folder can be written: a full, read-only or failing disk becomes a StorageError.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path

from model_runtime import __version__
from model_runtime.errors import StorageError

APP_NAME = "Ponder"
# Less free space than this and the disk counts as full: SQLite's write-ahead log alone grows
# by pages of 4 KiB, and a model download checks its own size first.
MIN_FREE_BYTES = 1024 * 1024


def resources_dir() -> Path:
    """The resources folder shipped beside the two packages (themes, icons, the catalog)."""
    return Path(__file__).resolve().parent.parent / "resources"


def home() -> Path | None:
    """The PONDER_HOME override, if set."""
    value = os.environ.get("PONDER_HOME")
    return Path(value).expanduser() if value else None


def _folder(kind: str, *, create: bool = True) -> Path:
    """PONDER_HOME/<kind>, or the platform's user folder of that kind; created if missing
    (a StorageError when it can't be)."""
    override = home()
    if override is not None:
        path = override / kind
    else:
        import platformdirs

        finder = {
            "data": platformdirs.user_data_dir,
            "config": platformdirs.user_config_dir,
            "cache": platformdirs.user_cache_dir,
        }[kind]
        path = Path(finder(APP_NAME, appauthor=False))
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, path) from exc
    return path


def data_dir(*, create: bool = True) -> Path:
    """Models, conversations and logs (create=False: only where it is, for best-effort use)."""
    return _folder("data", create=create)


def config_dir() -> Path:
    """Settings."""
    return _folder("config")


def cache_dir(*, create: bool = True) -> Path:
    """What Ponder can make again and may lose: the saved model states of chats."""
    return _folder("cache", create=create)


def kv_cache_dir(*, create: bool = True) -> Path:
    """Saved KV states (a chat's history as the model read it), one file each."""
    path = cache_dir(create=create) / "kv"
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, path) from exc
    return path


def logs_dir() -> Path:
    """Engine logs (llama.cpp's stderr) and crash reports."""
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


FLAG_FILE = "welcomed"


def is_first_run() -> bool:
    """True until mark_welcomed() has been called for this profile (PONDER_HOME moves it)."""
    return not (config_dir() / FLAG_FILE).exists()


def mark_welcomed() -> None:
    """Remember that the welcome was shown (the version and date, for whoever looks)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    (config_dir() / FLAG_FILE).write_text(f"{__version__} {stamp}\n", encoding="utf-8")


# -- can Ponder write there? ---------------------------------------------------------------


def read_only_error(path: Path) -> StorageError:
    """Ponder may not write to path: its disk is read-only, or the folder is not Ponder's."""
    folder = path if path.is_dir() else path.parent
    try:
        on_read_only_disk = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        on_read_only_disk = False
    words = (
        f"{path} is on a read-only disk."
        if on_read_only_disk
        else (f"Ponder may not write to {path}.")
    )
    return StorageError(words, problem="read-only", path=path)


def storage_error(exc: OSError, path: Path) -> StorageError:
    """An OSError met writing under path, in plain words."""
    if isinstance(exc, StorageError):
        return exc
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(f"The disk that holds {path} is full.", problem="full", path=path)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return read_only_error(path)
    reason = exc.strerror or str(exc)
    return StorageError(
        f"The disk that holds {path} reported an error: {reason}.", problem="failing", path=path
    )


def free_bytes(folder: Path) -> int | None:
    """Free space on the disk that holds folder (None: unknown)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def check_writable(folder: Path) -> None:
    """Raise a StorageError unless Ponder can write into folder (created if missing): it is
    read-only, Ponder may not write there, or the disk is (almost) full. Writes no file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, folder) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise read_only_error(folder)
    free = free_bytes(folder)
    if free is not None and free < MIN_FREE_BYTES:
        raise StorageError(f"The disk that holds {folder} is full.", problem="full", path=folder)
