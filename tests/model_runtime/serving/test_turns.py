"""The queue for the model: bounded in length and in waiting time, checked on its own with real
threads and then through the real openai client against the real SmolLM2."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_runtime.chat.generation import LoadRequest
from model_runtime.engine import EngineClient
from model_runtime.serving.server import OpenAIServer
from model_runtime.serving.turns import FifoTurns, ServeLimits, Turn

openai = pytest.importorskip("openai")

LONG = [{"role": "user", "content": "Write the numbers from 1 to 400, separated by commas."}]


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def never() -> bool:
    return False


def test_the_queue_refuses_when_full_and_when_a_wait_is_too_long() -> None:
    turns = FifoTurns(max_waiting=1, wait_seconds=0.3)
    assert turns.acquire(never) is Turn.GRANTED  # free: no wait at all
    outcome: list[Turn] = []
    waiter = threading.Thread(target=lambda: outcome.append(turns.acquire(never)))
    waiter.start()
    wait_until(lambda: turns.waiting == 1)
    assert turns.acquire(never) is Turn.FULL  # one waits already: refused at once
    waiter.join(10)
    assert outcome == [Turn.TIMED_OUT] and turns.waiting == 0 and turns.busy
    assert 1 <= turns.retry_after() <= 60
    turns.release()
    assert turns.acquire(never) is Turn.GRANTED  # released: the next one gets it
    turns.release()


def test_a_waiter_that_gives_up_leaves_the_queue() -> None:
    turns = FifoTurns(max_waiting=4, wait_seconds=60)
    assert turns.acquire(never) is Turn.GRANTED
    leave = threading.Event()
    outcome: list[Turn] = []
    waiter = threading.Thread(target=lambda: outcome.append(turns.acquire(leave.is_set)))
    waiter.start()
    wait_until(lambda: turns.waiting == 1)
    leave.set()
    waiter.join(10)
    assert outcome == [Turn.GAVE_UP] and turns.waiting == 0
    turns.release()


@pytest.mark.parametrize(
    "limits",
    [
        {"max_tokens": 0},
        {"max_waiting": -1},
        {"wait_seconds": 0},
        {"idle_seconds": -1},
        {"max_connections": 0},
    ],
)
def test_limits_that_make_no_sense_are_refused(limits: dict) -> None:
    with pytest.raises(ValueError):
        ServeLimits(**limits)


@pytest.fixture(scope="module")
def engine(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineClient]:
    client = EngineClient(log_dir=tmp_path_factory.mktemp("logs"))
    client.load(LoadRequest(model_path=str(smollm2), n_ctx=2048, n_threads=1))
    yield client
    client.close()


@pytest.mark.slow
def test_a_full_queue_is_429_and_a_long_wait_503_with_retry_after(engine: EngineClient) -> None:
    server = OpenAIServer(engine, "m", port=0, limits=ServeLimits(max_waiting=1, wait_seconds=60))
    server.start()
    client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
    try:
        holder = client.chat.completions.create(
            model="m", messages=LONG, max_tokens=1500, temperature=0.0, stream=True
        )
        next(iter(holder))  # the model is busy with this one
        answers: list[str] = []
        waiter = threading.Thread(
            target=lambda: answers.append(
                client.chat.completions.create(model="m", messages=LONG, max_tokens=4)
                .choices[0]
                .message.content
            )
        )
        waiter.start()
        wait_until(lambda: server.turns.waiting == 1)
        with pytest.raises(openai.RateLimitError) as full:  # the one place in line is taken
            client.chat.completions.create(model="m", messages=LONG, max_tokens=4)
        assert full.value.status_code == 429 and full.value.code == "queue_full"
        assert 1 <= int(full.value.response.headers["retry-after"]) <= 60
        server.turns.max_waiting, server.turns.wait_seconds = 2, 0.5  # room, but little patience
        with pytest.raises(openai.InternalServerError) as timed_out:
            client.chat.completions.create(model="m", messages=LONG, max_tokens=4)
        assert timed_out.value.status_code == 503 and timed_out.value.code == "queue_timeout"
        assert 1 <= int(timed_out.value.response.headers["retry-after"]) <= 60
        holder.close()  # the model is free: the one waiting in line is answered
        waiter.join(60)
        assert answers and answers[0]
    finally:
        server.stop()


@pytest.mark.slow
def test_max_tokens_is_capped_by_the_context_unless_set(engine: EngineClient) -> None:
    with OpenAIServer(engine, "m", port=0) as server:
        assert server.max_tokens == 2048  # the model's context
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="m", messages=LONG, max_tokens=1_000_000)
        assert "at most 2,048 tokens" in caught.value.message
    limits = ServeLimits(max_tokens=3)
    with OpenAIServer(engine, "m", port=0, limits=limits) as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="m", messages=LONG, temperature=0.0)
        assert reply.usage.completion_tokens <= 3  # unasked, the limit is the default
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="m", messages=LONG, max_tokens=4)
