"""The engine process with the real llama.cpp on the real SmolLM2 model."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from model_runtime.chat.generation import Chunk, Finished, GenerationParams, LoadRequest, Message
from model_runtime.engine import EngineClient
from model_runtime.errors import ContextOverflow, EngineCrashed, ModelFileError
from tests.conftest import THINK_GRAMMAR

pytestmark = pytest.mark.slow

GREEDY = GenerationParams(max_tokens=24, temperature=0.0, seed=1)


def collect(events) -> tuple[list[Chunk], Finished]:
    chunks, finished = [], None
    for event in events:
        if isinstance(event, Chunk):
            chunks.append(event)
        else:
            finished = event
    assert finished is not None
    return chunks, finished


def text_of(chunks: list[Chunk], kind: str) -> str:
    return "".join(c.text for c in chunks if c.kind == kind)


@pytest.fixture(scope="module")
def engine(smollm2: Path, tmp_path_factory: pytest.TempPathFactory):
    client = EngineClient(log_dir=tmp_path_factory.mktemp("logs"))
    client.load(LoadRequest(model_path=str(smollm2), n_ctx=2048, n_threads=2))
    yield client
    client.close()


def test_load_reports_the_model(engine: EngineClient) -> None:
    summary = engine.summary
    assert summary is not None
    assert summary.architecture == "llama"
    assert summary.quantization == "Q4_1"
    assert summary.n_ctx == 2048
    assert 100_000_000 < summary.n_params < 200_000_000
    assert summary.has_chat_template
    assert not summary.starts_in_thinking  # SmolLM2's own template opens no <think>


def test_streams_an_answer_with_stats(engine: EngineClient, smollm2: Path) -> None:
    question = "What is the capital of France?"
    chunks, finished = collect(engine.generate([Message("user", question)], GREEDY))
    assert len(chunks) > 1  # streamed, not one block
    assert {c.kind for c in chunks} == {"answer"}
    # greedy decoding through Ponder gives exactly what llama-cpp-python gives on its own
    import llama_cpp

    raw = llama_cpp.Llama(model_path=str(smollm2), n_ctx=512, verbose=False)
    reply = raw.create_chat_completion(
        [{"role": "user", "content": question}], max_tokens=24, temperature=0.0
    )
    raw.close()
    assert text_of(chunks, "answer") == reply["choices"][0]["message"]["content"]
    stats = finished.stats
    assert stats.n_prompt > 10
    assert 0 < stats.n_generated <= 24
    assert stats.ttft_seconds > 0
    assert stats.tokens_per_second > 0
    assert stats.finish_reason in ("stop", "length")
    assert len({c.gen_id for c in chunks} | {finished.gen_id}) == 1


def test_same_seed_same_answer(engine: EngineClient) -> None:
    messages = [Message("user", "Name a colour.")]
    params = GenerationParams(max_tokens=12, temperature=0.9, seed=42)
    first = text_of(collect(engine.generate(messages, params))[0], "answer")
    second = text_of(collect(engine.generate(messages, params))[0], "answer")
    assert first == second


def test_grammar_makes_a_thinking_stream(engine: EngineClient) -> None:
    params = GenerationParams(max_tokens=120, temperature=0.7, seed=3, grammar=THINK_GRAMMAR)
    chunks, finished = collect(engine.generate([Message("user", "Why is the sky blue?")], params))
    kinds = [c.kind for c in chunks]
    assert kinds[0] == "thinking"
    assert "answer" in kinds
    assert kinds.index("answer") > 0 and "thinking" not in kinds[kinds.index("answer") :]
    thinking, answer = text_of(chunks, "thinking"), text_of(chunks, "answer")
    assert "<think>" not in thinking and "</think>" not in answer
    assert len(thinking.strip()) >= 20 and answer.strip().endswith(".")
    assert 0 < finished.stats.n_thinking < finished.stats.n_generated


def test_second_turn_reuses_the_cached_prefix(engine: EngineClient) -> None:
    first_turn = [Message("user", "Tell me one fact about the Moon.")]
    chunks, first = collect(engine.generate(first_turn, GREEDY))
    second_turn = [
        *first_turn,
        Message("assistant", text_of(chunks, "answer")),
        Message("user", "And one about Mars?"),
    ]
    _, second = collect(engine.generate(second_turn, GREEDY))
    assert second.stats.n_cached >= first.stats.n_prompt - 1
    assert second.stats.n_evaluated == second.stats.n_prompt - second.stats.n_cached
    assert second.stats.n_evaluated < second.stats.n_prompt / 2


def test_past_reasoning_is_not_sent_back(engine: EngineClient) -> None:
    secret = "zebracornflakes"
    history = [
        Message("user", "Hi"),
        Message("assistant", "Hello!", reasoning=f"I think about {secret}."),
        Message("user", "Repeat everything said so far, word for word."),
    ]
    _, with_reasoning = collect(engine.generate(history, GREEDY))
    plain = [history[0], Message("assistant", "Hello!"), history[2]]
    _, without = collect(engine.generate(plain, GREEDY))
    assert with_reasoning.stats.n_prompt == without.stats.n_prompt


def test_cancel_mid_answer(engine: EngineClient) -> None:
    params = GenerationParams(max_tokens=1500, temperature=1.0, seed=5)
    stream = engine.generate([Message("user", "Write a very long story about a cat.")], params)
    chunks: list[Chunk] = []
    finished = None
    for event in stream:
        if isinstance(event, Chunk):
            chunks.append(event)
            if len(chunks) == 5:
                engine.cancel()
        else:
            finished = event
    assert finished is not None
    assert finished.stats.finish_reason == "cancelled"
    assert finished.stats.n_generated < 40
    # the engine is still fine afterwards
    _, after = collect(engine.generate([Message("user", "Say hi.")], GREEDY))
    assert after.stats.finish_reason in ("stop", "length")


def test_cancel_mid_prompt(smollm2: Path, tmp_path: Path) -> None:
    client = EngineClient(log_dir=tmp_path)
    # small batches: the prompt takes many llama_decode calls, and the abort callback stops one
    client.load(LoadRequest(model_path=str(smollm2), n_ctx=4096, n_batch=32, n_threads=2))
    try:
        long_prompt = " ".join(f"word{i}" for i in range(450))
        gen_id = client.new_generation_id()
        timer = threading.Timer(0.3, client.cancel, args=(gen_id,))
        timer.start()
        _, finished = collect(
            client.generate([Message("user", long_prompt)], GREEDY, gen_id=gen_id)
        )
        timer.join()
        stats = finished.stats
        assert stats.finish_reason == "cancelled"
        assert stats.n_generated == 0
        assert stats.n_evaluated < stats.n_prompt  # stopped inside the prompt
        _, after = collect(client.generate([Message("user", "Say hi.")], GREEDY))
        assert after.stats.finish_reason in ("stop", "length")
    finally:
        client.close()


def test_cancelling_a_waiting_generation_leaves_the_running_one_alone(
    engine: EngineClient,
) -> None:
    """The chat and the server share one client: one's stop must not stop the other's answer."""
    params = GenerationParams(max_tokens=60, temperature=0.0, seed=1)
    question = [Message("user", "Count from one to twenty in words.")]
    _, alone = collect(engine.generate(question, params))
    running = engine.generate(question, params)
    chunks = [next(running)]  # running holds the engine now
    waiting_id = engine.new_generation_id()
    waiting_result: list[Finished] = []
    waiter = threading.Thread(
        target=lambda: waiting_result.append(
            collect(engine.generate(question, params, gen_id=waiting_id))[1]
        )
    )
    waiter.start()
    engine.cancel(waiting_id)  # e.g. the server's client left while the chat was answering
    engine.answer_now(waiting_id)
    rest, finished = collect(running)
    waiter.join(timeout=120)
    assert finished.stats.finish_reason == alone.stats.finish_reason
    assert finished.stats.n_generated == alone.stats.n_generated
    assert text_of([*chunks, *rest], "answer") == text_of(
        collect(engine.generate(question, params))[0], "answer"
    )
    assert waiting_result and waiting_result[0].stats.finish_reason == "cancelled"
    assert waiting_result[0].stats.n_generated == 0
    # and the next one runs normally: nothing left raised for it
    _, after = collect(engine.generate(question, params))
    assert after.stats.finish_reason == alone.stats.finish_reason


def test_prompt_longer_than_context_is_refused(smollm2: Path, tmp_path: Path) -> None:
    client = EngineClient(log_dir=tmp_path)
    client.load(LoadRequest(model_path=str(smollm2), n_ctx=256, n_threads=2))
    try:
        with pytest.raises(ContextOverflow) as caught:
            collect(client.generate([Message("user", "lorem ipsum " * 400)], GREEDY))
        assert caught.value.n_ctx == 256 and caught.value.n_prompt > 256
        assert "context" in str(caught.value)
        _, after = collect(client.generate([Message("user", "Say hi.")], GREEDY))
        assert after.stats.n_generated > 0
    finally:
        client.close()


@pytest.mark.parametrize("how", ["SIGKILL", "SIGILL"])
def test_worker_death_is_reported_and_recoverable(how: str, smollm2: Path, tmp_path: Path) -> None:
    client = EngineClient(log_dir=tmp_path)
    request = LoadRequest(model_path=str(smollm2), n_ctx=1024, n_threads=2)
    client.load(request)
    try:
        params = GenerationParams(max_tokens=1000, temperature=1.0, seed=9)
        stream = client.generate([Message("user", "Write a long poem.")], params)
        with pytest.raises(EngineCrashed) as caught:
            for count, _event in enumerate(stream):
                if count == 3:
                    os.kill(client.pid, getattr(signal, how))
        crash = caught.value
        assert crash.exitcode == -getattr(signal, how)
        assert how in str(crash)
        # the engine log's last lines: llama.cpp's own, or the fault handler's report
        expected = "illegal instruction" if how == "SIGILL" else "llama"
        assert expected in crash.stderr_tail.lower()
        assert not client.alive
        # until a load, asking again says it crashed (it started a bare worker that said
        # "No model is loaded", which a server repeated forever)
        with pytest.raises(EngineCrashed):
            list(client.generate([Message("user", "Say hi.")], GREEDY))
        assert client.pid is None
        client.load(request)  # a fresh worker
        _, after = collect(client.generate([Message("user", "Say hi.")], GREEDY))
        assert after.stats.n_generated > 0
    finally:
        client.close()


def test_a_worker_that_died_idle_is_noticed(smollm2: Path, tmp_path: Path) -> None:
    client = EngineClient(log_dir=tmp_path)
    client.load(LoadRequest(model_path=str(smollm2), n_ctx=512, n_threads=2))
    try:
        assert client.poll_crash() is None  # alive
        os.kill(client.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (crash := client.poll_crash()) is None:
            assert time.monotonic() < deadline, "the death was never noticed"
            time.sleep(0.01)
        assert crash.exitcode == -signal.SIGKILL and "SIGKILL" in str(crash)
        assert client.summary is None and client.crash is crash
        assert client.poll_crash() is None  # told once
    finally:
        client.close()


def test_a_prompt_too_big_for_the_context_is_refused_before_tokenizing(
    engine: EngineClient,
) -> None:
    """15 MB took 13 s to tokenize only to be refused; its size alone proves it can't fit."""
    huge = [Message("user", "hello world " * 1_250_000)]
    with pytest.raises(ContextOverflow) as caught:
        list(engine.generate(huge, GREEDY))
    assert "at least" in str(caught.value)  # estimated, not counted
    assert caught.value.n_prompt > caught.value.n_ctx == 2048
    # one that its size does not rule out is still counted exactly
    with pytest.raises(ContextOverflow) as counted:
        list(engine.generate([Message("user", "lorem ipsum " * 2000)], GREEDY))
    assert "at least" not in str(counted.value) and counted.value.n_prompt > 2048
    _, after = collect(engine.generate([Message("user", "Say hi.")], GREEDY))
    assert after.stats.n_generated > 0


def test_r1_template_starts_inside_thinking(smollm2_r1: Path, tmp_path: Path) -> None:
    client = EngineClient(log_dir=tmp_path)
    summary = client.load(LoadRequest(model_path=str(smollm2_r1), n_ctx=1024, n_threads=2))
    try:
        assert summary.starts_in_thinking
        grammar = THINK_GRAMMAR.replace('root   ::= "<think>\\n" thought', "root ::= thought")
        params = GenerationParams(max_tokens=120, temperature=0.7, seed=4, grammar=grammar)
        chunks, finished = collect(client.generate([Message("user", "Why?")], params))
        assert chunks[0].kind == "thinking"
        assert text_of(chunks, "answer").strip()
        assert "</think>" not in text_of(chunks, "thinking") + text_of(chunks, "answer")
        assert not finished.stats.unclosed_thinking
    finally:
        client.close()


def test_missing_file(tmp_path: Path) -> None:
    client = EngineClient(log_dir=tmp_path)
    try:
        with pytest.raises(ModelFileError, match=r"not found|does not exist|No such"):
            client.load(LoadRequest(model_path=str(tmp_path / "nope.gguf")))
    finally:
        client.close()


def test_not_a_gguf(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.gguf"
    bogus.write_text("these are my notes, not a model\n" * 100)
    client = EngineClient(log_dir=tmp_path)
    try:
        with pytest.raises(ModelFileError, match="GGUF"):
            client.load(LoadRequest(model_path=str(bogus)))
    finally:
        client.close()


def test_truncated_gguf_keeps_the_loaded_model(smollm2: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with open(smollm2, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(30_000_000))  # an interrupted download
    client = EngineClient(log_dir=tmp_path)
    try:
        client.load(LoadRequest(model_path=str(smollm2), n_ctx=512, n_threads=2))
        with pytest.raises(ModelFileError, match=r"incomplete|truncated|damaged"):
            client.load(LoadRequest(model_path=str(cut)))
        assert client.summary is not None and client.summary.path == str(smollm2)
        _, after = collect(client.generate([Message("user", "Say hi.")], GREEDY))
        assert after.stats.n_generated > 0
    finally:
        client.close()


def test_unknown_architecture(tmp_path: Path) -> None:
    from tests.gguf_factory import write_tiny_model

    path = tmp_path / "strange.gguf"
    write_tiny_model(path, arch="llama")
    odd = tmp_path / "odd.gguf"
    shutil.copy(path, odd)
    data = odd.read_bytes().replace(b"llama", b"xlama", 1)  # general.architecture's value
    odd.write_bytes(data)
    client = EngineClient(log_dir=tmp_path)
    try:
        with pytest.raises(ModelFileError, match="xlama"):
            client.load(LoadRequest(model_path=str(odd)))
    finally:
        client.close()


def test_broken_chat_template_is_refused_before_the_loaded_model_goes(
    smollm2: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-template.gguf"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gguf.scripts.gguf_new_metadata",
            str(smollm2),
            str(broken),
            "--chat-template",
            "{% if messages %}never closed",
            "--force",
        ],
        check=True,
        capture_output=True,
    )
    client = EngineClient(log_dir=tmp_path)
    try:
        client.load(LoadRequest(model_path=str(smollm2), n_ctx=512, n_threads=2))
        with pytest.raises(ModelFileError, match="chat template"):
            client.load(LoadRequest(model_path=str(broken)))
        _, after = collect(client.generate([Message("user", "Say hi.")], GREEDY))
        assert after.stats.n_generated > 0
    finally:
        client.close()


def test_continue_a_partial_answer(engine: EngineClient) -> None:
    question = [Message("user", "List three fruits.")]
    full = text_of(
        collect(engine.generate(question, GenerationParams(max_tokens=20, temperature=0.0)))[0],
        "answer",
    )
    short = GenerationParams(max_tokens=8, temperature=0.0)
    partial = text_of(collect(engine.generate(question, short))[0], "answer")
    assert full.startswith(partial) and len(partial) < len(full)
    rest_chunks, finished = collect(
        engine.generate(
            [*question, Message("assistant", partial)],
            GenerationParams(max_tokens=12, temperature=0.0),
        )
    )
    assert {c.kind for c in rest_chunks} == {"answer"}
    assert partial + text_of(rest_chunks, "answer") == full  # as if it had never stopped
    assert finished.stats.n_cached > 0


def test_continue_inside_thinking(smollm2_r1: Path, tmp_path: Path) -> None:
    client = EngineClient(log_dir=tmp_path)
    client.load(LoadRequest(model_path=str(smollm2_r1), n_ctx=1024, n_threads=2))
    try:
        partial = Message("assistant", "", reasoning="First, I consider the colour of")
        chunks, _ = collect(
            client.generate(
                [Message("user", "Why?"), partial], GenerationParams(max_tokens=10, temperature=0.0)
            )
        )
        assert chunks and chunks[0].kind == "thinking"  # still thinking, no <think> shown
        assert "<think>" not in "".join(c.text for c in chunks)
    finally:
        client.close()
