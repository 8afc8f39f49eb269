"""huggingface_hub's HTTP client with Ponder's rules added: refuse in offline mode before any
socket is opened; log every request as it starts and again as it ends (answered or failed, and
the bytes that went each way); and recognise "no network" at once — a name that does not
resolve, a network that is unreachable — instead of retrying it for half a minute.

Remote engines (serving/remote.py) log their requests through the same hooks.
"""

from __future__ import annotations

import errno
import socket
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx

from model_runtime import netlog
from model_runtime.errors import NoNetwork

# OSError numbers that mean this computer has no way out (not a server that is down).
_NO_ROUTE = {
    errno.ENETUNREACH: "the network is unreachable",
    errno.EHOSTUNREACH: "no route leads to it",
    errno.ENETDOWN: "the network is down",
}

# The log entry of each request on its way, until its response arrives or it fails (from
# several threads: downloads, listings, header reads).
_open: weakref.WeakKeyDictionary[httpx.Request, netlog.NetworkEvent] = weakref.WeakKeyDictionary()
_open_lock = threading.Lock()


def _take(request: httpx.Request) -> netlog.NetworkEvent | None:
    with _open_lock:
        return _open.pop(request, None)


def no_network_reason(exc: BaseException) -> str | None:
    """Why a connection failed for want of a network, in words; None for other failures."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        error = todo.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, socket.gaierror):
            return "its name could not be looked up"
        if isinstance(error, OSError) and error.errno in _NO_ROUTE:
            return _NO_ROUTE[error.errno]
        linked = (error.__cause__, error.__context__, *error.args)
        todo.extend(e for e in linked if isinstance(e, BaseException))
    return None


def _header_bytes(raw: list[tuple[bytes, bytes]]) -> int:
    return sum(len(name) + len(value) + 4 for name, value in raw) + 2  # "k: v\r\n", blank line


def request_bytes(request: httpx.Request) -> int:
    """The bytes of a request as HTTP/1.1 sends them: its line, headers and body."""
    line = len(request.method) + len(request.url.raw_path) + len(" HTTP/1.1\r\n") + 1
    length = request.headers.get("content-length", "")
    return line + _header_bytes(request.headers.raw) + (int(length) if length.isdigit() else 0)


def _response_head_bytes(response: httpx.Response) -> int:
    line = len(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n")
    return line + _header_bytes(response.headers.raw)


class _CountedStream(httpx.SyncByteStream):
    """A response body that logs, once closed, how the request ended and the bytes it took."""

    def __init__(self, response: httpx.Response, event: netlog.NetworkEvent) -> None:
        self._response = response
        self._inner: httpx.SyncByteStream = response.stream  # type: ignore[assignment]
        self._event: netlog.NetworkEvent | None = event
        self._sent = request_bytes(response.request)
        self._failure = ""

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except httpx.TransportError as exc:
            self._failure = f"dropped after {self._received()} bytes: {exc}"
            raise

    def _received(self) -> int:
        return _response_head_bytes(self._response) + self._response.num_bytes_downloaded

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            event, self._event = self._event, None
            if event is not None:
                response = self._response
                answered = f"HTTP {response.status_code} {response.reason_phrase}".strip()
                netlog.finish(
                    event,
                    ok=not self._failure,
                    detail=self._failure or answered,
                    sent=self._sent,
                    received=self._received(),
                )


def before_request(request: httpx.Request) -> None:
    """Refuse in offline mode (before any socket), else log the request as it starts."""
    netlog.require_online(f"connect to {request.url.host}")
    log_request(request)


def log_request(request: httpx.Request, why: str | None = None) -> None:
    """Log a request as it starts; after_response or LoggedClient logs how it ended."""
    event = netlog.record(request.url.host, request.method, request.url.path, why=why)
    with _open_lock:
        _open[request] = event


def after_response(response: httpx.Response) -> None:
    """Count the response's bytes as its body is read; log the outcome when it closes."""
    event = _take(response.request)
    if event is not None:
        response.stream = _CountedStream(response, event)


def _failed_request(exc: httpx.TransportError, fallback: httpx.Request) -> httpx.Request:
    try:
        return exc.request
    except RuntimeError:
        return fallback


class LoggedClient(httpx.Client):
    """An httpx client whose failed requests are logged, and whose "no network" is final
    (NoNetwork; with no_network_final=False the transport's own error goes on)."""

    def __init__(self, *args: Any, no_network_final: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.no_network_final = no_network_final

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        try:
            return super().send(request, **kwargs)
        except httpx.TransportError as exc:
            failed = _failed_request(exc, request)
            reason = no_network_reason(exc)
            event = _take(failed)
            if event is not None:
                connected = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                netlog.finish(
                    event,
                    ok=False,
                    detail=f"no network: {reason}" if reason else str(exc) or type(exc).__name__,
                    sent=request_bytes(failed) if connected else 0,
                    received=0,
                )
            if reason is None or not self.no_network_final:
                raise
            host = failed.url.host
            raise NoNetwork(
                f"Ponder could not reach {host}: {reason}, so this computer seems to have no "
                "network connection. Check it and try again; models already on this computer "
                "still work."
            ) from None


READ_BYTES = 256 * 1024  # per read of a response body (httpcore's own: 64 KiB)


def make_client() -> httpx.Client:
    """huggingface_hub's own client settings, with Ponder's hooks and failure handling, and
    bodies read in 256 KiB steps: a quarter of the reads (and of the chunks handed on), so a
    fast link (10 GbE, a local mirror) is not held back by the work per read."""
    import httpcore2
    from huggingface_hub.utils._http import hf_request_event_hook

    httpcore2.HTTP11Connection.READ_NUM_BYTES = max(
        READ_BYTES, httpcore2.HTTP11Connection.READ_NUM_BYTES
    )

    return LoggedClient(
        event_hooks={
            "request": [hf_request_event_hook, before_request],
            "response": [after_response],
        },
        follow_redirects=True,
        timeout=None,
    )
