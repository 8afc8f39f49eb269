"""Speculative decoding on the real model: the same tokens with and without it (greedy), with
prompt lookup and with a draft model, through </think>, a budget, answer now and the loop
breaker; a draft model of another vocabulary refused; a draft model that fails or can't load
leaves the model working.

The engine runs in this process here (as in test_no_network.py), so that "answer now" can be
asked at an exact token: the test raises the flag from the event callback, between tokens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest

from model_runtime.chat.generation import (
    Chunk,
    Finished,
    GenerationParams,
    GenerationStats,
    LoadRequest,
    Message,
    Speculation,
)
from model_runtime.chat.thinking import ThinkingEnded, ThinkingPolicy
from model_runtime.engine import EngineClient
from model_runtime.engine.cache_settings import CacheSettings, save_cache_settings
from model_runtime.engine.worker import Engine
from model_runtime.errors import ModelFileError
from tests.conftest import THINK_GRAMMAR
from tests.gguf_factory import write_tiny_model

pytestmark = pytest.mark.slow


def code_edit(steps: int, changed: int) -> list[Message]:
    """A function of `steps` lines, to write out again with one of them changed."""
    function = "\n".join(
        f"    total = total + weight_{i} * {i}  # step {i}" for i in range(1, steps + 1)
    )
    return [
        Message(
            "user",
            f"def score(total):\n{function}\n    return total\n\n"
            f"Change step {changed} to subtract instead of add, and write out the whole "
            "function again.",
        )
    ]


CODE_EDIT = code_edit(12, 7)
QUESTION = [Message("user", "What is the sum of the first ten odd numbers?")]
LOOKUP = Speculation("lookup", always=True)  # draft every step: the check is all that decides
OFF = Speculation("off")


class Flag:
    """Stands in for the shared integer the client gives the worker."""

    value = 0


@dataclass
class Run:
    text: str
    thinking: str
    ended: list[ThinkingEnded]
    stats: GenerationStats


class InProcess:
    """An engine in this process; answer_now_at asks it to answer at that thinking token."""

    def __init__(self, model: Path, speculation: Speculation, log: Path) -> None:
        self.answer_now, self.cancel = Flag(), Flag()
        self.engine = Engine(self.cancel, self.answer_now, str(log))
        self.summary = self.engine.load(
            LoadRequest(
                model_path=str(model),
                n_ctx=1024,
                n_threads=1,
                flash_attn=True,  # drafting needs it (exact logits for a batch)
                speculation=speculation,
            )
        )
        self.gen_id = 0

    def run(
        self, messages, params: GenerationParams, answer_now_at: int = 0, cancel_at: int = 0
    ) -> Run:
        self.gen_id += 1
        events: list[object] = []
        thinking_chunks = chunks = 0

        def send(event: object) -> None:
            nonlocal thinking_chunks, chunks
            events.append(event)
            if isinstance(event, Chunk):
                chunks += 1
                if chunks == cancel_at:
                    self.cancel.value = self.gen_id
            if isinstance(event, Chunk) and event.kind == "thinking":
                thinking_chunks += 1
                if thinking_chunks == answer_now_at:
                    self.answer_now.value = self.gen_id

        self.engine.generate(self.gen_id, messages, params, send)
        finished = events[-1]
        assert isinstance(finished, Finished)
        chunks = [e for e in events if isinstance(e, Chunk)]
        return Run(
            text="".join(c.text for c in chunks if c.kind == "answer"),
            thinking="".join(c.text for c in chunks if c.kind == "thinking"),
            ended=[e for e in events if isinstance(e, ThinkingEnded)],
            stats=finished.stats,
        )

    def close(self) -> None:
        self.engine.unload()


@pytest.fixture(scope="module")
def engines(smollm2: Path, smollm2_r1: Path, tmp_path_factory: pytest.TempPathFactory):
    """Engines by (model, kind): plain decoding, prompt lookup, and the model drafting for
    itself (the same vocabulary, as any draft model must have)."""
    log = tmp_path_factory.mktemp("logs") / "engine.log"
    models = {"plain": smollm2, "r1": smollm2_r1}
    made: dict[tuple[str, str], InProcess] = {}

    def get(model: str, kind: str) -> InProcess:
        if (model, kind) not in made:
            path = models[model]
            speculation = {
                "off": OFF,
                "lookup": LOOKUP,
                "draft": Speculation("model", str(path), always=True),
            }[kind]
            made[model, kind] = InProcess(path, speculation, log)
        return made[model, kind]

    yield get
    for engine in made.values():
        engine.close()


def same_with_each_kind(engines, model: str, messages, params, answer_now_at: int = 0):
    """Runs without speculation, with prompt lookup and with a draft model: all the same."""
    runs = {k: engines(model, k).run(messages, params, answer_now_at) for k in KINDS}
    plain = runs["off"]
    for kind in ("lookup", "draft"):
        run = runs[kind]
        assert run.thinking == plain.thinking, kind
        assert run.text == plain.text, kind
        assert run.ended == plain.ended, kind
        assert run.stats.n_generated == plain.stats.n_generated, kind
        assert run.stats.finish_reason == plain.stats.finish_reason, kind
        assert run.stats.n_drafted > 0, kind
    assert plain.stats.n_drafted == 0
    return runs


KINDS = ("off", "lookup", "draft")
GREEDY = GenerationParams(max_tokens=160, temperature=0.0)


def test_a_code_edit_is_the_same_with_speculation(engines) -> None:
    runs = same_with_each_kind(engines, "plain", CODE_EDIT, GREEDY)
    assert "weight_7" in runs["off"].text
    lookup = runs["lookup"].stats
    assert lookup.n_accepted > lookup.n_generated / 3  # the answer repeats the prompt
    draft = runs["draft"].stats
    assert draft.n_accepted >= 0.9 * draft.n_drafted  # a model agrees with itself


def test_an_answer_that_crosses_think_is_the_same(engines) -> None:
    params = GenerationParams(max_tokens=160, temperature=0.0, grammar=THINK_GRAMMAR)
    runs = same_with_each_kind(engines, "plain", QUESTION, params)
    assert runs["off"].thinking.strip() and runs["off"].text.strip()  # thinking, then answer


def test_a_thinking_budget_ends_it_in_the_same_place(engines) -> None:
    params = GenerationParams(
        max_tokens=120, temperature=0.0, thinking=ThinkingPolicy(budget_tokens=40)
    )
    runs = same_with_each_kind(engines, "r1", QUESTION, params)
    assert [e.reason for e in runs["off"].ended] == ["budget_tokens"]
    assert runs["off"].text.strip()


def test_answer_now_ends_it_in_the_same_place(engines) -> None:
    params = GenerationParams(max_tokens=120, temperature=0.0)
    runs = same_with_each_kind(engines, "r1", QUESTION, params, answer_now_at=25)
    ended = runs["off"].ended
    assert [e.reason for e in ended] == ["asked"] and 25 <= ended[0].at_token <= 30
    assert runs["off"].text.strip()


def test_the_loop_breaker_ends_it_in_the_same_place(engines) -> None:
    """Greedy with a repeat penalty below 1 this model repeats its reasoning: the loop breaker
    ends it at the same token, and the answer after it is the same."""
    params = GenerationParams(max_tokens=500, temperature=0.0, repeat_penalty=0.7)
    runs = same_with_each_kind(engines, "r1", QUESTION, params)
    assert [e.reason for e in runs["off"].ended] == ["loop"]


def test_sampling_with_a_seed_draws_the_same_tokens(engines) -> None:
    """Every token comes from the model's own sampler given the same tokens before it, so a
    seeded run makes the same random draws with prompt lookup as without."""
    params = GenerationParams(max_tokens=120, temperature=0.6, seed=11)
    plain = engines("plain", "off").run(CODE_EDIT, params)
    lookup = engines("plain", "lookup").run(CODE_EDIT, params)
    assert lookup.text == plain.text
    assert lookup.stats.n_accepted > 0


def test_continuing_an_answer_is_the_same(engines) -> None:
    whole = engines("plain", "off").run(CODE_EDIT, GREEDY).text
    partial = [*CODE_EDIT, Message("assistant", whole[: len(whole) // 3])]
    params = GenerationParams(max_tokens=80, temperature=0.0)
    runs = same_with_each_kind(engines, "plain", partial, params)
    assert runs["off"].text


def test_stop_mid_answer_with_speculation(engines) -> None:
    """Stop (the cancel flag) ends it between tokens; the next answer is whole and right."""
    engine = engines("plain", "lookup")
    stopped = engine.run(CODE_EDIT, GREEDY, cancel_at=30)
    assert stopped.stats.finish_reason == "cancelled"
    assert 30 <= stopped.stats.n_generated < GREEDY.max_tokens
    again = engine.run(QUESTION, GenerationParams(max_tokens=24, temperature=0.0))
    fresh = engines("plain", "off").run(QUESTION, GenerationParams(max_tokens=24, temperature=0.0))
    assert again.text == fresh.text and again.stats.finish_reason == fresh.stats.finish_reason


def test_the_next_turn_reuses_the_cache_after_speculation(smollm2: Path, tmp_path: Path) -> None:
    """Rejected guesses never stay in the KV cache: the next turn finds its prefix there and
    answers as the same two turns without speculation do."""
    second = GenerationParams(max_tokens=24, temperature=0.0)
    turns = {}
    for kind, speculation in (("off", OFF), ("lookup", LOOKUP)):
        engine = InProcess(smollm2, speculation, tmp_path / "engine.log")
        try:
            first = engine.run(CODE_EDIT, GREEDY)
            history = [*CODE_EDIT, Message("assistant", first.text), Message("user", "Thanks!")]
            turns[kind] = first, engine.run(history, second)
        finally:
            engine.close()
    (first, again), (_, plain) = turns["lookup"], turns["off"]
    assert first.stats.n_accepted > 0
    assert again.stats.n_cached >= first.stats.n_prompt
    assert again.stats.n_cached == plain.stats.n_cached
    assert again.text == plain.text


# -- a draft model that can't draft -----------------------------------------------------------


@pytest.mark.parametrize("n_vocab", [320, 49152])
def test_a_draft_model_of_another_vocabulary_is_refused(
    smollm2: Path, tmp_path: Path, n_vocab: int
) -> None:
    other = write_tiny_model(tmp_path / "other.gguf", tokenizer="gpt2", n_vocab=n_vocab)
    client = EngineClient(log_dir=tmp_path)
    try:
        request = LoadRequest(model_path=str(smollm2), n_ctx=512, n_threads=1, flash_attn=True)
        client.load(request)
        request = dataclasses.replace(request, speculation=Speculation("model", str(other)))
        with pytest.raises(ModelFileError) as refused:
            client.load(request)
        words = str(refused.value)
        assert "other.gguf can't draft for" in words
        assert "49,152 tokens" in words
        assert ("differ" in words) if n_vocab != 49152 else ("not the same ones" in words)
        # the model loaded before is still there and answers
        assert client.summary is not None and client.summary.speculation == "prompt lookup"
        events = list(client.generate(QUESTION, GenerationParams(max_tokens=4)))
        assert isinstance(events[-1], Finished)
    finally:
        client.close()


def test_a_draft_model_that_runs_out_of_memory_leaves_the_model_loaded(
    smollm2: Path, tmp_path: Path
) -> None:
    """In the engine's own process, whose log tells why llama.cpp failed."""
    request = LoadRequest(model_path=str(smollm2), n_ctx=512, n_threads=1, flash_attn=True)
    params = GenerationParams(max_tokens=40, temperature=0.0)
    client = EngineClient(log_dir=tmp_path)
    try:
        client.load(dataclasses.replace(request, speculation=OFF))
        answer = client.generate(CODE_EDIT, params)
        expected = "".join(e.text for e in answer if isinstance(e, Chunk))
        # a context of 200 million tokens: llama.cpp can't allocate the draft's KV cache
        huge = Speculation("model", str(smollm2), draft_n_ctx=200_000_000)
        summary = client.load(dataclasses.replace(request, speculation=huge))
        assert summary.speculation == "off"
        note = summary.speculation_note
        assert note.startswith(f"The draft model {smollm2.name} was not loaded (llama.cpp ran out")
        assert note.endswith("drafting is off.")
        events = list(client.generate(CODE_EDIT, params))
        assert "".join(e.text for e in events if isinstance(e, Chunk)) == expected
    finally:
        client.close()


def test_a_draft_model_that_fails_while_drafting_falls_back(smollm2: Path, tmp_path: Path) -> None:
    """The draft's context fills up in the middle of the answer: drafting stops with a note,
    and the answer goes on, the same as without a draft."""
    plain = InProcess(smollm2, OFF, tmp_path / "engine.log")
    try:
        expected = plain.run(CODE_EDIT, GREEDY)
    finally:
        plain.close()
    room = expected.stats.n_prompt + 48  # full after about 48 of the answer's tokens
    small = Speculation("model", str(smollm2), draft_n_ctx=room, always=True)
    engine = InProcess(smollm2, small, tmp_path / "engine.log")
    try:
        run = engine.run(CODE_EDIT, GREEDY)
        assert run.stats.n_drafted > 0
        assert "failed" in run.stats.speculation_note
        assert "drafting is off" in run.stats.speculation_note
        assert run.text == expected.text
        again = engine.run(QUESTION, GenerationParams(max_tokens=8, temperature=0.0))
        assert again.stats.n_drafted == 0 and again.stats.speculation_note == ""
    finally:
        engine.close()


def test_without_flash_attention_it_does_not_draft(smollm2: Path, tmp_path: Path) -> None:
    """Without flash attention llama.cpp's logits for a batch differ in the last bits from
    one token's: drafting could change a greedy answer, so there is none (and a draft model
    asked for says why)."""
    engine = Engine(Flag(), Flag(), str(tmp_path / "engine.log"))
    try:
        base = LoadRequest(model_path=str(smollm2), n_ctx=512, n_threads=1, flash_attn=False)
        summary = engine.load(base)
        assert (summary.speculation, summary.speculation_note) == ("off", "")
        with_draft = dataclasses.replace(base, speculation=Speculation("model", str(smollm2)))
        summary = engine.load(with_draft)
        assert summary.speculation == "off"
        assert "needs flash attention" in summary.speculation_note
    finally:
        engine.unload()


def test_a_long_code_edit_is_the_same_with_speculation(smollm2: Path, tmp_path: Path) -> None:
    """Past 512 cached tokens llama.cpp computes one token's attention in parts (one per
    thread) and adds them up; with one thread that is exactly a batch's sum, so the answers
    are still the same. Each engine reads the prompt itself (no saved state: a state read
    back puts the prompt's last token in a batch of its own, which rounds differently from
    the fresh read's last batch; engine/kv_cache.py)."""
    messages = code_edit(40, 30)
    params = GenerationParams(max_tokens=120, temperature=0.0)
    save_cache_settings(CacheSettings(enabled=False))
    try:
        runs = {}
        for name, speculation in (("off", OFF), ("lookup", LOOKUP)):
            engine = InProcess(smollm2, speculation, tmp_path / "engine.log")
            runs[name] = engine.run(messages, params)
            engine.close()
    finally:
        save_cache_settings(CacheSettings())
    plain, lookup = runs["off"], runs["lookup"]
    assert plain.stats.n_prompt >= 512
    assert lookup.text == plain.text
    assert lookup.stats.n_generated == plain.stats.n_generated == 120
    assert lookup.stats.n_accepted > 0
