"""Remote engines: llama-cpp-python's own server (real), and a scripted endpoint for faults."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model_runtime import netlog
from model_runtime.chat.generation import Chunk, Finished, GenerationParams, Message
from model_runtime.errors import (
    OfflineMode,
    PonderError,
    RemoteAnswerCutOff,
    RemoteAuthFailed,
    RemoteEngineError,
    RemoteTimeout,
    RemoteUnreachable,
)
from model_runtime.serving import endpoints
from model_runtime.serving.endpoints import Endpoint
from model_runtime.serving.remote import RemoteEngine
from tests.openai_stub import OpenAIStub

QUESTION = [Message("user", "What is 2 + 2?")]
REASONING_SCRIPT = [
    {"role": "assistant", "content": ""},
    {"reasoning_content": "\nTwo and two"},
    {"reasoning_content": " make four."},
    {"content": "\n\nThe answer"},
    {"content": " is 4."},
    ("usage", {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
               "completion_tokens_details": {"reasoning_tokens": 5}}),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _online(online: None) -> None:
    """Every test here starts online (the `online` fixture is in tests/openai_stub.py)."""


def run(engine: RemoteEngine, params: GenerationParams | None = None, **kw: Any):
    """Every event of one generation, and the text by kind."""
    events = list(engine.generate(QUESTION, params, **kw))
    text = {"thinking": "", "answer": ""}
    for event in events:
        if isinstance(event, Chunk):
            text[event.kind] += event.text
    return events, text


def consume(iterator, sink: list) -> None:
    for event in iterator:
        sink.append(event)


# -- reasoning, from separated deltas or inline tags -------------------------------------------


def test_reasoning_content_deltas_become_thinking(stub: OpenAIStub) -> None:
    stub.script = REASONING_SCRIPT
    with RemoteEngine(stub.url) as engine:
        events, text = run(engine)
    assert text == {"thinking": "Two and two make four.", "answer": "The answer is 4."}
    assert [e.kind for e in events if isinstance(e, Chunk)] == ["thinking"] * 2 + ["answer"] * 2
    finished = events[-1]
    assert isinstance(finished, Finished)
    stats = finished.stats
    assert (stats.n_prompt, stats.n_generated, stats.n_thinking) == (12, 9, 5)  # from usage
    assert stats.finish_reason == "stop"
    assert 0 < stats.ttft_seconds <= stats.total_seconds
    request = stub.requests[-1]
    assert request["model"] == "stub-model"  # picked from /v1/models
    assert request["stream"] is True
    assert request["messages"] == [{"role": "user", "content": "What is 2 + 2?"}]


def test_vllm_reasoning_field_and_counted_chunks(stub: OpenAIStub) -> None:
    stub.script = [{"reasoning": "Hmm."}, {"content": "Four"}, {"content": "."}]
    stub.finish_reason = "length"
    with RemoteEngine(stub.url, "stub-model") as engine:
        events, text = run(engine)
    assert text == {"thinking": "Hmm.", "answer": "Four."}
    stats = events[-1].stats
    assert stats.n_generated == 3 and stats.n_thinking == 1  # no usage: deltas counted
    assert stats.finish_reason == "length"
    assert stub.paths == [("POST", "/v1/chat/completions")]  # a chosen model: no /models


def test_inline_think_tags_are_split(stub: OpenAIStub) -> None:
    stub.script = [{"content": "<thi"}, {"content": "nk>\nLet me see"}, {"content": ".</think>"},
                   {"content": "\n\nFour."}]  # fmt: skip
    with RemoteEngine(stub.url, "stub-model") as engine:
        _, text = run(engine)
    assert text == {"thinking": "Let me see.", "answer": "Four."}


def test_r1_model_without_open_tag_starts_in_thinking(stub: OpenAIStub) -> None:
    stub.models = ["DeepSeek-R1-Distill-Qwen-7B"]  # its template opened <think> in the prompt
    stub.script = [{"content": "Two"}, {"content": " and two.\n</think>\n\n"}, {"content": "4"}]
    with RemoteEngine(stub.url) as engine:
        events, text = run(engine)
    assert text == {"thinking": "Two and two.\n", "answer": "4"}
    assert not events[-1].stats.unclosed_thinking


def test_a_think_tag_in_separated_content_stays_in_the_answer(stub: OpenAIStub) -> None:
    """The server separates reasoning: a <think> in the answer is the answer's own text."""
    stub.models = ["DeepSeek-R1-Distill-Qwen-7B"]
    stub.script = [
        {"content": "\n"},  # some servers send a newline before the reasoning starts
        {"reasoning_content": "Tags are asked about."},
        {"content": "Write <think> to open"},
        {"content": " and </think> to close."},
    ]
    with RemoteEngine(stub.url) as engine:
        events, text = run(engine)
    assert text == {
        "thinking": "Tags are asked about.",
        "answer": "Write <think> to open and </think> to close.",
    }
    assert not events[-1].stats.unclosed_thinking


def test_every_request_is_logged_as_remote_engine(stub: OpenAIStub) -> None:
    stub.script = REASONING_SCRIPT
    with RemoteEngine(stub.url) as engine:
        run(engine)
        assert not engine.leaves_this_computer
    logged = [(e.host, e.purpose, e.method, e.target) for e in netlog.read_log()]
    assert logged == [
        ("127.0.0.1", "remote-engine", "GET", "/v1/models"),
        ("127.0.0.1", "remote-engine", "POST", "/v1/chat/completions"),
    ]


def test_the_log_says_how_each_request_ended_and_the_bytes_each_way(stub: OpenAIStub) -> None:
    """A remote engine's requests carry the question out: the log says whether each one was
    answered and how many bytes went each way, as for the Hub's (issue 14)."""
    stub.script = REASONING_SCRIPT
    with RemoteEngine(stub.url) as engine:
        run(engine)
    with socket.socket() as probe:  # nothing listens here: refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        RemoteEngine(f"http://127.0.0.1:{port}/v1", "m") as engine,
        pytest.raises(RemoteUnreachable),
    ):
        run(engine)
    listed, answered, refused = netlog.read_log()
    for event in (listed, answered):
        assert event.succeeded is True and event.detail == "HTTP 200 OK", event
        assert event.sent is not None and event.sent > 100  # its line and headers, at least
        assert event.received is not None and event.received > 100
    assert answered.sent > listed.sent  # the question went out in the body
    assert refused.succeeded is False and refused.purpose == "remote-engine"
    assert "refused" in refused.detail.lower() and (refused.sent, refused.received) == (0, 0)


# -- stop, faults --------------------------------------------------------------------------------


def test_cancel_closes_the_stream(stub: OpenAIStub) -> None:
    stub.script = [{"content": "tick "}, *[("sleep", 0.05), {"content": "tick "}] * 200]
    events: list = []
    with RemoteEngine(stub.url, "stub-model") as engine:
        for event in engine.generate(QUESTION, gen_id=7):
            events.append(event)
            if len(events) == 3:
                engine.cancel(7)
        finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.stats.finish_reason == "cancelled"
    assert len(events) <= 5  # at most a chunk already in flight
    assert stub.client_left.wait(5)  # the server saw the connection go


def test_cancel_from_another_thread_wakes_a_blocked_read(stub: OpenAIStub) -> None:
    stub.script = [{"content": "Thinking hard"}, ("sleep", 30)]
    events: list = []
    with RemoteEngine(stub.url, "stub-model", read_timeout=60) as engine:
        reader = threading.Thread(target=consume, args=(engine.generate(QUESTION), events))
        reader.start()
        deadline = time.monotonic() + 10
        while not events and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        engine.cancel()
        reader.join(10)
    assert not reader.is_alive()
    assert time.monotonic() - started < 2
    assert events[-1].stats.finish_reason == "cancelled"
    assert events[0] == Chunk(1, "answer", "Thinking hard")


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
def test_a_dropped_stream_keeps_the_partial_answer(stub: OpenAIStub, chunked: bool) -> None:
    stub.chunked = chunked
    stub.script = [{"reasoning_content": "Adding."}, {"content": "The answer"}, {"content": " is"},
                   ("drop",)]  # fmt: skip
    events: list = []
    with (
        RemoteEngine(stub.url, "stub-model") as engine,
        pytest.raises(RemoteAnswerCutOff) as caught,
    ):
        consume(engine.generate(QUESTION), events)
    assert "".join(e.text for e in events if e.kind == "answer") == "The answer is"
    error = caught.value
    assert (error.reasoning, error.answer) == ("Adding.", "The answer is")
    assert "cut off" in str(error) and "is kept" in str(error)
    assert isinstance(error, ConnectionError)


def test_a_stall_mid_answer_is_cut_off_and_before_it_a_timeout(stub: OpenAIStub) -> None:
    stub.script = [{"content": "Partial"}, ("sleep", 3)]
    with (
        RemoteEngine(stub.url, "stub-model", read_timeout=0.5) as engine,
        pytest.raises(RemoteAnswerCutOff, match=r"sent nothing for 0\.5 s"),
    ):
        run(engine)
    stub.hang_seconds = 3
    with RemoteEngine(stub.url, "stub-model", read_timeout=0.5) as engine:
        started = time.monotonic()
        with pytest.raises(RemoteTimeout, match="sent nothing"):
            run(engine)
        assert time.monotonic() - started < 2.5
    assert issubclass(RemoteTimeout, TimeoutError)


def test_refused_connection_says_so() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        RemoteEngine(f"http://127.0.0.1:{port}", "m") as engine,
        pytest.raises(RemoteUnreachable, match="refused"),
    ):
        run(engine)


def test_wrong_api_key_is_refused_with_the_servers_words(stub: OpenAIStub) -> None:
    stub.api_key = "right"
    with (
        RemoteEngine(stub.url, "stub-model", api_key="wrong") as engine,
        pytest.raises(RemoteAuthFailed, match=r"refused the API key \(HTTP 401: Invalid API"),
    ):
        run(engine)
    with (
        RemoteEngine(stub.url, api_key=None) as engine,
        pytest.raises(RemoteAuthFailed, match="needs an API key"),
    ):
        engine.list_models()
    stub.script = [{"content": "ok"}]
    with RemoteEngine(stub.url, api_key="right") as engine:
        assert run(engine)[1]["answer"] == "ok"
    assert issubclass(RemoteAuthFailed, PermissionError)


def test_offline_mode_refuses_before_any_connection(stub: OpenAIStub) -> None:
    netlog.set_offline(True)
    with RemoteEngine(stub.url, "stub-model") as engine, pytest.raises(OfflineMode):
        run(engine)
        with pytest.raises(OfflineMode):
            engine.list_models()
    assert stub.connections == 0
    assert netlog.read_log() == []


# -- the endpoint registry --------------------------------------------------------------------


def test_endpoints_keep_their_key_in_the_keyring(
    stub: OpenAIStub, memory_keyring: Any, ponder_home: Path
) -> None:
    stub.api_key = "s3cret-key"
    stub.script = [{"content": "hello"}]
    endpoints.save_endpoint(Endpoint("lab", f"http://127.0.0.1:{stub.port}"), api_key="s3cret-key")
    endpoints.save_endpoint(Endpoint("cloud", "https://api.example.com/v1", "r1"))
    saved = (ponder_home / "config" / "endpoints.json").read_text()
    assert "s3cret" not in saved
    assert json.loads(saved)["endpoints"][0]["base_url"] == stub.url  # "/v1" added
    lab = endpoints.get_endpoint("lab")
    assert lab is not None and not lab.leaves_this_computer
    assert endpoints.get_endpoint("cloud").leaves_this_computer
    with RemoteEngine.from_endpoint(lab) as engine:
        assert run(engine)[1]["answer"] == "hello"
    endpoints.remove_endpoint("lab")
    assert [e.name for e in endpoints.load_endpoints()] == ["cloud"]
    assert lab.api_key() is None


def test_the_chosen_endpoint_is_remembered_and_follows_a_rename(
    memory_keyring: Any, ponder_home: Path
) -> None:
    endpoints.save_endpoint(Endpoint("lab", "http://127.0.0.1:8080"), api_key="k1")
    endpoints.save_endpoint(Endpoint("cloud", "https://api.example.com/v1", "r1"))
    assert endpoints.chosen_endpoint() is None
    endpoints.set_chosen("lab")
    assert endpoints.chosen_endpoint() == endpoints.get_endpoint("lab")

    renamed = endpoints.save_endpoint(Endpoint("box", "http://127.0.0.1:8081"), replacing="lab")
    assert [e.name for e in endpoints.load_endpoints()] == ["box", "cloud"]  # same place
    assert endpoints.chosen_endpoint() == renamed  # still the one chat uses
    assert renamed.api_key() == "k1" and Endpoint("lab", "http://x").api_key() is None

    with pytest.raises(PonderError, match="already a remote engine named 'cloud'"):
        endpoints.save_endpoint(Endpoint("cloud", "http://127.0.0.1:1"), replacing="box")
    assert [e.base_url for e in endpoints.load_endpoints()] == [
        "http://127.0.0.1:8081/v1",
        "https://api.example.com/v1",
    ]  # the refused rename changed nothing
    assert renamed.api_key() == "k1"

    endpoints.remove_endpoint("box")
    assert endpoints.chosen_endpoint() is None  # a removed endpoint is not chosen any more
    endpoints.set_chosen("cloud")
    endpoints.set_chosen(None)  # back to the local model
    assert endpoints.chosen_endpoint() is None
    endpoints.set_chosen("nonexistent")
    assert endpoints.chosen_endpoint() is None


@pytest.mark.parametrize(
    ("url", "leaves"),
    [("http://localhost:8080", False), ("http://[::1]:8080", False), ("http://127.0.0.2", False),
     ("http://192.168.1.20:8080", True), ("https://api.example.com/v1", True),
     ("http://0.0.0.0:8080", True)],
)  # fmt: skip
def test_what_leaves_this_computer(url: str, leaves: bool) -> None:
    assert RemoteEngine(url).leaves_this_computer is leaves


def test_bad_base_urls_are_refused() -> None:
    for url in ("ftp://host", "localhost:8080", "http://host/v1?x=1"):
        with pytest.raises(PonderError):
            RemoteEngine(url)
    assert RemoteEngine("http://h:1/").base_url == "http://h:1/v1"
    assert RemoteEngine("http://h:1/api/v1/").base_url == "http://h:1/api/v1"


# -- llama-cpp-python's own server, for real --------------------------------------------------


@pytest.fixture(scope="module")
def llama_cpp_server(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on the real SmolLM2, on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp_path_factory.mktemp("llama-server") / "server.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2), "--host", "127.0.0.1",
         "--port", str(port), "--n_threads", "1", "--n_ctx", "1024", "--model_alias", "smollm2"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"llama_cpp.server did not start: {log.name}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.mark.slow
def test_llama_cpp_python_server_as_a_remote_engine(llama_cpp_server: str) -> None:
    params = GenerationParams(max_tokens=16, temperature=0.0, seed=1)
    with RemoteEngine(llama_cpp_server) as engine:
        assert engine.list_models() == ["smollm2"]
        events, text = run(engine, params)
        assert len([e for e in events if isinstance(e, Chunk)]) > 1  # streamed
        assert text["answer"].strip() and not text["thinking"]
        stats = events[-1].stats
        assert stats.finish_reason in ("stop", "length")
        assert 0 < stats.n_generated <= 16
        assert stats.ttft_seconds > 0
        # stop mid-answer closes the connection; the server then answers the next request
        sink: list = []
        for event in engine.generate(QUESTION, GenerationParams(max_tokens=200), gen_id=50):
            sink.append(event)
            if len(sink) == 2:
                engine.cancel(50)
        assert sink[-1].stats.finish_reason == "cancelled"
        events, again = run(engine, params)
        assert again["answer"].strip()
        assert events[-1].stats.finish_reason in ("stop", "length")
    assert {e.purpose for e in netlog.read_log()} == {"remote-engine"}


def test_a_server_error_status_carries_its_message(stub: OpenAIStub) -> None:
    stub.error = (400, "the request exceeds the available context size")
    with (
        RemoteEngine(stub.url, "stub-model") as engine,
        pytest.raises(RemoteEngineError, match=r"HTTP 400: the request exceeds the avail"),
    ):
        run(engine)
    stub.models = []
    with (
        RemoteEngine(stub.url) as engine,
        pytest.raises(RemoteEngineError, match="offers no model"),
    ):
        run(engine)


@pytest.mark.parametrize(
    ("step", "words"),
    [
        (("raw", "[" * 200_000), "not JSON"),  # was a RecursionError
        (("raw", '{"choices": "abc"}'), "'choices' is not a list"),
        (("raw", '{"choices": ["abc"]}'), "a choice is not an object"),
        (("raw", '{"choices": [{"delta": [1]}]}'), "a 'delta' is not an object"),
        (("raw", '{"choices": [{"delta": {}, "finish_reason": 1}]}'), "'finish_reason'"),
        (("raw", '{"choices": [], "usage": [1, 2]}'), "'usage' is not an object"),
        (("raw", '{"choices": [], "usage": {"completion_tokens": "many"}}'), "not a count"),
        (("raw", '{"usage": {"completion_tokens_details": 5}}'), "is not an object"),
        (("raw", '{"error": 12345}'), "reported an error: 12345"),
    ],
)
def test_a_malformed_chunk_is_an_error_in_words(stub: OpenAIStub, step: tuple, words: str) -> None:
    """Wrong types were 'Unexpected error: AttributeError …' in the window."""
    stub.script = [{"content": "Four"}, step]
    with RemoteEngine(stub.url, "stub-model") as engine, pytest.raises(RemoteEngineError) as caught:
        run(engine)
    assert words in str(caught.value)
    assert isinstance(caught.value, RemoteAnswerCutOff) and caught.value.answer == "Four"


@pytest.mark.parametrize(
    "body", [b"[" * 200_000, b'{"data": "abc"}', b'{"data": [1]}', b'{"data": {"id": 1}}']
)
def test_a_malformed_model_list_is_an_error_in_words(stub: OpenAIStub, body: bytes) -> None:
    stub.models_body = body
    with RemoteEngine(stub.url) as engine, pytest.raises(RemoteEngineError, match="OpenAI-comp"):
        engine.list_models()


def test_an_error_status_with_an_odd_body_is_still_said(stub: OpenAIStub) -> None:
    stub.error = (500, 12345)  # type: ignore[assignment]  # a message that is not a string
    with (
        RemoteEngine(stub.url, "stub-model") as engine,
        pytest.raises(RemoteEngineError, match=r"HTTP 500: 12345"),
    ):
        run(engine)
