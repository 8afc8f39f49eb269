"""The KV state cache in the engine, with the real llama.cpp on the real SmolLM2: coming back to
a chat restores its history (from memory, or from disk after a restart) and answers exactly as
a fresh read does; a state is never restored for another model, context or KV type; damaged
files and a full disk cost the cache, never the chat."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from model_runtime import paths
from model_runtime.chat.generation import (
    Chunk,
    Finished,
    GenerationParams,
    GenerationStats,
    LoadRequest,
    Message,
)
from model_runtime.engine import EngineClient
from model_runtime.engine.cache_settings import CacheSettings, save_cache_settings
from model_runtime.engine.kv_files import SUFFIX, tag_in_name, usage
from model_runtime.engine.kv_key import state_key
from tests.conftest import THINK_GRAMMAR
from tests.disks import Tmpfs

pytestmark = pytest.mark.slow

GREEDY = GenerationParams(max_tokens=24, temperature=0.0, seed=1)
# About 450 tokens of history: enough that reading it again is what a restore spares.
BACKGROUND = "Here are my notes. " + " ".join(
    f"Note {i}: the {c} box holds {i * 7} marbles." for i, c in enumerate(["red", "blue"] * 20)
)
FIRST = [Message("user", BACKGROUND + " How many marbles are in the first red box?")]
OTHER = [Message("user", "Name three colours.")]


def ask(
    client: EngineClient, messages: list[Message], tag: str = "chat-1", **changes: object
) -> tuple[str, GenerationStats]:
    text, stats = [], None
    for event in client.generate(messages, replace(GREEDY, cache_tag=tag, **changes)):
        if isinstance(event, Chunk) and event.kind == "answer":
            text.append(event.text)
        elif isinstance(event, Finished):
            stats = event.stats
    assert stats is not None
    return "".join(text), stats


def follow_up(answer: str) -> list[Message]:
    return [*FIRST, Message("assistant", answer), Message("user", "And in the second blue box?")]


def request(model: Path, **changes: object) -> LoadRequest:
    settings: dict[str, object] = {"n_ctx": 1024, "n_threads": 1, **changes}
    return LoadRequest(model_path=str(model), **settings)  # type: ignore[arg-type]


@pytest.fixture
def engine(tmp_path: Path):
    clients: list[EngineClient] = []

    def start(model: Path, **changes: object) -> EngineClient:
        client = EngineClient(log_dir=tmp_path / "logs")
        clients.append(client)
        client.load(request(model, **changes))
        return client

    yield start
    for client in clients:
        client.close()


def fresh_answer(engine, model: Path, messages: list[Message]) -> str:
    """What an engine without the cache answers: it reads the whole prompt."""
    save_cache_settings(CacheSettings(enabled=False))
    try:
        client = engine(model)
        text, stats = ask(client, messages)
        assert stats.n_restored == 0
        client.close()
        return text
    finally:
        save_cache_settings(CacheSettings())


def state_files() -> list[Path]:
    folder = paths.kv_cache_dir()
    return sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX))


def test_coming_back_to_a_chat_restores_its_history(engine, smollm2: Path) -> None:
    client = engine(smollm2)
    answer, first = ask(client, FIRST)
    assert first.n_restored == 0
    ask(client, OTHER, tag="chat-2")  # another chat takes the context
    again, back = ask(client, follow_up(answer))
    assert back.restored_from == "memory"
    assert back.n_restored >= first.n_prompt  # the question and the answer were not read again
    assert back.n_cached == back.n_restored
    assert back.n_evaluated == back.n_prompt - back.n_cached < 60  # the answer, the question
    client.close()
    # greedy: the restored history answers exactly as a fresh read of the same prompt
    assert again == fresh_answer(engine, smollm2, follow_up(answer))


def test_after_a_restart_the_disk_tier_restores_it(engine, smollm2: Path) -> None:
    client = engine(smollm2)
    answer, first = ask(client, FIRST)
    client.close()  # waits for the state's file
    assert len(state_files()) == 1
    client = engine(smollm2)
    again, back = ask(client, follow_up(answer))
    assert back.restored_from == "disk" and back.n_restored >= first.n_prompt
    ask(client, OTHER, tag="chat-2")  # the context moves away …
    _, from_memory = ask(client, follow_up(answer))  # … and the state read from disk stays
    assert from_memory.restored_from == "memory"
    client.close()
    assert again == fresh_answer(engine, smollm2, follow_up(answer))


def test_another_context_kv_type_or_model_never_restores_a_stale_state(
    engine, smollm2: Path, smollm2_r1: Path
) -> None:
    client = engine(smollm2)
    answer, _ = ask(client, FIRST)
    client.close()
    for model, changes in (
        (smollm2, {"n_ctx": 2048}),
        (smollm2, {"type_k": "q8_0"}),
        (smollm2_r1, {}),  # another file (the same weights under another template)
    ):
        client = engine(model, **changes)
        _, stats = ask(client, follow_up(answer), tag="other")
        assert stats.n_restored == 0, changes
        client.close()
    client = engine(smollm2)  # the model and settings it was saved for: restored
    _, stats = ask(client, follow_up(answer))
    assert stats.restored_from == "disk"


def test_flash_attention_and_rope_are_in_the_key(smollm2: Path) -> None:
    """Load settings that change what the KV cache holds, beyond context and KV type, give
    states another key (so they are never restored across them); the rest do not."""
    from llama_cpp import Llama

    def key(**settings: object) -> str:
        llm = Llama(str(smollm2), n_ctx=256, n_threads=1, verbose=False, **settings)
        try:
            return state_key(llm, str(smollm2), "CPU : AVX2 = 1 |").digest
        finally:
            llm.close()

    plain = key(flash_attn=False)
    assert key(flash_attn=False, n_threads_batch=1) == plain  # threads change no KV
    assert key(flash_attn=True) != plain
    assert key(flash_attn=False, rope_freq_base=20_000.0) != plain
    assert key(flash_attn=False, rope_freq_scale=0.5) != plain


def test_a_changed_model_file_deletes_its_states(engine, smollm2: Path, tmp_path: Path) -> None:
    model = tmp_path / "copy.gguf"
    model.write_bytes(smollm2.read_bytes())
    client = engine(model)
    answer, _ = ask(client, FIRST)
    client.close()
    (saved,) = state_files()
    os.utime(model, ns=(1, 1))  # another file now, as far as anyone can tell
    client = engine(model)
    assert not saved.exists()  # deleted when the model was loaded, never read
    _, stats = ask(client, follow_up(answer))
    assert stats.n_restored == 0
    client.close()
    assert len(state_files()) == 1  # the new answer's state


@pytest.mark.parametrize("damage", ["truncated", "noise"])
def test_a_damaged_state_file_is_deleted_and_the_chat_goes_on(
    damage: str, engine, smollm2: Path
) -> None:
    client = engine(smollm2)
    answer, _ = ask(client, FIRST)
    client.close()
    (path,) = state_files()
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # the header is fine, the state is not
        path.write_bytes(data[:-4096] + os.urandom(4096))
    client = engine(smollm2)
    again, stats = ask(client, follow_up(answer))
    assert stats.n_restored == 0
    assert not path.exists()
    client.close()
    assert again == fresh_answer(engine, smollm2, follow_up(answer))


def test_a_full_disk_drops_the_save_and_the_chat_goes_on(
    engine, smollm2: Path, tmpfs, ponder_home: Path
) -> None:
    disk: Tmpfs = tmpfs(ponder_home / "cache", "2m")
    (ponder_home / "cache" / "kv").mkdir()
    disk.fill()
    client = engine(smollm2)
    answer, _ = ask(client, FIRST)
    ask(client, OTHER, tag="chat-2")
    _, back = ask(client, follow_up(answer))  # the memory tier still has it
    assert back.restored_from == "memory"
    client.close()
    assert usage(ponder_home / "cache" / "kv") == (0, 0)
    assert "not saved" in (client.log_path.read_text() if client.log_path else "")
    disk.free()


def test_forgetting_a_chat_drops_its_states(engine, smollm2: Path) -> None:
    client = engine(smollm2)
    answer, _ = ask(client, FIRST)
    second = [Message("user", "Sort these words: " + " ".join(["pear", "fig", "kiwi"] * 40))]
    ask(client, second, tag="chat-2")
    client.forget_states("chat-1")  # the chat was deleted
    assert [tag_in_name(p.name) for p in state_files()] in ([], ["chat-2"])  # may be on its way
    _, stats = ask(client, follow_up(answer), tag="chat-1")
    assert stats.n_restored == 0
    ask(client, OTHER, tag="chat-3")
    _, stats = ask(client, second, tag="chat-2")
    assert stats.restored_from == "memory"  # the other chats keep theirs
    client.close()  # lets the writes under way end
    assert sorted(tag_in_name(p.name) for p in state_files()) == ["chat-1", "chat-2", "chat-3"]
    client.forget_states("chat-3")  # no engine running: the files go all the same
    assert sorted(tag_in_name(p.name) for p in state_files()) == ["chat-1", "chat-2"]
    client = engine(smollm2)
    ask(client, second, tag="chat-2")  # read from disk: in memory too now
    client.forget_states(None)  # "Clear the cache"
    assert state_files() == []
    ask(client, OTHER, tag="chat-3")
    _, stats = ask(client, second, tag="chat-2")
    assert stats.n_restored == 0  # gone from memory too


def test_a_finished_answer_keeps_only_what_the_next_turn_repeats(engine, smollm2_r1: Path) -> None:
    """Under an R1 template past reasoning is not sent back: the saved state stops where the
    next turn's prompt leaves the answer, and coming back restores all of that."""
    client = engine(smollm2_r1)
    grammar = THINK_GRAMMAR.replace('root   ::= "<think>\\n" thought', "root ::= thought")
    thinking = {"grammar": grammar, "max_tokens": 200, "temperature": 0.7, "seed": 4}
    answer, first = ask(client, FIRST, **thinking)
    assert first.finish_reason == "stop" and first.n_thinking > 10
    ask(client, OTHER, tag="chat-2")
    _, back = ask(client, follow_up(answer))
    assert back.restored_from == "memory"
    opening = len("<think>\n")  # the generation prompt's last tokens: the next turn has not them
    assert first.n_prompt - opening <= back.n_restored < first.n_prompt  # no reasoning kept
    # read now: the answer's words (its reasoning left out) and the new question
    assert back.n_evaluated == back.n_prompt - back.n_restored
