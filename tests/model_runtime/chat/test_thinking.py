"""Reasoning controls on the real model: answer now, thinking budgets, the loop breaker."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from model_runtime.chat.generation import Chunk, Finished, GenerationParams, LoadRequest, Message
from model_runtime.chat.thinking import LoopDetector, ThinkingEnded, ThinkingPolicy, is_r1_family
from model_runtime.engine import EngineClient


def run(events):
    chunks, ended, finished = [], [], None
    for event in events:
        if isinstance(event, Chunk):
            chunks.append(event)
        elif isinstance(event, ThinkingEnded):
            ended.append(event)
        elif isinstance(event, Finished):
            finished = event
    assert finished is not None
    return chunks, ended, finished


def kinds_in_order(chunks: list[Chunk]) -> list[str]:
    order: list[str] = []
    for chunk in chunks:
        if not order or order[-1] != chunk.kind:
            order.append(chunk.kind)
    return order


# -- the detector on its own ---------------------------------------------------------------


def test_a_repeated_span_is_a_loop() -> None:
    detector = LoopDetector()
    rng = random.Random(1)
    prose = [rng.randrange(50_000) for _ in range(300)]
    assert all(detector.feed(t, f"w{t} ") is None for t in prose)  # varied reasoning: no loop
    paragraph = [rng.randrange(50_000) for _ in range(30)]
    found = None
    count = 0
    for count, token in enumerate(paragraph * 10):  # noqa: B007 - read after the loop
        found = found or detector.feed(token, f"w{token} ")
        if found:
            break
    assert found is not None and "30 tokens" in found
    assert count < 30 * 3 + detector.check_every  # caught by the third repetition


def test_a_short_stutter_must_be_long_to_count() -> None:
    detector = LoopDetector()
    results = [detector.feed(7, "the ") for _ in range(40)]
    assert not any(results)  # "the the the …" 40 times is under min_span_tokens
    assert any(detector.feed(7, "the ") for _ in range(16))


def test_text_that_compresses_too_well_is_a_loop() -> None:
    detector = LoopDetector(max_period=8)  # the token check can't see this one
    rng = random.Random(2)
    sentence = "So the answer must be checked again because the numbers do not add up. "
    found = None
    for _ in range(200):
        found = found or detector.feed(rng.randrange(50_000), sentence)
    assert found is not None and "compress" in found


def test_r1_family_by_name() -> None:
    assert is_r1_family("DeepSeek-R1-Distill-Qwen-7B")
    assert is_r1_family(None, "DeepSeek-R1-0528-Qwen3-8B-Q4_K_M.gguf")
    assert not is_r1_family("SmolLM2 135M", "smollm2.gguf")


# -- on the real model ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def r1_engine(smollm2_r1: Path, tmp_path_factory: pytest.TempPathFactory):
    """SmolLM2 under an R1 template: it starts inside <think> and never closes it itself."""
    client = EngineClient(log_dir=tmp_path_factory.mktemp("logs"))
    client.load(LoadRequest(model_path=str(smollm2_r1), n_ctx=2048, n_threads=2))
    yield client
    client.close()


QUESTION = [Message("user", "What is the sum of the first ten odd numbers?")]


@pytest.mark.slow
def test_loop_breaker_ends_a_looping_reasoning_and_an_answer_follows(r1_engine) -> None:
    # greedy with a repeat penalty below 1 makes this model repeat itself
    params = GenerationParams(max_tokens=600, temperature=0.0, repeat_penalty=0.7)
    chunks, ended, finished = run(r1_engine.generate(QUESTION, params))
    assert len(ended) == 1 and ended[0].reason == "loop"
    assert ended[0].at_token < 400  # bounded: caught early, not at the token limit
    assert kinds_in_order(chunks) == ["thinking", "answer"]
    thinking = "".join(c.text for c in chunks if c.kind == "thinking")
    assert "repeating myself" in thinking  # the closing line Ponder wrote
    assert "</think>" not in thinking
    stats = finished.stats
    assert stats.thinking_ended == ended[0]
    assert stats.n_injected > 0 and not stats.unclosed_thinking


@pytest.mark.slow
def test_loop_policy_stop_stops(r1_engine) -> None:
    params = GenerationParams(
        max_tokens=600,
        temperature=0.0,
        repeat_penalty=0.7,
        thinking=ThinkingPolicy(loop_policy="stop"),
    )
    chunks, ended, finished = run(r1_engine.generate(QUESTION, params))
    assert finished.stats.finish_reason == "loop"
    assert ended and ended[0].reason == "loop"
    assert kinds_in_order(chunks) == ["thinking"]


@pytest.mark.slow
def test_budget_ends_thinking_near_the_budget_without_re_evaluating_the_prompt(
    r1_engine,
) -> None:
    params = GenerationParams(
        max_tokens=200, temperature=0.8, seed=4, thinking=ThinkingPolicy(budget_tokens=40)
    )
    chunks, ended, finished = run(r1_engine.generate(QUESTION, params))
    assert [e.reason for e in ended] == ["budget_tokens"]
    assert 40 <= ended[0].at_token <= 41  # within a token of the budget
    stats = finished.stats
    # an answer follows (this small model may open another <think> later; that one is its own)
    assert kinds_in_order(chunks)[:2] == ["thinking", "answer"]
    assert any(c.kind == "answer" and c.text.strip() for c in chunks)
    # the prompt was evaluated once; the closing line went into the same KV cache
    assert stats.n_evaluated == stats.n_prompt - stats.n_cached
    assert stats.n_injected > 0


@pytest.mark.slow
def test_answer_now(r1_engine) -> None:
    params = GenerationParams(max_tokens=400, temperature=0.8, seed=5)
    gen_id = r1_engine.new_generation_id()
    chunks, ended = [], []
    finished = None
    for event in r1_engine.generate(QUESTION, params, gen_id=gen_id):
        if isinstance(event, Chunk):
            chunks.append(event)
            if len(chunks) == 12:
                threading.Thread(target=r1_engine.answer_now, args=(gen_id,)).start()
        elif isinstance(event, ThinkingEnded):
            ended.append(event)
        else:
            finished = event
    assert [e.reason for e in ended] == ["asked"]
    assert 12 <= ended[0].at_token < 30
    assert kinds_in_order(chunks) == ["thinking", "answer"]
    # the small model's answer may loop after it: the loop breaker then stops it
    assert finished is not None and finished.stats.finish_reason in ("stop", "length", "loop")


@pytest.mark.slow
def test_r1_models_are_made_to_think_when_their_template_does_not(
    smollm2: Path, tmp_path: Path
) -> None:
    renamed = tmp_path / "renamed.gguf"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gguf.scripts.gguf_new_metadata",
            str(smollm2),
            str(renamed),
            "--general-name",
            "DeepSeek-R1-Distill-Qwen-1.5B",
            "--force",
        ],
        check=True,
        capture_output=True,
    )
    client = EngineClient(log_dir=tmp_path)
    try:
        summary = client.load(LoadRequest(model_path=str(renamed), n_ctx=512, n_threads=2))
        assert summary.starts_in_thinking  # ChatML template, but an R1 model: <think> forced
        params = GenerationParams(
            max_tokens=12, temperature=0.0, thinking=ThinkingPolicy(loop_policy="off")
        )
        chunks, _, _ = run(client.generate(QUESTION, params))
        assert chunks[0].kind == "thinking"
    finally:
        client.close()


# -- the answer loops, the time budget, answering at once (issue 14) -------------------------


@pytest.mark.slow
def test_a_looping_answer_is_stopped(r1_engine) -> None:
    # at temperature 0, after its thinking is cut short, it writes "The answer is 55." on and on
    params = GenerationParams(
        max_tokens=800, temperature=0.0, thinking=ThinkingPolicy(budget_tokens=40)
    )
    chunks, ended, finished = run(r1_engine.generate(QUESTION, params))
    assert [e.reason for e in ended] == ["budget_tokens"]
    stats = finished.stats
    assert stats.finish_reason == "loop", stats
    assert stats.finish_note.startswith("the answer was repeating itself (a span of ")
    assert stats.n_generated < 600  # stopped well before the length limit
    assert "The answer is" in "".join(c.text for c in chunks if c.kind == "answer")


@pytest.mark.slow
def test_an_answer_that_loops_after_a_broken_loop_is_stopped_too(r1_engine) -> None:
    params = GenerationParams(max_tokens=800, temperature=0.0, repeat_penalty=0.7)
    chunks, ended, finished = run(r1_engine.generate(QUESTION, params))
    assert [e.reason for e in ended] == ["loop"]
    assert kinds_in_order(chunks) == ["thinking", "answer"]
    assert finished.stats.finish_reason == "loop" and finished.stats.n_generated < 600
    assert "answer was repeating" in finished.stats.finish_note


@pytest.mark.slow
@pytest.mark.parametrize("how", ["policy", "flag"])
def test_asked_to_answer_before_it_begins_it_thinks_no_more(r1_engine, how: str) -> None:
    """Answer now on a saved answer that is all thinking (the window sets the policy; the
    flag may be raised before the generation starts): the reasoning is closed before the
    first new token, and the model answers."""
    partial = Message("assistant", "", reasoning="The odd numbers are 1, 3, 5, 7 and so on.")
    gen_id = r1_engine.new_generation_id()
    if how == "flag":
        r1_engine.answer_now(gen_id)
    thinking = ThinkingPolicy(answer_now=how == "policy")
    params = GenerationParams(max_tokens=60, temperature=0.0, thinking=thinking)
    chunks, ended, finished = run(r1_engine.generate([*QUESTION, partial], params, gen_id=gen_id))
    assert [(e.reason, e.at_token) for e in ended] == [("asked", 0)]
    assert kinds_in_order(chunks) == ["thinking", "answer"]
    assert "asked to answer now" in chunks[0].text  # the closing words, and nothing before
    assert finished.stats.n_thinking == 0 and finished.stats.thinking_seconds == 0.0


@pytest.mark.slow
def test_a_spent_budget_ends_a_continued_reasoning_at_once(r1_engine) -> None:
    partial = Message("assistant", "", reasoning="The odd numbers are 1, 3, 5, 7 and so on.")
    params = GenerationParams(
        max_tokens=60, temperature=0.0, thinking=ThinkingPolicy(budget_seconds=0.0)
    )
    chunks, ended, finished = run(r1_engine.generate([*QUESTION, partial], params))
    assert [(e.reason, e.at_token) for e in ended] == [("budget_seconds", 0)]
    assert any(c.kind == "answer" for c in chunks)
    assert finished.stats.n_thinking == 0


# It thinks, answers at length, thinks again and answers: two thinking segments.
TWO_THOUGHTS = r"""
root ::= thought "\n</think>\n\n" [a-z ]{300,320} "\n<think>\n" thought "\n</think>\n\nDone."
thought ::= [a-z ]{20,30}
"""


@pytest.mark.slow
def test_thinking_time_counts_the_thinking_only(r1_engine) -> None:
    """ "Thought for" is the time spent in thinking segments, not the answer between them."""
    params = GenerationParams(
        max_tokens=700,
        temperature=0.7,
        seed=1,
        grammar=TWO_THOUGHTS.strip(),
        thinking=ThinkingPolicy(loop_policy="off"),
    )
    chunks, _, finished = run(r1_engine.generate(QUESTION, params))
    assert kinds_in_order(chunks) == ["thinking", "answer", "thinking", "answer"]
    stats = finished.stats
    decoding = stats.total_seconds - stats.ttft_seconds
    # some 60 of 400 tokens are thinking: far less than the whole decode
    assert 0 < stats.thinking_seconds < decoding / 2, stats


@pytest.mark.slow
def test_a_time_budget_ends_the_thinking_within_a_second(r1_engine) -> None:
    # greedy, this model thinks on without looping for hundreds of tokens
    params = GenerationParams(
        max_tokens=400, temperature=0.0, thinking=ThinkingPolicy(budget_seconds=2.0)
    )
    chunks, ended, finished = run(r1_engine.generate(QUESTION, params))
    assert [e.reason for e in ended] == ["budget_seconds"]
    assert 2.0 <= finished.stats.thinking_seconds < 3.0, finished.stats
    assert kinds_in_order(chunks)[:2] == ["thinking", "answer"]
