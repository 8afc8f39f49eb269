"""Ponder's OpenAI-compatible server on the real SmolLM2, driven by the official openai client."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model_runtime import netlog
from model_runtime.chat.generation import Chunk, Finished, GenerationParams, LoadRequest, Message
from model_runtime.engine import EngineClient
from model_runtime.errors import OfflineMode
from model_runtime.serving.remote import RemoteEngine
from model_runtime.serving.server import OpenAIServer, ServedRequest

openai = pytest.importorskip("openai")

KEY = "test-key"
QUESTION = "What is the capital of France?"
GREEDY = {"max_tokens": 24, "temperature": 0.0, "seed": 1}
# Under the R1 template the prompt already opened <think>: the grammar starts inside it.
R1_GRAMMAR = r"""
root ::= thought "\n</think>\n\n" answer
thought ::= [A-Za-z ,.']{10,60}
answer ::= [A-Za-z ,.']{5,40} "."
"""
R1_SETTINGS = {"max_tokens": 80, "temperature": 0.0, "seed": 4}
LONG_PROMPT = "Write the numbers from 1 to 400, separated by commas."


class Served:
    """A running server and what it reported about each request."""

    def __init__(self, engine: EngineClient, name: str) -> None:
        self.finished: queue.Queue[ServedRequest] = queue.Queue()
        self.engine = engine
        self.server = OpenAIServer(engine, name, port=0, api_key=KEY, on_finished=self.finished.put)
        self.server.start()
        self.client = openai.OpenAI(base_url=self.server.url, api_key=KEY, max_retries=0)

    def next_finished(self, timeout: float = 60) -> ServedRequest:
        return self.finished.get(timeout=timeout)

    def finished_request(self, request_id: str, timeout: float = 60) -> ServedRequest:
        """The record of the request with this id (an earlier request's record may be reported
        after its client has read the answer, so the queue can still hold it)."""
        while (record := self.finished.get(timeout=timeout)).id != request_id:
            pass
        return record

    def drain(self) -> None:
        while not self.finished.empty():
            self.finished.get()

    def raw(self, method: str, path: str, body: bytes | None = None, key: str | None = KEY):
        """One request through http.client: (status, decoded JSON body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = json.loads(response.read() or b"null")
        conn.close()
        return response.status, data


@pytest.fixture(scope="module")
def served(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    engine = EngineClient(log_dir=tmp_path_factory.mktemp("logs"))
    engine.load(LoadRequest(model_path=str(smollm2), n_ctx=2048, n_threads=2))
    served = Served(engine, "smollm2")
    yield served
    served.server.stop()
    engine.close()


@pytest.fixture(scope="module")
def served_r1(smollm2_r1: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    engine = EngineClient(log_dir=tmp_path_factory.mktemp("logs"))
    engine.load(LoadRequest(model_path=str(smollm2_r1), n_ctx=1024, n_threads=2))
    served = Served(engine, "smollm2-r1")
    yield served
    served.server.stop()
    engine.close()


def engine_text(engine: EngineClient, params: GenerationParams) -> dict[str, str]:
    text = {"thinking": "", "answer": ""}
    for event in engine.generate([Message("user", QUESTION)], params):
        if isinstance(event, Chunk):
            text[event.kind] += event.text
    return text


def ask(served: Served, **kwargs: Any):
    return served.client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": QUESTION}], **kwargs
    )


# -- answers ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_lists_the_model(served: Served) -> None:
    assert [m.id for m in served.client.models.list()] == ["smollm2"]
    assert served.client.models.retrieve("smollm2").owned_by == "ponder"


@pytest.mark.slow
def test_whole_answer_is_the_engines(served: Served) -> None:
    expected = engine_text(served.engine, GenerationParams(**GREEDY))["answer"]
    served.drain()
    reply = ask(served, **GREEDY)
    choice = reply.choices[0]
    assert choice.message.content == expected
    assert choice.message.role == "assistant"
    assert getattr(choice.message, "reasoning_content", None) is None
    assert choice.finish_reason in ("stop", "length")
    record = served.finished_request(reply.id)
    assert reply.usage.completion_tokens == record.stats.n_generated > 1
    assert reply.usage.prompt_tokens == record.stats.n_prompt > 10
    assert reply.model == "smollm2" and reply.id == record.id


@pytest.mark.slow
def test_a_conversation_that_comes_back_is_restored_from_the_cache(served: Served) -> None:
    """Each served conversation keeps its KV state (one slot per conversation prefix): another
    client's conversation in between does not make the first one's history read again."""
    notes = "Notes: " + " ".join(f"crate {i} holds {i * 5} apples." for i in range(40))
    first = [{"role": "user", "content": notes + " Which crate holds 50 apples?"}]
    reply = served.client.chat.completions.create(model="smollm2", messages=first, **GREEDY)
    other = [{"role": "user", "content": "Spell the word banana backwards, letter by letter."}]
    served.client.chat.completions.create(model="smollm2", messages=other, **GREEDY)
    served.drain()
    again = [
        *first,
        {"role": "assistant", "content": reply.choices[0].message.content},
        {"role": "user", "content": "And which holds 100?"},
    ]
    back = served.client.chat.completions.create(model="smollm2", messages=again, **GREEDY)
    record = served.finished_request(back.id)
    assert record.stats.restored_from == "memory"
    assert back.usage.prompt_tokens_details.cached_tokens >= reply.usage.prompt_tokens - 1


@pytest.mark.slow
def test_streamed_answer_matches_the_whole_one(served: Served) -> None:
    whole = ask(served, **GREEDY).choices[0].message.content
    chunks = list(ask(served, stream=True, stream_options={"include_usage": True}, **GREEDY))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert deltas[0].role == "assistant"
    assert "".join(d.content or "" for d in deltas) == whole
    assert len([d for d in deltas if d.content]) > 3  # token by token, not one block
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("stop", "length") and set(finishes[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 1


@pytest.mark.slow
def test_stop_strings_end_the_answer(served: Served) -> None:
    whole = ask(served, **GREEDY).choices[0].message.content
    words = whole.split()
    stop = " " + words[len(words) // 2]
    expected = whole[: whole.index(stop)]
    reply = ask(served, stop=[stop, "never-there"], **GREEDY)
    assert reply.choices[0].message.content == expected
    assert reply.choices[0].finish_reason == "stop"
    streamed = ask(served, stop=stop, stream=True, **GREEDY)
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == expected


@pytest.mark.slow
def test_reasoning_comes_apart_as_reasoning_content(served_r1: Served) -> None:
    settings = R1_SETTINGS
    expected = engine_text(served_r1.engine, GenerationParams(grammar=R1_GRAMMAR, **settings))
    assert expected["thinking"] and expected["answer"]
    extra = {"grammar": R1_GRAMMAR}
    reply = ask(served_r1, extra_body=extra, **settings)
    message = reply.choices[0].message
    assert message.reasoning_content == expected["thinking"].strip()
    assert message.content == expected["answer"]
    assert "<think>" not in message.content and "</think>" not in message.content
    usage = reply.usage
    assert 0 < usage.completion_tokens_details.reasoning_tokens < usage.completion_tokens
    chunks = list(ask(served_r1, extra_body=extra, stream=True, **settings))
    deltas = [c.choices[0].delta for c in chunks]
    reasoning = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
    assert reasoning == expected["thinking"]
    assert "".join(d.content or "" for d in deltas) == expected["answer"]
    first_answer = next(i for i, d in enumerate(deltas) if d.content)
    assert all(not getattr(d, "reasoning_content", None) for d in deltas[first_answer:])


@pytest.mark.slow
def test_an_answer_that_loops_is_stopped_and_the_log_says_so(served_r1: Served) -> None:
    """Greedy, after a short thinking, this model writes "The answer is 55." on and on."""
    lines: list[str] = []
    served_r1.server.log = lines.append
    served_r1.drain()
    try:
        reply = served_r1.client.chat.completions.create(
            model="smollm2-r1",
            messages=[{"role": "user", "content": "What is the sum of the first ten odd numbers?"}],
            max_tokens=800,
            temperature=0.0,
            extra_body={"reasoning_budget": 40},
        )
        record = served_r1.finished_request(reply.id)
    finally:
        served_r1.server.log = None
    assert reply.choices[0].finish_reason == "stop"  # OpenAI has no "loop"
    assert reply.usage.completion_tokens < 600  # not the length limit
    assert record.stats is not None and record.stats.finish_reason == "loop"
    assert any(
        "loop: the answer was repeating itself (a span of " in line and 'sent as "stop"' in line
        for line in lines
    ), lines


@pytest.mark.slow
def test_ponders_remote_engine_reads_ponders_server(served_r1: Served) -> None:
    """Round trip: the remote engine turns reasoning_content back into thinking Chunks."""
    params = GenerationParams(grammar=R1_GRAMMAR, **R1_SETTINGS)
    expected = engine_text(served_r1.engine, params)
    with RemoteEngine(served_r1.server.url, api_key=KEY) as remote:
        events = list(remote.generate([Message("user", QUESTION)], params))
    got = {"thinking": "", "answer": ""}
    for event in events:
        if isinstance(event, Chunk):
            got[event.kind] += event.text
    assert got == expected
    assert isinstance(events[-1], Finished)
    assert events[-1].stats.n_thinking > 0
    assert [e.purpose for e in netlog.read_log()] == ["remote-engine"] * 2


# -- the client goes away -------------------------------------------------------------------------


@pytest.mark.slow
def test_client_leaving_a_stream_cancels_the_generation(served: Served) -> None:
    served.drain()
    stream = served.client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": LONG_PROMPT}],
        max_tokens=1500,
        temperature=0.0,
        stream=True,
    )
    for n, _ in enumerate(stream):
        if n == 5:
            break
    stream.close()
    record = served.next_finished(timeout=30)
    assert record.client_gone
    assert record.stats is not None and record.stats.finish_reason == "cancelled"
    assert record.stats.n_generated < 200  # stopped soon after the client left (in tokens,
    # not seconds: wall time on a shared 2-core machine says little)
    assert ask(served, **GREEDY).choices[0].message.content  # the next request is served


@pytest.mark.slow
def test_client_timing_out_a_whole_answer_cancels_it(served: Served) -> None:
    served.drain()
    impatient = served.client.with_options(timeout=1.0)
    with pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": LONG_PROMPT}],
            max_tokens=1500,
            temperature=0.0,
        )
    record = served.next_finished(timeout=30)
    assert record.client_gone and record.stats.finish_reason == "cancelled"
    assert record.stats.n_generated < 1500  # cut short, not run to max_tokens


# -- one at a time -------------------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_requests_are_served_one_after_another_in_order(served: Served) -> None:
    served.drain()
    results: dict[str, str] = {}

    def request(name: str) -> None:
        chunks = ask(served, stream=True, max_tokens=16, temperature=0.0)
        results[name] = "".join(c.choices[0].delta.content or "" for c in chunks)

    threads = {name: threading.Thread(target=request, args=(name,)) for name in "ABC"}
    turns = served.server.turns
    threads["A"].start()
    wait_until(lambda: turns.busy)
    threads["B"].start()
    wait_until(lambda: turns.waiting == 1)
    threads["C"].start()
    wait_until(lambda: turns.waiting == 2 or not turns.busy)
    for thread in threads.values():
        thread.join(60)
    records = sorted((served.next_finished() for _ in "ABC"), key=lambda r: r.queued_at)
    assert len(set(results.values())) == 1 and results["A"]  # all three answered, greedily
    for before, after in itertools.pairwise(records):
        assert after.started_at >= before.finished_at  # never two at once
        assert before.started_at < after.started_at  # first come, first served
    assert records[2].started_at - records[2].queued_at > 0  # C waited


@pytest.mark.slow
def test_a_request_that_gives_up_waiting_for_the_apps_chat_does_not_stop_the_chat(
    served: Served,
) -> None:
    """In the app the window's chat and the served requests share one engine and take turns."""
    served.drain()
    engine = served.engine
    params = GenerationParams(max_tokens=150, temperature=0.0, seed=1)  # outlasts the wait
    question = [Message("user", LONG_PROMPT)]
    alone = list(engine.generate(question, params))[-1]
    assert isinstance(alone, Finished)
    chat = engine.generate(question, params)  # the window's chat holds the model
    first = next(chat)
    impatient = served.client.with_options(timeout=0.5)
    with pytest.raises(openai.APITimeoutError):  # it waits for the chat, then gives up
        impatient.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": LONG_PROMPT}], max_tokens=200
        )
    events = [first, *chat]
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.stats.finish_reason == alone.stats.finish_reason  # not "cancelled"
    assert finished.stats.n_generated == alone.stats.n_generated
    record = served.next_finished(timeout=30)
    assert record.client_gone
    assert record.stats is None or record.stats.n_generated == 0  # it never ran for nobody


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# -- refusals -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_wrong_or_missing_api_key_is_refused(served: Served) -> None:
    wrong = openai.OpenAI(base_url=served.server.url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "hi"}])
    status, body = served.raw("GET", "/v1/models", key=None)
    assert status == 401
    assert body["error"]["code"] == "invalid_api_key"
    assert set(body["error"]) == {"message", "type", "param", "code"}


@pytest.mark.slow
def test_bad_requests_get_400_with_a_reason(served: Served) -> None:
    post = lambda body: served.raw("POST", "/v1/chat/completions", body)  # noqa: E731
    status, body = post(b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    status, body = post(b'{"model": "smollm2"}')
    assert status == 400 and "'messages' is required" in body["error"]["message"]
    cases = [
        ({"messages": "hi"}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": [1]}, "stop"),
    ]
    for request, param in cases:
        status, body = post(json.dumps(request).encode())
        assert (status, body["error"]["param"]) == (400, param), request
    with pytest.raises(openai.BadRequestError):
        served.client.chat.completions.create(model="smollm2", messages=[])
    assert served.raw("GET", "/v1/nothing-here")[0] == 404
    assert served.raw("GET", "/v1/chat/completions")[0] == 405
    assert served.raw("GET", "/v1/models/other-model")[0] == 404
    # the server still answers after all that
    assert ask(served, **GREEDY).choices[0].message.content


@pytest.mark.slow
def test_context_overflow_is_a_400(served: Served) -> None:
    long = "word " * 3000
    with pytest.raises(openai.BadRequestError) as caught:
        served.client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": long}], stream=True
        )
    assert "context" in str(caught.value)


@pytest.mark.slow
def test_a_grammar_llama_cpp_cannot_parse_is_a_400_and_the_engine_lives(served: Served) -> None:
    """It was a 503 "killed by SIGSEGV", then 500 "No model is loaded" for every request."""
    pid = served.engine.pid
    status, body = served.raw(
        "POST",
        "/v1/chat/completions",
        json.dumps(
            {"messages": [{"role": "user", "content": "hi"}], "grammar": "root ::= ("}
        ).encode(),
    )
    assert status == 400
    assert body["error"]["param"] == "grammar" and body["error"]["code"] == "invalid_grammar"
    assert "expecting ')'" in body["error"]["message"]
    with pytest.raises(openai.BadRequestError):
        ask(served, extra_body={"grammar": 'answer ::= "no root"'}, **GREEDY)
    assert served.engine.pid == pid and served.engine.alive
    assert ask(served, **GREEDY).choices[0].message.content


@pytest.mark.slow
def test_a_huge_prompt_is_refused_before_it_is_tokenized(served: Served) -> None:
    served.drain()
    huge = "hello world " * 1_250_000  # 15 MB: 13 s of tokenizing before it was refused
    with pytest.raises(openai.BadRequestError) as caught:
        served.client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": huge}]
        )
    assert caught.value.code == "context_length_exceeded"
    assert "at least" in caught.value.message
    record = served.next_finished()
    assert record.finished_at - record.started_at < 5  # the engine's time on it


def test_offline_mode_refuses_to_listen_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_OFFLINE", "1")
    engine = EngineClient()  # never started: no model is needed to refuse
    server = OpenAIServer(engine, "m", host="0.0.0.0", port=0)
    assert server.leaves_this_computer
    with pytest.raises(OfflineMode):
        server.start()
    assert not server.running
    with OpenAIServer(engine, "m", host="127.0.0.1", port=0) as local:  # loopback is fine
        assert not local.leaves_this_computer
        status = http.client.HTTPConnection("127.0.0.1", local.port, timeout=5)
        status.request("GET", "/health")
        assert status.getresponse().status == 200
        status.close()


@pytest.mark.slow
def test_serve_command(smollm2: Path, ponder_home: Path) -> None:
    """`python -m model_runtime serve` prints where it listens and stops cleanly on SIGTERM."""
    env = {**os.environ, "PONDER_HOME": str(ponder_home), "PONDER_API_KEY": "env-key"}
    command = [sys.executable, "-m", "model_runtime", "serve", str(smollm2), "--port", "0",
               "--threads", "1", "--ctx", "512"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not (lines and lines[-1].startswith("Serving")):
            line = process.stderr.readline()
            assert line, f"serve exited: {''.join(lines)}"
            lines.append(line)
        url = re.search(r"at (http://127\.0\.0\.1:\d+/v1)", lines[-1]).group(1)
        assert "API key required" in lines[-1]
        client = openai.OpenAI(base_url=url, api_key="env-key", max_retries=0)
        assert [m.id for m in client.models.list()] == ["SmolLM2-135M-Instruct.Q4_1"]
        reply = client.chat.completions.create(
            model="x", messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
        assert reply.choices[0].message.content
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        process.stderr.close()


class ServeProcess:
    """`python -m model_runtime serve` in a subprocess, its stderr read line by line."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        command = [sys.executable, "-m", "model_runtime", "serve", *args]
        self.process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put("")

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        seen = []
        while True:
            line = self.lines.get(timeout=timeout)
            assert line, f"serve exited: {''.join(seen)}"
            seen.append(line)
            if found := re.search(pattern, line):
                return found

    def engine_pid(self) -> int:
        import psutil

        (worker,) = [
            child
            for child in psutil.Process(self.process.pid).children()
            if "spawn_main" in " ".join(child.cmdline())
        ]
        return worker.pid

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(15)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


@pytest.mark.slow
def test_serve_command_loads_the_model_again_after_its_engine_dies(
    smollm2: Path, ponder_home: Path
) -> None:
    env = {**os.environ, "PONDER_HOME": str(ponder_home)}
    serve = ServeProcess(str(smollm2), "--port", "0", "--threads", "1", "--ctx", "512", env=env)
    try:
        url = serve.wait_for(r"at (http://127\.0\.0\.1:\d+/v1)").group(1)
        client = openai.OpenAI(base_url=url, api_key="none", max_retries=0)
        os.kill(serve.engine_pid(), signal.SIGKILL)
        assert "SIGKILL" in serve.wait_for("the engine stopped").string
        serve.wait_for("the model is loaded again")  # by itself: no request asked for it
        reply = client.chat.completions.create(
            model="x", messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
        assert reply.choices[0].message.content
    finally:
        assert serve.stop() == 0
