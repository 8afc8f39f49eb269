"""A scripted OpenAI-compatible endpoint on 127.0.0.1, for faults no real server makes on demand.

Each chat request plays ``script``: a list of steps, each a delta dict to send as one
server-sent event, ("sleep", seconds), ("drop",) to cut the connection without ending the
body, ("usage", {...}), or ("raw", "text") to send any text as an event's data. The stream
ends with a finish_reason chunk and [DONE] unless the script dropped first. It counts the
connections it accepted, so a test can show that a refused request never opened one.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from model_runtime import netlog

Step = dict[str, Any] | tuple


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: OpenAIStub

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients hang up on purpose
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.stub.connections += 1

    def _json(self, status: int, body: Any) -> None:
        self._raw(status, json.dumps(body).encode())

    def _raw(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        stub = self.server.stub
        if stub.api_key is None or self.headers.get("Authorization") == f"Bearer {stub.api_key}":
            return True
        self._json(401, {"error": {"message": "Invalid API key.", "type": "auth", "code": None}})
        return False

    def do_GET(self) -> None:
        self.server.stub.paths.append(("GET", self.path))
        if not self._authorized():
            return
        if self.server.stub.models_body is not None:  # whatever the test wants sent
            self._raw(200, self.server.stub.models_body)
            return
        models = [{"id": name, "object": "model"} for name in self.server.stub.models]
        self._json(200, {"object": "list", "data": models})

    def do_POST(self) -> None:
        stub = self.server.stub
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        stub.requests.append(body)
        stub.paths.append(("POST", self.path))
        if not self._authorized():
            return
        if stub.error:
            status, message = stub.error
            self._json(status, {"error": {"message": message, "type": "x", "code": None}})
            return
        if stub.hang_seconds:
            time.sleep(stub.hang_seconds)  # accepted, but no answer yet
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        if stub.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")  # the body ends when the socket does
            self.close_connection = True
        self.end_headers()
        try:
            self._play(stub.script, body.get("model", ""))
        except OSError:
            stub.client_left.set()

    def _event(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        if self.server.stub.chunked:
            payload = b"%x\r\n%s\r\n" % (len(payload), payload)
        self.wfile.write(payload)
        self.wfile.flush()

    def _play(self, script: list[Step], model: str) -> None:
        def chunk(delta: dict, finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return json.dumps(
                {"object": "chat.completion.chunk", "model": model, "choices": [choice]}
            )

        for step in script:
            if isinstance(step, dict):
                self._event(chunk(step))
            elif step[0] == "sleep":
                time.sleep(step[1])
            elif step[0] == "usage":
                self._event(json.dumps({"choices": [], "usage": step[1]}))
            elif step[0] == "raw":
                self._event(step[1])
            elif step[0] == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
        self._event(chunk({}, self.server.stub.finish_reason))
        self._event("[DONE]")
        if self.server.stub.chunked:
            self.wfile.write(b"0\r\n\r\n")


class OpenAIStub:
    """The scripted endpoint; set script, api_key, hang_seconds … before a request."""

    def __init__(self) -> None:
        self.script: list[Step] = []
        self.models = ["stub-model"]
        self.models_body: bytes | None = None  # sent for GET /models instead of `models`
        self.api_key: str | None = None
        self.hang_seconds = 0.0
        self.chunked = True
        self.finish_reason = "stop"
        self.connections = 0
        self.requests: list[dict] = []
        self.paths: list[tuple[str, str]] = []
        self.error: tuple[int, str] | None = None  # answer chat requests with this error
        self.client_left = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.stub = self
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> OpenAIStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    """A running stub on a free loopback port, stopped after the test."""
    server = OpenAIStub().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Ponder's offline switch off for the test, whatever the environment says."""
    monkeypatch.delenv("PONDER_OFFLINE", raising=False)
    netlog.set_offline(False)
    yield
    netlog.set_offline(None)
