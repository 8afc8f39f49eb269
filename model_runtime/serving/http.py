"""The HTTP side of Ponder's server: the standard library's threading server and a request
handler that routes the OpenAI paths, checks the key and reads JSON bodies; the answers
themselves come from OpenAIServer (server.py).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from model_runtime.serving.openai_format import WireError, dumps, error_body, parse_chat_request

if TYPE_CHECKING:
    from model_runtime.serving.server import OpenAIServer

MAX_BODY_BYTES = 16 * 1024 * 1024


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: OpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that reset its connection is no error of ours
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
        # one small write per token: without this, Nagle's algorithm holds them back
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        self.server.app._log(f"{self.address_string()} {format % args}")

    # -- writing ---------------------------------------------------------------------------

    def send_json(self, status: int, body: dict[str, Any]) -> None:
        data = dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
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
        app = self.server.app
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if path == "/health" and method == "GET":
            self.send_json(200, {"status": "ok"})
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
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise WireError(f"The request body is not valid JSON: {exc}.") from None

    def _chat(self) -> None:
        self.events_started = False
        try:
            request = parse_chat_request(self._read_json())
        except WireError as exc:
            self.send_json(exc.status, exc.body())
            return
        self.server.app.serve_chat(self, request)
