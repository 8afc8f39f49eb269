"""The offline switch and the network log: every connection Ponder makes, when, where and why;
and whether a host stays on this computer (loopback) or reaches other machines.

With PONDER_OFFLINE=1 (or the offline setting on) Ponder refuses to connect at all. Otherwise
each HTTP request is appended to data_dir()/network.log as one JSON line when it starts, so that
a person can check that chatting never touches the network; a second line with the same id says
how it ended (answered or failed, and the bytes that went each way). Lines written before
outcomes were logged still read, with the outcome unknown.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
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
    id: str = ""  # ties the line that says how it ended to this one
    result: str = ""  # OK or FAILED once it ended; "" while open or when not recorded
    detail: str = ""  # "HTTP 200", "HTTP 404", or why it failed
    sent: int | None = None  # bytes that went out (request line, headers, body)
    received: int | None = None  # bytes that came back (status line, headers, body)

    @property
    def succeeded(self) -> bool | None:
        """True when answered, False when it failed, None when not known (yet)."""
        return {OK: True, FAILED: False}.get(self.result)


OK = "ok"
FAILED = "failed"
_BASE_FIELDS = ("time", "host", "purpose", "method", "target")
_OUTCOME_FIELDS = ("result", "detail", "sent", "received")


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


def _append(data: dict[str, object]) -> None:
    line = json.dumps(data, ensure_ascii=False) + "\n"
    path = log_path()
    with _lock:
        with contextlib.suppress(OSError):
            if path.stat().st_size > MAX_LOG_BYTES:
                os.replace(path, path.with_name(LOG_NAME + ".1"))
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)


def record(host: str, method: str, target: str, why: str | None = None) -> NetworkEvent:
    """Append one connection to the network log, as it starts, and return it."""
    event = NetworkEvent(
        time=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        host=host,
        purpose=why or _purpose.get() or "other",
        method=method,
        target=target,
        id=uuid.uuid4().hex[:16],
    )
    _append({k: v for k, v in asdict(event).items() if k in _BASE_FIELDS or k == "id"})
    return event


def finish(
    event: NetworkEvent,
    *,
    ok: bool,
    detail: str = "",
    sent: int | None = None,
    received: int | None = None,
) -> NetworkEvent:
    """Log how a recorded connection ended: answered or failed, and the bytes each way."""
    ended = replace(event, result=OK if ok else FAILED, detail=detail, sent=sent, received=received)
    _append({"end": event.id, **{k: getattr(ended, k) for k in _OUTCOME_FIELDS}})
    return ended


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse(line: str) -> NetworkEvent | tuple[str, dict[str, object]] | None:
    """A start line as an event, an end line as (id, its outcome); None when unreadable."""
    try:
        data = json.loads(line)
        if "end" in data:
            return str(data["end"]), {
                "result": str(data.get("result") or ""),
                "detail": str(data.get("detail") or ""),
                "sent": _count(data.get("sent")),
                "received": _count(data.get("received")),
            }
        time, host, why, method, target = (str(data[k]) for k in _BASE_FIELDS)
        return NetworkEvent(time, host, why, method, target, id=str(data.get("id") or ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a line cut short by a crash


def read_log(since: str | None = None) -> list[NetworkEvent]:
    """The logged connections, oldest first, each with how it ended where that was logged;
    only those started at or after `since` (ISO time) if given."""
    events: list[NetworkEvent] = []
    by_id: dict[str, int] = {}
    path = log_path()
    for name in (path.with_name(LOG_NAME + ".1"), path):
        try:
            lines = name.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            parsed = _parse(line)
            if isinstance(parsed, NetworkEvent):
                if parsed.id:
                    by_id[parsed.id] = len(events)
                events.append(parsed)
            elif parsed is not None and parsed[0] in by_id:
                index = by_id[parsed[0]]
                events[index] = replace(events[index], **parsed[1])  # type: ignore[arg-type]
    return [e for e in events if since is None or e.time >= since]


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
