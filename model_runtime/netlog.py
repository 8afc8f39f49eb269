"""The offline switch and the network log: every connection Ponder makes, when, where and why;
and whether a host stays on this computer (loopback) or reaches other machines.

With PONDER_OFFLINE=1 (or the offline setting on) Ponder refuses to connect at all. Otherwise
each HTTP request is appended to data_dir()/network.log as one JSON line, so that a person can
check that chatting never touches the network.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from model_runtime.errors import OfflineMode
from model_runtime.paths import config_dir, data_dir

OFFLINE_ENV = "PONDER_OFFLINE"
LOG_NAME = "network.log"
SETTINGS_NAME = "network.json"
MAX_LOG_BYTES = 4 * 1024 * 1024  # then the log moves to network.log.1 and a new one starts

PURPOSES = ("search", "metadata", "download", "auth", "remote-engine", "rpc-worker")

_purpose: contextvars.ContextVar[str] = contextvars.ContextVar("ponder_net_purpose", default="")
_lock = threading.Lock()
_offline_override: bool | None = None


@dataclass(frozen=True)
class NetworkEvent:
    """One connection Ponder made: when (UTC, ISO 8601), to which host, why, and what for."""

    time: str
    host: str
    purpose: str
    method: str
    target: str  # the path asked for, without the query string


def _env_offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def offline_setting() -> bool:
    """The saved offline setting (config_dir()/network.json); False when never set."""
    try:
        data = json.loads((config_dir() / SETTINGS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(isinstance(data, dict) and data.get("offline"))


def set_offline_setting(offline: bool) -> None:
    """Save the offline setting; it holds for every later Ponder process (GUI and CLI)."""
    path = config_dir() / SETTINGS_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"offline": bool(offline)}) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def set_offline(offline: bool | None) -> None:
    """Force offline mode on or off in this process only (None: back to env and setting)."""
    global _offline_override
    _offline_override = offline


def is_offline() -> bool:
    """True when Ponder must not open any network connection."""
    if _env_offline():
        return True
    if _offline_override is not None:
        return _offline_override
    return offline_setting()


def require_online(what: str) -> None:
    """Raise OfflineMode, before any socket is opened, when Ponder is offline."""
    if is_offline():
        source = f"{OFFLINE_ENV}=1 is set" if _env_offline() else "offline mode is on"
        raise OfflineMode(f"Cannot {what}: {source}, so Ponder makes no network connection.")


@contextlib.contextmanager
def purpose(name: str) -> Iterator[None]:
    """Label the requests made inside the block (search, metadata, download, auth)."""
    token = _purpose.set(name)
    try:
        yield
    finally:
        _purpose.reset(token)


def log_path() -> Path:
    """Where the network log is."""
    return data_dir() / LOG_NAME


def record(host: str, method: str, target: str, why: str | None = None) -> NetworkEvent:
    """Append one connection to the network log and return it."""
    event = NetworkEvent(
        time=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        host=host,
        purpose=why or _purpose.get() or "other",
        method=method,
        target=target,
    )
    line = json.dumps(asdict(event), ensure_ascii=False) + "\n"
    path = log_path()
    with _lock:
        with contextlib.suppress(OSError):
            if path.stat().st_size > MAX_LOG_BYTES:
                os.replace(path, path.with_name(LOG_NAME + ".1"))
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
    return event


def read_log(since: str | None = None) -> list[NetworkEvent]:
    """The logged connections, oldest first; only those at or after `since` (ISO time) if given."""
    events: list[NetworkEvent] = []
    path = log_path()
    for name in (path.with_name(LOG_NAME + ".1"), path):
        try:
            lines = name.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                data = json.loads(line)
                event = NetworkEvent(**{k: str(data[k]) for k in NetworkEvent.__dataclass_fields__})
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash
            if since is None or event.time >= since:
                events.append(event)
    return events


def clear_log() -> None:
    """Forget every logged connection."""
    with _lock:
        for name in (log_path().with_name(LOG_NAME + ".1"), log_path()):
            with contextlib.suppress(FileNotFoundError):
                name.unlink()


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; every other host leaves this computer."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
