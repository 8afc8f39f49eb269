"""The Hugging Face Hub, through huggingface_hub: the one module of Ponder that uses the network.

Listing, metadata, search, auth and file URLs come from huggingface_hub; file bytes are read
with its URL builder, headers and shared HTTP session, from a byte offset (HTTP Range), so that
a download resumes from what is on disk even after a restart; a GGUF file's header can be
read alone, to plan a model before downloading it. Every request goes through hub_client's
session, which refuses it in offline mode before any socket is opened, writes it to the network
log with how it ended, and fails at once, without retries, when there is no network.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from model_runtime import __version__, credentials, netlog
from model_runtime.errors import (
    AccessDenied,
    AuthenticationRequired,
    ConnectionFailed,
    DownloadError,
    GatedRepo,
    OfflineMode,
    PonderError,
    RepoNotFound,
)
from model_runtime.gguf.quants import QuantChoice, RemoteFile, group_quants
from model_runtime.gguf.reader import GgufInfo, read_gguf_stream

DEFAULT_ENDPOINT = "https://huggingface.co"
_SEARCH_FIELDS = ["downloads", "likes", "gated", "private", "lastModified", "siblings", "tags"]

_install_lock = threading.Lock()
_installed = False


@dataclass(frozen=True)
class HubModel:
    """One search result: a model repository and its popularity."""

    repo_id: str
    downloads: int
    likes: int
    gated: bool
    private: bool
    last_modified: str | None
    quants: tuple[str, ...]  # quantization names read from its GGUF file names


@dataclass(frozen=True)
class RepoListing:
    """A repository at one commit: its files with sizes and the Hub's sha256 of each."""

    repo_id: str
    revision: str  # the commit sha, so that every file comes from the same commit
    files: tuple[RemoteFile, ...]
    gated: bool
    private: bool
    license: str | None

    @property
    def quants(self) -> list[QuantChoice]:
        """Its GGUF models by quantization, smallest first."""
        return group_quants(self.files)


def endpoint() -> str:
    """The Hub's address: HF_ENDPOINT, read at each call (tests point it at 127.0.0.1)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _token() -> str | bool:
    """Ponder's saved token, or False: never the token of other Hugging Face tools."""
    return credentials.get_token() or False


def _session() -> Any:
    """huggingface_hub's shared HTTP session, once Ponder's hook is installed on it."""
    global _installed
    # Without this, huggingface_hub fetches an "agent harnesses" list from the Hub for its
    # user-agent string: a connection the person did not ask for.
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session, set_client_factory

    constants.HF_HUB_DISABLE_TELEMETRY = True
    if not _installed:
        with _install_lock:
            if not _installed:
                from model_runtime.models.hub_client import make_client

                set_client_factory(make_client)
                _installed = True
    return get_session()


def _api() -> Any:
    from huggingface_hub import HfApi

    _session()
    return HfApi(
        endpoint=endpoint(), token=_token(), library_name="ponder", library_version=__version__
    )


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _translate(exc: BaseException, repo_id: str | None, path: str | None = None) -> PonderError:
    """A huggingface_hub or network error as a Ponder error a person understands."""
    import httpx2 as httpx
    from huggingface_hub import errors as hf

    where = f"{repo_id}/{path}" if path else repo_id or "the Hub"
    repo = repo_id or "the repository"
    page = f"{endpoint()}/{repo_id}" if repo_id else endpoint()
    status = _status(exc)
    if isinstance(exc, hf.OfflineModeIsEnabled):
        return OfflineMode(f"Cannot reach the Hub for {where}: HF_HUB_OFFLINE is set.")
    if isinstance(exc, hf.GatedRepoError):
        return GatedRepo(
            f"The model {repo} is gated: open {page} while logged in, accept its conditions, "
            "then save an access token of that account in Ponder."
        )
    if isinstance(exc, hf.RevisionNotFoundError):
        return RepoNotFound(f"The repository {repo} has no such revision (branch, tag, commit).")
    if isinstance(exc, hf.RemoteEntryNotFoundError):
        return RepoNotFound(
            f"The repository {repo} has no file {path}; it may have been renamed or removed."
        )
    if status == 401:
        if isinstance(exc, hf.RepositoryNotFoundError) and _token() is not False:
            return RepoNotFound(
                f"The repository {repo} was not found on the Hub, or your token may not read it."
            )
        return AuthenticationRequired(
            f"Logging in is needed for {where}: it is private or gated, or does not exist. "
            "Save a Hugging Face access token in Ponder and try again."
            if _token() is False
            else f"The Hub refused the saved access token for {where}: it may be wrong or revoked."
        )
    if isinstance(exc, hf.RepositoryNotFoundError) or status == 404:
        return RepoNotFound(f"The Hub has no {where}. Check the name.")
    if status == 403:
        return AccessDenied(
            f"Your access token may not read {where}. Check its permissions (read access) "
            f"and that you accepted the model's conditions at {page}."
        )
    if status == 429 or (status is not None and status >= 500):
        return ConnectionFailed(f"The Hub is busy or failing (HTTP {status}) for {where}.")
    about = f" for {where}" if repo_id else ""
    if isinstance(exc, httpx.TimeoutException):
        return ConnectionFailed(f"The Hub did not answer in time{about}.")
    if isinstance(exc, httpx.TransportError):
        return ConnectionFailed(f"The connection to the Hub failed{about}: {exc}.")
    if isinstance(exc, PonderError):
        return exc
    return DownloadError(f"The Hub request for {where} failed: {exc}")


@contextlib.contextmanager
def _translated(repo_id: str | None, path: str | None = None) -> Iterator[None]:
    """Run a block, turning library and network errors into Ponder's own."""
    try:
        yield
    except PonderError:
        raise
    except Exception as exc:
        import httpx2 as httpx
        from huggingface_hub import errors as hf

        if isinstance(exc, (hf.HfHubHTTPError, hf.OfflineModeIsEnabled, httpx.HTTPError)):
            raise _translate(exc, repo_id, path) from None
        raise


def search_models(query: str, *, limit: int = 20, gguf_only: bool = True) -> list[HubModel]:
    """Model repositories matching `query`, most downloaded first (GGUF ones only by default)."""
    netlog.require_online("search the Hub")
    with netlog.purpose("search"), _translated(None):
        api = _api()
        found = api.list_models(
            search=query or None,
            filter="gguf" if gguf_only else None,
            sort="downloads",
            limit=limit,
            expand=_SEARCH_FIELDS,
        )
        results = []
        for info in found:
            names = [s.rfilename for s in info.siblings or ()]
            quants = [c.name for c in group_quants(RemoteFile(n, 0, None) for n in names)]
            results.append(
                HubModel(
                    repo_id=info.id,
                    downloads=int(info.downloads or 0),
                    likes=int(info.likes or 0),
                    gated=bool(info.gated),
                    private=bool(info.private),
                    last_modified=info.last_modified.isoformat() if info.last_modified else None,
                    quants=tuple(sorted(quants)),
                )
            )
        return results


def repo_listing(repo_id: str, revision: str | None = None) -> RepoListing:
    """A repository's files at `revision` (default: main), with sizes and LFS sha256."""
    netlog.require_online(f"read {repo_id} on the Hub")
    with netlog.purpose("metadata"), _translated(repo_id):
        info = _api().model_info(repo_id, revision=revision, files_metadata=True, timeout=60)
    files = []
    for s in info.siblings or ():
        lfs = s.lfs
        size = lfs.size if lfs is not None else s.size
        files.append(RemoteFile(s.rfilename, int(size or 0), lfs.sha256 if lfs else None))
    license_ = None
    for tag in info.tags or ():
        if tag.startswith("license:"):
            license_ = tag.split(":", 1)[1]
    if not info.sha:
        raise DownloadError(f"The Hub did not say which commit of {repo_id} it listed.")
    return RepoListing(
        repo_id=info.id or repo_id,
        revision=info.sha,
        files=tuple(files),
        gated=bool(info.gated),
        private=bool(info.private),
        license=license_,
    )


def whoami(token: str | None = None) -> str:
    """The Hub account name of `token` (default: the saved one); raises when it is refused."""
    netlog.require_online("check the access token")
    token = token or credentials.get_token()
    if not token:
        raise AuthenticationRequired("No Hugging Face access token is saved.")
    try:
        with netlog.purpose("auth"), _translated(None):
            info = _api().whoami(token=token)
    except AuthenticationRequired:
        raise AuthenticationRequired(
            "The Hub refused this access token: it may be mistyped, expired or revoked."
        ) from None
    return str(info.get("name") or "?")


class FileStream:
    """The bytes of one Hub file from a byte offset on; use as a context manager."""

    def __init__(
        self,
        repo_id: str,
        revision: str,
        path: str,
        offset: int,
        timeout: Any,
        purpose: str = "download",
    ) -> None:
        self.repo_id = repo_id
        self.purpose = purpose
        self.path = path
        self.requested = offset
        self.offset = offset  # where the bytes really start: 0 if the server ignored Range
        self.total: int | None = None  # the file's size, when the server says it
        self._timeout = timeout
        self._url = self._build_url(repo_id, revision, path)
        self._stack = contextlib.ExitStack()
        self._response: Any = None

    @staticmethod
    def _build_url(repo_id: str, revision: str, path: str) -> str:
        from huggingface_hub import hf_hub_url

        return str(hf_hub_url(repo_id, path, revision=revision, endpoint=endpoint()))

    def __enter__(self) -> FileStream:
        from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

        netlog.require_online(f"download {self.repo_id}/{self.path}")  # or its header
        headers = build_hf_headers(
            token=_token(),
            library_name="ponder",
            library_version=__version__,
            headers={"Accept-Encoding": "identity"},
        )
        if self.requested:
            headers["Range"] = f"bytes={self.requested}-"
        try:
            with netlog.purpose(self.purpose), _translated(self.repo_id, self.path):
                response = self._stack.enter_context(
                    _session().stream(
                        "GET",
                        self._url,
                        headers=headers,
                        timeout=self._timeout,
                        follow_redirects=True,
                    )
                )
                hf_raise_for_status(response)
            self._response = response
            self._read_range(response)
        except BaseException:
            self._stack.close()
            raise
        return self

    def _read_range(self, response: Any) -> None:
        """Where the body starts and how long the file is, from the status and headers."""
        content_range = response.headers.get("Content-Range")
        if response.status_code == 206 and content_range:
            # bytes START-END/TOTAL
            spec = content_range.split()[-1]
            span, _, total = spec.partition("/")
            start = int(span.split("-")[0])
            if start != self.requested:
                raise DownloadError(
                    f"The Hub sent {self.path} from byte {start}, not {self.requested} as asked."
                )
            self.total = int(total) if total.isdigit() else None
        else:
            self.offset = 0  # a plain 200: the whole file
            length = response.headers.get("Content-Length")
            self.total = int(length) if length and length.isdigit() else None

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives; a drop or a stall raises ConnectionFailed.

        Chunks are not regrouped into bigger ones: bytes held back in such a buffer would be
        lost when the connection drops.
        """
        import httpx2 as httpx

        try:
            for chunk in self._response.iter_bytes():
                if chunk:
                    yield chunk
        except httpx.TimeoutException:
            raise ConnectionFailed(
                f"The download of {self.path} stalled: no data for {self._timeout.read:g} s."
            ) from None
        except httpx.TransportError as exc:
            raise ConnectionFailed(
                f"The connection dropped while downloading {self.path}: {exc}"
            ) from None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()


def open_file(
    repo_id: str,
    revision: str,
    path: str,
    *,
    offset: int = 0,
    stall_seconds: float = 30.0,
    connect_seconds: float = 20.0,
    purpose: str = "download",
) -> FileStream:
    """A stream of a Hub file's bytes from `offset` (HTTP Range on its resolve URL)."""
    import httpx2 as httpx

    timeout = httpx.Timeout(stall_seconds, connect=connect_seconds)
    return FileStream(repo_id, revision, path, offset, timeout, purpose)


class _ChunkReader:
    """A FileStream's chunks as a file object with readinto, for the GGUF header reader."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def readinto(self, view: Any) -> int:
        while not self._rest:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._rest = chunk
        n = min(len(view), len(self._rest))
        view[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


def read_header(repo_id: str, revision: str, path: str, size: int) -> GgufInfo:
    """A GGUF file's header, read from the start of the file on the Hub (no more bytes than
    the header takes, usually a few MiB); the download of the rest is left undone."""
    with open_file(repo_id, revision, path, purpose="metadata") as stream:
        reader = _ChunkReader(stream.chunks())
        return read_gguf_stream(f"{repo_id}/{path}", reader, size)
