"""The HTTP side of Ponder's server: the standard library's threading server and a request
handler that routes the OpenAI paths, checks the key and reads JSON bodies; the answers
themselves come from OpenAIServer (server.py).

Each connection has a thread, up to the limit of connections (one more is answered 503 and
closed by the listening thread), and is closed when it sends or takes nothing for the idle
timeout. Whatever a body holds, the answer is a JSON error, never a dropped connection.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from model_runtime.serving.openai_format import WireError, dumps, error_body, parse_chat_request

if TYPE_CHECKING:
    from model_runtime.serving.server import OpenAIServer

MAX_BODY_BYTES = 16 * 1024 * 1024
REFUSE_SECONDS = 0.1  # how long the listening thread gives a refused client's request to come
_PEEK_FLAGS = socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)


def peer_closed(sock: socket.socket) -> bool:
    """Whether the client closed its end (an end-of-file is waiting to be read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, _PEEK_FLAGS) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False  # OpenAIServer.stop() closes the connections and does not wait
    app: OpenAIServer

    def __init__(self, address: Any, handler: Any) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            room = len(self._open) < self.app.limits.max_connections
            if room:
                self._open.add(request)
        if room:
            super().process_request(request, client_address)
        else:
            self._refuse(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def _refuse(self, sock: socket.socket) -> None:
        """Answer a connection beyond the limit with 503, here, without a thread for it."""
        body = dumps(
            error_body(
                f"The server has {self.app.limits.max_connections} connections open already; "
                "try again shortly.",
                kind="server_error",
                code="too_many_connections",
            )
        ).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            sock.settimeout(REFUSE_SECONDS)
            if select.select([sock], [], [], REFUSE_SECONDS)[0]:
                sock.recv(65536)  # its request: unread, closing would reset the connection
            sock.sendall(head.encode() + body)
        self.shutdown_request(sock)

    @property
    def connections(self) -> int:
        return len(self._open)

    def close_connections(self) -> None:
        """End every open connection (their threads see end-of-file and finish)."""
        with self._open_lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def service_actions(self) -> None:
        self.app.watch_engine()  # between requests, several times a second

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # a client that reset its connection or went silent is no error of ours
        super().handle_error(request, client_address)


class HTTPServer6(HTTPServer):
    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    """One connection's requests (HTTP/1.1 keep-alive), answered by the server's app."""

    protocol_version = "HTTP/1.1"
    server_version = "Ponder"
    server: HTTPServer
    events_started = False  # whether this request's answer began as a stream

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.app.limits.idle_seconds)  # stalls end
        # one small write per token: without this, Nagle's algorithm holds them back
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.log_requests:
            self.server.app._log(f"{self.address_string()} {format % args}")

    # -- writing ---------------------------------------------------------------------------

    def send_json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def send_error_json(self, status: int, message: str, **fields: Any) -> None:
        self.send_json(status, error_body(message, **fields))

    def start_events(self) -> None:
        self.events_started = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_event(self, data: str) -> None:
        """One server-sent event, as one HTTP chunk, in one write."""
        payload = b"data: " + data.encode("utf-8") + b"\n\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))

    def end_events(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    # -- routing ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def _route(self, method: str) -> None:
        self.events_started = False
        try:
            self._dispatch(method)
        except OSError:  # the client went away (or timed out): nobody to answer
            raise
        except Exception:  # a fault of ours: the client still gets an answer, the log the rest
            if not self.events_started:
                self.close_connection = True
                self.send_error_json(
                    500, "The server failed; its log says why.", kind="server_error"
                )
            raise

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if path == "/health" and method == "GET":
            status, body = app.health()
            self.send_json(status, body)
            return
        if not app.check_key(self.headers.get("Authorization")):
            self._skip_body()
            self.send_error_json(
                401,
                "Incorrect or missing API key: send 'Authorization: Bearer KEY'.",
                code="invalid_api_key",
            )
            return
        if path == "/v1/models" and method == "GET":
            self.send_json(200, app.models())
        elif path.startswith("/v1/models/") and method == "GET":
            if path[len("/v1/models/") :] == app.model_name:
                self.send_json(200, app.model_entry())
            else:
                self.send_error_json(
                    404, f"The model '{path[11:]}' does not exist.", code="model_not_found"
                )
        elif path == "/v1/chat/completions" and method == "POST":
            self._chat()
        elif path in ("/v1/models", "/v1/chat/completions") or path.startswith("/v1/models/"):
            self._skip_body()
            self.send_error_json(405, f"{method} is not allowed on {path}.")
        else:
            self._skip_body()
            self.send_error_json(404, f"Invalid URL ({method} {path}).")

    def _skip_body(self) -> None:
        """Read and drop a request body we will not use, so the connection stays usable."""
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= MAX_BODY_BYTES:
            self.rfile.read(int(length))
        elif length or self.headers.get("Transfer-Encoding"):
            self.close_connection = True

    def _read_json(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise WireError("A Content-Length header is required.", status=411)
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise WireError(
                f"The request body is larger than {MAX_BODY_BYTES // 2**20} MiB.", status=413
            )
        try:
            raw = self.rfile.read(int(length))
        except TimeoutError:
            self.close_connection = True
            idle = self.server.app.limits.idle_seconds
            raise WireError(f"The body did not arrive within {idle:g} s.", status=408) from None
        if len(raw) < int(length):
            self.close_connection = True
            raise _Unanswerable  # the client closed its end before sending the whole body
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise WireError(f"The request body is not valid JSON: {exc}.") from None
        except RecursionError:
            raise WireError("The request body is not valid JSON: it nests too deeply.") from None

    def _chat(self) -> None:
        app = self.server.app
        try:
            request = parse_chat_request(self._read_json(), max_tokens=app.max_tokens)
        except WireError as exc:
            self.send_json(exc.status, exc.body(), exc.headers())
            return
        except _Unanswerable:
            return
        app.serve_chat(self, request)


class _Unanswerable(Exception):
    """The client is gone: there is no one to answer."""
