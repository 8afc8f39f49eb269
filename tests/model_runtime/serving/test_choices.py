"""OpenAI's `n` on Ponder's server, the real SmolLM2 under an R1 template, driven by the official
openai client: n choices from one request, whole and streamed, each with its index and its
reasoning_content; more than the plan allows is refused with the most that fit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model_runtime.chat.generation import LoadRequest
from model_runtime.engine import EngineClient
from model_runtime.serving.openai_format import parse_chat_request
from tests.model_runtime.serving.test_server import R1_GRAMMAR, Served

openai = pytest.importorskip("openai")

pytestmark = pytest.mark.slow

SETTINGS: dict[str, Any] = {
    "max_tokens": 80,
    "temperature": 0.9,
    "seed": 10,
    "extra_body": {"grammar": R1_GRAMMAR},
}


@pytest.fixture(scope="module")
def served(smollm2_r1: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    engine = EngineClient(log_dir=tmp_path_factory.mktemp("logs"))
    request = LoadRequest(str(smollm2_r1), n_ctx=1024, n_threads=1, max_sequences=4)
    engine.load(request)  # room for 4 thoughts of 1,024 tokens
    served = Served(engine, "smollm2-r1")
    yield served
    served.server.stop()
    engine.close()


def ask(served: Served, **kwargs: Any) -> Any:
    question = [{"role": "user", "content": "What is the capital of France?"}]
    return served.client.chat.completions.create(model="smollm2-r1", messages=question, **kwargs)


def test_n_choices_whole_and_streamed(served: Served) -> None:
    served.drain()
    reply = ask(served, n=3, **SETTINGS)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    for choice in reply.choices:
        assert choice.message.role == "assistant" and choice.message.content
        assert choice.message.reasoning_content  # each with its own reasoning
        assert "</think>" not in choice.message.content
        assert choice.finish_reason in ("stop", "length")
    assert len({c.message.content for c in reply.choices}) > 1  # their seeds differ
    record = served.finished_request(reply.id)
    assert reply.usage.completion_tokens == record.stats.n_generated
    assert reply.usage.prompt_tokens == record.stats.n_prompt  # the prompt counts once
    assert 0 < reply.usage.completion_tokens_details.reasoning_tokens < record.stats.n_generated

    chunks = list(ask(served, n=3, stream=True, stream_options={"include_usage": True}, **SETTINGS))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == (
        reply.usage.completion_tokens
    )
    streamed: dict[int, dict[str, str]] = {}
    finishes: dict[int, list[str | None]] = {}
    for chunk in chunks[:-1]:
        (choice,) = chunk.choices  # one choice per chunk, named by its index
        text = streamed.setdefault(choice.index, {"reasoning": "", "content": ""})
        text["reasoning"] += getattr(choice.delta, "reasoning_content", None) or ""
        text["content"] += choice.delta.content or ""
        finishes.setdefault(choice.index, []).append(choice.finish_reason)
    assert sorted(streamed) == [0, 1, 2]
    for choice in reply.choices:  # the same seeds: the same choices, streamed
        assert streamed[choice.index]["content"] == choice.message.content
        assert streamed[choice.index]["reasoning"].strip() == choice.message.reasoning_content
        assert finishes[choice.index][-1] == choice.finish_reason
        assert set(finishes[choice.index][:-1]) == {None}


def test_a_stop_string_ends_its_choice(served: Served) -> None:
    whole = ask(served, n=2, **SETTINGS)
    cut = ask(served, n=2, stop=["a"], **SETTINGS)
    for full, stopped in zip(whole.choices, cut.choices, strict=True):
        assert stopped.message.content == full.message.content.split("a")[0]
        assert stopped.finish_reason == "stop"


def test_more_choices_than_the_plan_allows_are_refused_with_the_most_that_fit(
    served: Served,
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        ask(served, n=5, max_tokens=8)
    assert refused.value.status_code == 400
    body = refused.value.body
    assert body["param"] == "n" and "at most 4 choices" in body["message"]
    reply = ask(served, n=2, max_tokens=8, temperature=0.0)  # the server goes on
    assert len(reply.choices) == 2


def test_n_is_checked_like_any_number() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "n": 8}
    assert parse_chat_request(body).n == 8
    assert parse_chat_request({"messages": body["messages"]}).n == 1
