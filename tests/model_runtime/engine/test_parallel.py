"""Several thoughts on one prompt at once, on the real model: each thought is the answer a single
run with its seed gives (the batch changes only the speed), the prompt is read once, and the
reasoning controls act on each thought."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_runtime.chat.generation import Chunk, Finished, GenerationParams, LoadRequest, Message
from model_runtime.chat.thinking import ThinkingEnded, ThinkingPolicy
from model_runtime.chat.thoughts import Thoughts, ThoughtsFinished
from model_runtime.engine import EngineClient
from model_runtime.errors import ContextOverflow, EngineError, InsufficientMemory

pytestmark = pytest.mark.slow

QUESTION = [Message("user", "What is the sum of the first ten odd numbers?")]


def load(path: Path, log_dir: Path) -> EngineClient:
    client = EngineClient(log_dir=log_dir)
    # room for 8 thoughts of 512 tokens: 4 thoughts get 1,024 each
    request = LoadRequest(str(path), n_ctx=2048, n_threads=1, max_sequences=8, sequence_ctx=512)
    client.load(request)
    return client


@pytest.fixture(scope="module")
def engine(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineClient]:
    client = load(smollm2, tmp_path_factory.mktemp("logs"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def r1_engine(smollm2_r1: Path, tmp_path_factory: pytest.TempPathFactory):
    """Under an R1 template the model starts inside <think> and never closes it itself."""
    client = load(smollm2_r1, tmp_path_factory.mktemp("logs"))
    yield client
    client.close()


def thoughts_of(client: EngineClient, params: GenerationParams, n: int) -> tuple[Thoughts, list]:
    """Run n thoughts; their Thoughts and every event in order."""
    thoughts, events = Thoughts(n), []
    for event in client.generate_parallel(QUESTION, params, n):
        events.append(event)
        thoughts.add(event)
    return thoughts, events


def single(path: Path, params: GenerationParams, log_dir: Path) -> tuple[str, str, list, Finished]:
    """One answer the usual way, in an engine of its own (an engine that answered before
    reuses the prompt it holds, and reads only its last token again: a batch of one token
    rounds differently from the batch of the whole prompt a run of thoughts reads): its
    reasoning, its answer, how its thinking ended, its end."""
    client = load(path, log_dir)
    texts: dict[str, list[str]] = {"thinking": [], "answer": []}
    ended, finished = [], None
    try:
        for event in client.generate(QUESTION, params):
            if isinstance(event, Chunk):
                texts[event.kind].append(event.text)
            elif isinstance(event, ThinkingEnded):
                ended.append(event)
            else:
                finished = event
    finally:
        client.close()
    assert isinstance(finished, Finished)
    return "".join(texts["thinking"]), "".join(texts["answer"]), ended, finished


def test_each_thought_is_the_single_answer_with_its_seed_and_the_prompt_is_read_once(
    engine: EngineClient, smollm2: Path, tmp_path: Path
) -> None:
    params = GenerationParams(max_tokens=40, temperature=0.8, seed=70)
    thoughts, events = thoughts_of(engine, params, 4)
    for seq, answer in enumerate(thoughts.answers):
        alone = GenerationParams(max_tokens=40, temperature=0.8, seed=70 + seq)
        _, text, _, finished = single(smollm2, alone, tmp_path)
        assert answer.answer == text, seq
        assert answer.stats is not None and answer.stats.n_generated == finished.stats.n_generated
    assert len({a.answer for a in thoughts.answers}) > 1  # the seeds did make them differ
    # events: tagged with their thought, one Finished each, the run's end last
    assert {e.seq for e in events if isinstance(e, Chunk)} == {0, 1, 2, 3}
    assert sorted(e.seq for e in events if isinstance(e, Finished)) == [0, 1, 2, 3]
    run = events[-1]
    assert isinstance(run, ThoughtsFinished) and run.n_sequences == 4
    # the prompt was evaluated once: by the first thought, copied to the others
    assert run.n_evaluated == run.n_prompt > 0
    stats = [a.stats for a in thoughts.answers]
    assert [s.n_evaluated for s in stats if s] == [run.n_prompt, 0, 0, 0]
    assert [s.n_cached for s in stats if s] == [0, run.n_prompt, run.n_prompt, run.n_prompt]
    assert run.n_generated == sum(s.n_generated for s in stats if s)
    assert run.n_ctx == 4 * 256  # each thought as long as its prompt and limit need


def test_greedy_thoughts_are_all_the_greedy_answer(
    engine: EngineClient, smollm2: Path, tmp_path: Path
) -> None:
    params = GenerationParams(max_tokens=32, temperature=0.0)
    thoughts, _ = thoughts_of(engine, params, 4)
    _, text, _, _ = single(smollm2, params, tmp_path)
    assert [a.answer for a in thoughts.answers] == [text] * 4


def test_a_thinking_budget_ends_each_thoughts_thinking_as_in_a_single_run(
    r1_engine: EngineClient, smollm2_r1: Path, tmp_path: Path
) -> None:
    budget = ThinkingPolicy(budget_tokens=20)
    # top_k=1: after the closing words the single run reads them in a batch of its own (Ponder's
    # decode loop), the thoughts in the run's shared batch; the logits round differently, and at
    # temperature 0.8 a near tie may go either way. The seeds' own sampling is tested above.
    params = GenerationParams(max_tokens=60, temperature=0.8, seed=4, thinking=budget, top_k=1)
    thoughts, events = thoughts_of(r1_engine, params, 3)
    ended = [e for e in events if isinstance(e, ThinkingEnded)]
    assert sorted(e.seq for e in ended) == [0, 1, 2]
    assert all(e.reason == "budget_tokens" and 20 <= e.at_token <= 21 for e in ended)
    for seq, answer in enumerate(thoughts.answers):
        alone = GenerationParams(
            max_tokens=60, temperature=0.8, seed=4 + seq, thinking=budget, top_k=1
        )
        reasoning, text, _, finished = single(smollm2_r1, alone, tmp_path)
        assert (answer.reasoning, answer.answer) == (reasoning, text), seq
        assert answer.stats is not None and answer.stats.n_injected == finished.stats.n_injected
        assert answer.thinking_ended is not None and answer.thinking_ended.seq == seq


def test_the_loop_breaker_acts_on_each_thought(
    r1_engine: EngineClient, smollm2_r1: Path, tmp_path: Path
) -> None:
    # greedy with a repeat penalty below 1 makes this model repeat itself
    params = GenerationParams(max_tokens=500, temperature=0.0, repeat_penalty=0.7)
    thoughts, _ = thoughts_of(r1_engine, params, 2)
    reasoning, text, ended, _ = single(smollm2_r1, params, tmp_path)
    assert [e.reason for e in ended] == ["loop"]
    for answer in thoughts.answers:
        assert answer.thinking_ended is not None and answer.thinking_ended.reason == "loop"
        assert answer.thinking_ended.at_token == ended[0].at_token
        assert (answer.reasoning, answer.answer) == (reasoning, text)


def test_answer_now_ends_every_thought_still_thinking(r1_engine: EngineClient) -> None:
    params = GenerationParams(max_tokens=200, temperature=0.8, seed=9)
    gen_id = r1_engine.new_generation_id()
    thoughts, seen = Thoughts(3), 0
    for event in r1_engine.generate_parallel(QUESTION, params, 3, gen_id=gen_id):
        thoughts.add(event)
        if isinstance(event, Chunk) and event.seq == 0:
            seen += 1
            if seen == 10:
                threading.Thread(target=r1_engine.answer_now, args=(gen_id,)).start()
    for answer in thoughts.answers:
        assert answer.thinking_ended is not None and answer.thinking_ended.reason == "asked"
        assert 10 <= answer.thinking_ended.at_token < 40
        assert "asked to answer now" in answer.reasoning


def test_asked_to_answer_before_they_begin_no_thought_thinks(r1_engine: EngineClient) -> None:
    params = GenerationParams(max_tokens=30, temperature=0.8, seed=2)
    params = GenerationParams(max_tokens=30, thinking=ThinkingPolicy(answer_now=True))
    thoughts, _ = thoughts_of(r1_engine, params, 2)
    for answer in thoughts.answers:
        assert answer.thinking_ended is not None and answer.thinking_ended.at_token == 0
        assert answer.figures.reasoning_tokens == 0


def test_a_thought_whose_thinking_was_ended_has_room_up_to_its_length_limit(
    r1_engine: EngineClient,
) -> None:
    """Ponder's closing words are not counted by the length limit: the stream holds them too
    (the run failed with "llama_decode returned 1", no room, when the prompt and the limit
    filled its stream exactly)."""
    probe, _ = thoughts_of(r1_engine, GenerationParams(max_tokens=1), 2)
    assert probe.run is not None
    letters = "root ::= [a-z ]{2000}"  # never ends by itself
    budget = ThinkingPolicy(budget_tokens=10)
    params = GenerationParams(
        max_tokens=256 - probe.run.n_prompt, temperature=0.0, grammar=letters, thinking=budget
    )
    thoughts, _ = thoughts_of(r1_engine, params, 2)
    for answer in thoughts.answers:
        assert answer.stats is not None and answer.stats.finish_reason == "length"
        assert answer.stats.n_injected > 0 and answer.stats.n_generated == params.max_tokens


def test_stop_cancels_every_thought_and_the_engine_goes_on(engine: EngineClient) -> None:
    params = GenerationParams(max_tokens=400, temperature=0.8, seed=1)
    gen_id = engine.new_generation_id()
    thoughts = Thoughts(4)
    for event in engine.generate_parallel(QUESTION, params, 4, gen_id=gen_id):
        thoughts.add(event)
        if isinstance(event, Chunk) and event.seq == 3 and event.text:
            engine.cancel(gen_id)
    assert thoughts.finished
    reasons = [a.stats.finish_reason for a in thoughts.answers if a.stats]
    assert reasons == ["cancelled"] * 4
    assert all(a.stats and a.stats.n_generated < 50 for a in thoughts.answers)
    assert thoughts.tally().winner is None  # stopped thoughts don't vote
    assert "".join(
        e.text
        for e in engine.generate(QUESTION, GenerationParams(max_tokens=4))
        if isinstance(e, Chunk)
    )


def test_more_thoughts_than_the_plan_allows_are_refused_with_the_most_that_fit(
    engine: EngineClient,
) -> None:
    with pytest.raises(InsufficientMemory, match="at most 8 fit"):
        list(engine.generate_parallel(QUESTION, GenerationParams(max_tokens=4), 9))
    with pytest.raises(EngineError, match="1 to 64"):
        list(engine.generate_parallel(QUESTION, GenerationParams(max_tokens=4), 0))
    long = [Message("user", "word " * 700)]  # fits one 2,048 context, not 8 of 512
    with pytest.raises(ContextOverflow, match="with 8 thoughts at once each has room for 512"):
        list(engine.generate_parallel(long, GenerationParams(max_tokens=4), 8))
    thoughts, _ = thoughts_of(engine, GenerationParams(max_tokens=4, temperature=0.0), 2)
    assert all(a.answer for a in thoughts.answers)  # nothing was changed by the refusals
