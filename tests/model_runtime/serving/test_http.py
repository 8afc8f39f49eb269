"""The server's HTTP side without a model: what any body gets back, and what a connection may
hold. None of these requests reaches the engine, so a client that never started one serves."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest

from model_runtime.engine import EngineClient
from model_runtime.serving.server import OpenAIServer
from model_runtime.serving.turns import ServeLimits

openai = pytest.importorskip("openai")

CHAT = "/v1/chat/completions"
HI = {"messages": [{"role": "user", "content": "hi"}]}


def serve(**limits) -> OpenAIServer:
    return OpenAIServer(EngineClient(), "m", port=0, limits=ServeLimits(**limits)).start()


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    running = serve(max_tokens=100)
    yield running
    running.stop()


def post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, dict]:
    conn.request("POST", CHAT, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[" * 200_000, "nests too deeply"),  # was a RecursionError and a closed connection
        (b'{"a":' * 100_000, "nests too deeply"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"null", "must be a JSON object"),
        (b'"messages"', "must be a JSON object"),
        (b'{"messages": [{"role": "user", "content": "\\ud800"}]}', "lone surrogate"),
        (json.dumps({**HI, "grammar": "root ::= " + "(" * 100_000}).encode(), "deep"),
        (json.dumps({**HI, "max_tokens": 101}).encode(), "at most 100 tokens"),
        (json.dumps({**HI, "seed": 2**70}).encode(), "'seed' must be at most"),
        (json.dumps({**HI, "messages": [[[]]]}).encode(), "must be an object"),
    ],
)
def test_any_malformed_body_gets_a_400_in_json(
    server: OpenAIServer, body: bytes, words: str
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        status, reply = post(conn, body)
        assert status == 400 and words in reply["error"]["message"], reply
        # the connection is still good for the next request
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_a_body_that_stops_coming_gets_408_after_the_idle_timeout() -> None:
    server = serve(idle_seconds=0.5)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"messages"'
            )
            reply = read_until_closed(sock)
        assert reply.startswith(b"HTTP/1.1 408 ")
        assert b"did not arrive within 0.5 s" in reply and b"Connection: close" in reply
    finally:
        server.stop()


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_an_idle_connection_is_closed() -> None:
    server = serve(idle_seconds=0.5)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            assert read_until_closed(sock) == b""  # the server hung up; nothing was sent
        wait_until(lambda: server.connections == 0)  # and its thread ended
    finally:
        server.stop()


def test_connections_beyond_the_limit_are_refused_with_503() -> None:
    server = serve(max_connections=2)
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in "ab"]
    try:
        wait_until(lambda: server.connections == 2)
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError) as caught:
            client.models.list()
        response = caught.value.response
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert caught.value.code == "too_many_connections"
        held.pop().close()  # one leaves: room for the next
        wait_until(lambda: server.connections < 2)
        assert [m.id for m in client.models.list()] == ["m"]
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_stop_ends_idle_keep_alive_connections_at_once() -> None:
    """They held a thread each, waiting for a next request, after the server had stopped."""
    server = serve(idle_seconds=600)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while not reply.endswith(b'{"status":"ok"}'):  # kept alive, idle after it
            reply += sock.recv(65536)
        started = time.monotonic()
        server.stop()
        assert sock.recv(65536) == b""  # closed by the server (a timeout would raise)
        assert time.monotonic() - started < 5
