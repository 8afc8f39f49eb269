"""A small Hugging Face Hub on 127.0.0.1 for the real huggingface_hub client, with faults.

It answers what huggingface_hub 2.4 asks: /api/models (search), /api/models/{repo} and
.../revision/{rev} (with ?blobs=True: sizes and LFS sha256), .../tree/{rev}, /api/whoami-v2,
and HEAD/GET {repo}/resolve/{rev}/{path} (ETag, X-Repo-Commit, X-Linked-Etag/-Size, a 302 to a
"CDN" path for LFS files, Range/206). Faults: a dropped connection, a stall, an HTTP status,
damaged bytes, a bandwidth limit. Every request is recorded for the tests to look at.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

TOKEN = "hf_ponder_test_token"
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


@dataclass
class FakeFile:
    """One file of a fake repo: its bytes (in memory or on disk) and hashes."""

    path: str
    source: Path | bytes
    size: int
    sha256: str
    git_oid: str
    lfs: bool = True

    def open_at(self, offset: int) -> Any:
        """A binary file object positioned at offset."""
        if isinstance(self.source, bytes):
            import io

            f: Any = io.BytesIO(self.source)
        else:
            f = open(self.source, "rb")  # noqa: SIM115 - closed by the caller
        f.seek(offset)
        return f


@dataclass
class FakeRepo:
    """A model repository at one commit."""

    repo_id: str
    files: dict[str, FakeFile]
    sha: str
    gated: bool = False  # files need a valid token
    denied: bool = False  # a valid token is still refused (conditions not accepted): 403
    private: bool = False
    downloads: int = 0
    likes: int = 0
    license: str = "mit"


@dataclass
class Fault:
    """A fault the server injects into GET bodies of one file (or of any file: path None)."""

    kind: str  # "drop", "stall", "status", "corrupt"
    path: str | None
    after: int = 0  # the file offset where it strikes (drop, stall, corrupt)
    times: int = 1
    seconds: float = 0.0
    status: int = 0


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    file: str | None = None  # the repo file it was about, for resolve and CDN requests
    status: int = 0

    @property
    def range_start(self) -> int | None:
        """The first byte asked for with Range, or None for a plain GET."""
        match = _RANGE.match(self.headers.get("range", ""))
        return int(match.group(1)) if match else None


@dataclass
class FakeHub:
    """The server's state; start() serves it on a random port of 127.0.0.1."""

    token: str = TOKEN
    redirect_lfs: bool = True
    rate: int | None = None  # bytes per second per connection, for slow downloads
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # body bytes written per file path

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.connections: set[socket.socket] = set()  # open client connections, to end at stop
        self.url = ""

    # -- content ---------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, Path | bytes],
        *,
        hash_files: bool = True,
        **options: Any,
    ) -> FakeRepo:
        """Publish a repo; each file is bytes or a path on disk (hashed once here).

        hash_files=False hashes only a file's first MiB: for huge sparse files (a header-only
        671B model) that a test reads the start of but never downloads whole.
        """
        entries = {}
        for path, source in files.items():
            data_hash, git = hashlib.sha256(), hashlib.sha1()
            size = len(source) if isinstance(source, bytes) else source.stat().st_size
            git.update(f"blob {size}\0".encode())
            if isinstance(source, bytes):
                data_hash.update(source)
                git.update(source)
            else:
                with open(source, "rb") as f:
                    while block := f.read(1 << 22):
                        data_hash.update(block)
                        git.update(block)
                        if not hash_files:
                            break
            lfs = path.endswith(".gguf")
            entries[path] = FakeFile(
                path, source, size, data_hash.hexdigest(), git.hexdigest(), lfs
            )
        sha = hashlib.sha1(repo_id.encode() + str(sorted(entries)).encode()).hexdigest()
        repo = FakeRepo(repo_id, entries, sha, **options)
        self.repos[repo_id] = repo
        return repo

    def fault(self, kind: str, path: str | None = None, **options: Any) -> Fault:
        """Inject a fault: drop/stall/corrupt after=N, status=CODE, times=K, seconds=S."""
        fault = Fault(kind, path, **options)
        with self.lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, path: str, kinds: tuple[str, ...]) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.kind in kinds and fault.path in (None, path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    # -- looking at the traffic ------------------------------------------------------------

    def file_gets(self, path: str) -> list[Seen]:
        """The GET requests that were sent some of a file's bytes (200 or 206), in order."""
        return [
            s for s in self.seen if s.method == "GET" and s.file == path and s.status in (200, 206)
        ]

    def range_starts(self, path: str) -> list[int]:
        """Where each GET of a file asked to start (0 for a plain GET)."""
        return [s.range_start or 0 for s in self.file_gets(path)]

    # -- serving ---------------------------------------------------------------------------

    def start(self) -> FakeHub:
        """Serve on 127.0.0.1, on a free port, from a daemon thread."""
        hub = self

        class Handler(_Handler):
            state = hub

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving, wake every stalled connection and end the kept-alive ones.

        Without the last step a stopped hub goes on answering on the connections that
        huggingface_hub's shared client keeps open, from its old repos: a later test whose hub
        gets the same port would be answered by this one.
        """
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            _end(connection)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FakeHub

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def setup(self) -> None:
        super().setup()
        with self.state.lock:
            self.state.connections.add(self.connection)
        if self.state.stopping.is_set():  # accepted while the hub was stopping
            _end(self.connection)

    def finish(self) -> None:
        with self.state.lock:
            self.state.connections.discard(self.connection)
        super().finish()

    # -- plumbing --------------------------------------------------------------------------

    def _record(self) -> Seen:
        split = urlsplit(self.path)
        seen = Seen(
            self.command,
            unquote(split.path),
            parse_qs(split.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
        )
        with self.state.lock:
            self.state.seen.append(seen)
        return seen

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.state.token}"

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.seen.status = status
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(
            status,
            json.dumps(data).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def _error(self, status: int, code: str | None, message: str) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._json(status, {"error": message}, headers)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self.seen = self._record()
        path = self.seen.path
        try:
            if path.startswith("/_fake/"):
                self._control(path[len("/_fake/") :])
            elif path == "/api/whoami-v2":
                self._whoami()
            elif path == "/api/models":
                self._search()
            elif path.startswith("/api/models/"):
                self._api_model(path[len("/api/models/") :])
            elif path.startswith("/lfs-cdn/"):
                self._cdn(path[len("/lfs-cdn/") :])
            elif "/resolve/" in path:
                self._resolve(path.lstrip("/"))
            else:
                self._error(404, None, "Not found")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _control(self, what: str) -> None:
        """Test controls for a hub in another process: GET /_fake/stats, /_fake/rate?bps=N."""
        if what == "rate":
            bps = int((self.seen.query.get("bps") or ["0"])[0])
            self.state.rate = bps or None
        with self.state.lock:
            self._json(200, {"sent": dict(self.state.sent), "rate": self.state.rate})

    # -- API -------------------------------------------------------------------------------

    def _whoami(self) -> None:
        if not self._authorized():
            self._error(401, None, "Invalid credentials in Authorization header")
        else:
            self._json(200, {"type": "user", "name": "ponder-tester", "auth": {}})

    def _visible(self, repo: FakeRepo) -> bool:
        return not repo.private or self._authorized()

    def _search(self) -> None:
        q = self.seen.query
        search = (q.get("search") or [""])[0].lower()
        filters = q.get("filter", [])
        limit = int((q.get("limit") or ["1000"])[0])
        found = [
            r
            for r in self.state.repos.values()
            if self._visible(r)
            and search in r.repo_id.lower()
            and ("gguf" not in filters or any(p.endswith(".gguf") for p in r.files))
        ]
        found.sort(key=lambda r: -r.downloads)
        self._json(200, [self._info(r, blobs=False) for r in found[:limit]])

    def _info(self, repo: FakeRepo, *, blobs: bool) -> dict[str, Any]:
        siblings = []
        for f in repo.files.values():
            entry: dict[str, Any] = {"rfilename": f.path}
            if blobs:
                entry.update({"size": f.size if not f.lfs else 134, "blobId": f.git_oid})
                if f.lfs:
                    entry["lfs"] = {"size": f.size, "sha256": f.sha256, "pointerSize": 134}
            siblings.append(entry)
        return {
            "_id": repo.sha[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": repo.sha,
            "private": repo.private,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "downloads": repo.downloads,
            "likes": repo.likes,
            "library_name": "gguf",
            "tags": ["gguf", f"license:{repo.license}"],
            "lastModified": "2025-05-28T12:00:00.000Z",
            "createdAt": "2025-01-20T12:00:00.000Z",
            "siblings": siblings,
        }

    def _find_repo(self, repo_id: str) -> FakeRepo | None:
        repo = self.state.repos.get(repo_id)
        if repo is None or not self._visible(repo):
            if self._authorized():
                self._error(404, "RepoNotFound", "Repository not found")
            else:
                self._error(401, "RepoNotFound", "Repository not found")
            return None
        return repo

    def _check_revision(self, repo: FakeRepo, revision: str) -> bool:
        if revision not in ("main", repo.sha):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return False
        return True

    def _api_model(self, rest: str) -> None:
        parts = rest.split("/")
        repo_id, tail = "/".join(parts[:2]), parts[2:]
        repo = self._find_repo(repo_id)
        if repo is None:
            return
        if not tail:
            revision = "main"
        elif tail[0] == "revision" and len(tail) == 2:
            revision = tail[1]
        elif tail[0] == "tree" and len(tail) >= 2:
            if self._check_revision(repo, tail[1]):
                self._tree(repo, "/".join(tail[2:]))
            return
        else:
            self._error(404, None, "Not found")
            return
        if self._check_revision(repo, revision):
            blobs = (self.seen.query.get("blobs") or ["false"])[0].lower() == "true"
            self._json(200, self._info(repo, blobs=blobs))

    def _tree(self, repo: FakeRepo, folder: str) -> None:
        recursive = (self.seen.query.get("recursive") or ["false"])[0].lower() == "true"
        prefix = folder + "/" if folder else ""
        entries: dict[str, dict[str, Any]] = {}
        for f in repo.files.values():
            if not f.path.startswith(prefix):
                continue
            rest = f.path[len(prefix) :]
            if "/" in rest and not recursive:
                sub = prefix + rest.split("/")[0]
                entries[sub] = {"type": "directory", "oid": "0" * 40, "size": 0, "path": sub}
                continue
            entry: dict[str, Any] = {
                "type": "file",
                "oid": f.git_oid,
                "size": f.size,
                "path": f.path,
            }
            if f.lfs:
                entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
            entries[f.path] = entry
        self._json(200, list(entries.values()))

    # -- files -----------------------------------------------------------------------------

    def _resolve(self, rest: str) -> None:
        before, _, after = rest.partition("/resolve/")
        revision, _, file_path = after.partition("/")
        self.seen.file = file_path
        repo = self._find_repo(before)
        if repo is None or not self._check_revision(repo, revision):
            return
        commit = {"X-Repo-Commit": repo.sha}
        if repo.gated and not self._authorized():
            message = f"Access to model {repo.repo_id} is restricted. Please log in."
            self._error(401, "GatedRepo", message)
            return
        if repo.denied:
            message = f"Access to model {repo.repo_id} is restricted and you are not in the list."
            self._error(403, "GatedRepo", message)
            return
        f = repo.files.get(file_path)
        if f is None:
            self._json(
                404,
                {"error": "Entry not found"},
                {**commit, "X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"},
            )
            return
        if self._status_fault(f.path):
            return
        headers = {**commit, "ETag": f'"{f.git_oid}"', "Accept-Ranges": "bytes"}
        if f.lfs:
            headers.update({"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(f.size)})
            if self.state.redirect_lfs:
                location = f"/lfs-cdn/{quote(repo.repo_id)}/{f.sha256}?path={quote(f.path)}"
                self._send(302, b"", {**headers, "Location": location})
                return
        self._body(f, headers)

    def _cdn(self, rest: str) -> None:
        repo_id, _, sha = rest.rpartition("/")
        repo = self.state.repos.get(repo_id)
        f = next((f for f in repo.files.values() if f.sha256 == sha), None) if repo else None
        if repo is None or f is None:
            self._error(404, None, "No such object")
            return
        self.seen.file = f.path
        if self._status_fault(f.path):
            return
        headers = {
            "X-Repo-Commit": repo.sha,
            "ETag": f'"{f.sha256}"',
            "X-Linked-Etag": f'"{f.sha256}"',
            "X-Linked-Size": str(f.size),
            "Accept-Ranges": "bytes",
        }
        self._body(f, headers)

    def _status_fault(self, path: str) -> bool:
        fault = self._take_fault_for_get(path, ("status",))
        if fault is None:
            return False
        self._error(fault.status, None, f"Injected HTTP {fault.status}")
        return True

    def _take_fault_for_get(self, path: str, kinds: tuple[str, ...]) -> Fault | None:
        if self.command != "GET":
            return None
        return self.state._take_fault(path, kinds)

    def _body(self, f: FakeFile, headers: dict[str, str]) -> None:
        """Send the file (or the asked range) with Content-Length, applying faults."""
        start, end = 0, f.size - 1
        status = 200
        match = _RANGE.match(self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else f.size - 1, f.size - 1)
            if start >= f.size:
                self._send(416, b"", {**headers, "Content-Range": f"bytes */{f.size}"})
                return
            status = 206
            headers = {**headers, "Content-Range": f"bytes {start}-{end}/{f.size}"}
        length = end - start + 1
        self.seen.status = status
        self.send_response(status)
        for key, value in {**headers, "Content-Type": "application/octet-stream"}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return
        fault = self._take_fault_for_get(f.path, ("drop", "stall", "corrupt"))
        if fault is not None and not start <= fault.after < end + 1:
            with self.state.lock:
                fault.times += 1  # not in this range: keep it for a later request
            fault = None
        self.wfile.flush()
        with f.open_at(start) as src:
            if fault is None and self.state.rate is None and isinstance(f.source, Path):
                try:
                    self.connection.sendfile(src, start, length)
                finally:
                    self._count(f.path, src.tell() - start)
                return
            stop_at = fault.after if fault and fault.kind in ("drop", "stall") else end + 1
            self._copy(src, start, stop_at, fault)
        if fault is not None and fault.kind == "stall":
            self.state.stopping.wait(fault.seconds)
        if fault is not None and fault.kind in ("drop", "stall"):
            self.close_connection = True
            _end(self.connection)

    def _count(self, path: str, n: int) -> None:
        with self.state.lock:
            self.state.sent[path] = self.state.sent.get(path, 0) + n

    def _copy(self, src: Any, pos: int, stop_at: int, fault: Fault | None) -> None:
        """Send bytes [pos, stop_at) in small blocks, at the hub's rate if it has one."""
        rate = self.state.rate
        block = min(64 * 1024, rate // 10) if rate else 256 * 1024
        started = time.monotonic()
        sent = 0
        while pos < stop_at and not self.state.stopping.is_set():
            data = src.read(min(block, stop_at - pos))
            if not data:
                break
            if (
                fault is not None
                and fault.kind == "corrupt"
                and pos <= fault.after < pos + len(data)
            ):
                i = fault.after - pos
                data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
            self.wfile.write(data)
            self._count(self.seen.file or "", len(data))
            pos += len(data)
            sent += len(data)
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)


def _end(connection: socket.socket) -> None:
    """Shut a connection down both ways (nothing when it already is)."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


# -- fixtures ------------------------------------------------------------------------------


class MemoryKeyring:
    """A keyring backend in memory, so that no test touches the real OS keyring."""

    priority = 1

    def __init__(self) -> None:
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


def _keyring_backend() -> Any:
    """MemoryKeyring as a real keyring.backend.KeyringBackend subclass."""
    from keyring.backend import KeyringBackend

    return type("MemoryKeyringBackend", (MemoryKeyring, KeyringBackend), {})()


@pytest.fixture
def memory_keyring() -> Iterator[Any]:
    """An in-memory keyring for the test's duration."""
    import keyring

    before = keyring.get_keyring()
    backend = _keyring_backend()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(before)


@pytest.fixture
def fake_hub(
    memory_keyring: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeHub]:
    """A running fake Hub that huggingface_hub (and so Ponder) talks to through HF_ENDPOINT."""
    hub = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    for name in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PONDER_OFFLINE", raising=False)
    try:
        yield hub
    finally:
        hub.stop()


def subprocess_env(hub: FakeHub, home: Path, hf_home: Path) -> dict[str, str]:
    """Environment for a Ponder CLI subprocess: this hub, this home, no real keyring."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "PONDER_"))}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(hf_home),
        PONDER_HOME=str(home),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    return env


def main() -> None:
    """Serve files as one repo until stdin closes (for benchmarks): prints the hub's URL."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--repo", required=True)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    hub = FakeHub().start()
    hub.add_repo(args.repo, {p.name: p for p in args.files})
    print(hub.url, flush=True)
    sys.stdin.read()
    hub.stop()


if __name__ == "__main__":
    main()
