"""The server outlives its engine process: 503 with Retry-After while the model is gone, and,
given a way to reload, the model back without anyone's help. Real SmolLM2, real kills."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_runtime.chat.generation import LoadRequest
from model_runtime.engine import EngineClient
from model_runtime.errors import EngineCrashed
from model_runtime.serving.server import OpenAIServer

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.slow

HI = [{"role": "user", "content": "Say hi."}]
LONG = [{"role": "user", "content": "Write the numbers from 1 to 400, separated by commas."}]


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def health(server: OpenAIServer) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


class Gate:
    """A reload that waits until the test opens the gate, so 'meanwhile' can be looked at."""

    def __init__(self, engine: EngineClient, request: LoadRequest, fail_first: int = 0) -> None:
        self.engine, self.request = engine, request
        self.open = threading.Event()
        self.calls = 0
        self.fail_first = fail_first

    def __call__(self) -> object:
        self.calls += 1
        assert self.open.wait(60)
        if self.calls <= self.fail_first:  # a real failed load: the file is not there
            return self.engine.load(LoadRequest(model_path=self.request.model_path + ".gone"))
        return self.engine.load(self.request)


@pytest.fixture
def engine(smollm2: Path, tmp_path: Path) -> Iterator[tuple[EngineClient, LoadRequest]]:
    client = EngineClient(log_dir=tmp_path)
    request = LoadRequest(model_path=str(smollm2), n_ctx=1024, n_threads=2)
    client.load(request)
    yield client, request
    client.close()


def test_a_crash_mid_answer_is_503_until_the_model_is_loaded_again(engine) -> None:
    client, request = engine
    gate = Gate(client, request)
    lines: list[str] = []
    server = OpenAIServer(client, "m", port=0, reload=gate, log=lines.append).start()
    api = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
    try:
        stream = api.chat.completions.create(
            model="m", messages=LONG, max_tokens=1000, temperature=0.0, stream=True
        )
        with pytest.raises(openai.APIError) as broke:
            for n, _chunk in enumerate(stream):
                if n == 3:
                    os.kill(client.pid, signal.SIGKILL)  # as the OOM killer would
        assert "SIGKILL" in str(broke.value)  # said in the stream, which had begun
        # meanwhile: 503 with Retry-After, not 500 "No model is loaded" for ever
        with pytest.raises(openai.InternalServerError) as meanwhile:
            api.chat.completions.create(model="m", messages=HI, max_tokens=4)
        assert meanwhile.value.status_code == 503
        assert meanwhile.value.code == "model_unavailable"
        assert "being loaded again" in meanwhile.value.message
        assert 1 <= int(meanwhile.value.response.headers["retry-after"]) <= 60
        assert health(server) == (503, {"status": "loading model", "reason": server.recovery.why})
        gate.open.set()
        wait_until(lambda: health(server)[0] == 200)
        reply = api.chat.completions.create(model="m", messages=HI, max_tokens=4)
        assert reply.choices[0].message.content
        assert gate.calls == 1 and server.recovery.reloads == 1
        assert any("the engine stopped" in line and "SIGKILL" in line for line in lines)
        assert any("loaded again" in line for line in lines)
    finally:
        server.stop()


def test_a_failing_reload_is_tried_again_with_longer_pauses(engine) -> None:
    client, request = engine
    gate = Gate(client, request, fail_first=2)
    gate.open.set()
    lines: list[str] = []
    server = OpenAIServer(client, "m", port=0, reload=gate, log=lines.append)
    server.recovery.first_pause = 0.05
    server.start()
    try:
        os.kill(client.pid, signal.SIGKILL)  # idle: no request is needed to notice
        wait_until(lambda: server.recovery.reloads == 1)
        assert gate.calls == 3 and health(server)[0] == 200
        failures = [line for line in lines if line.startswith("reloading failed")]
        assert len(failures) == 2 and ".gone" in failures[0]
        assert failures[0].endswith("again in 0.05 s") and failures[1].endswith("again in 0.1 s")
        api = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        assert api.chat.completions.create(model="m", messages=HI, max_tokens=4).choices
    finally:
        server.stop()


def test_without_a_way_to_reload_the_crash_is_reported_once_and_said(engine) -> None:
    """As in the window, which reloads the model itself after it hears of the crash."""
    client, request = engine
    crashes: list[EngineCrashed] = []
    server = OpenAIServer(client, "m", port=0, on_crashed=crashes.append).start()
    api = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
    try:
        os.kill(client.pid, signal.SIGKILL)
        wait_until(lambda: bool(crashes))
        for _ in range(2):
            with pytest.raises(openai.InternalServerError) as caught:
                api.chat.completions.create(model="m", messages=HI, max_tokens=4)
            assert caught.value.status_code == 503 and "not loaded" in caught.value.message
        assert health(server)[0] == 503 and health(server)[1]["status"] == "unavailable"
        assert len(crashes) == 1 and crashes[0].exitcode == -signal.SIGKILL
        assert client.pid is None  # no bare worker was started behind its back
    finally:
        server.stop()
    client.load(request)  # the window's reload: a fresh worker, as usual
    assert client.alive and client.crash is None
