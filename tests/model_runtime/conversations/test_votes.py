"""Think harder's thoughts in the store: one vote's answers are versions of one question that
know each other; saved, searched, exported and imported like any answer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from model_runtime.conversations.schema import SCHEMA_VERSION
from model_runtime.conversations.store import ConversationStore


@pytest.fixture
def store(tmp_path: Path):
    store = ConversationStore(tmp_path / "conversations.sqlite")
    yield store
    store.close()


def voted(store: ConversationStore, answers: list[str]) -> tuple[int, list[int]]:
    """A question with a vote of these answers (each with its reasoning); the chat, the ids."""
    conversation = store.create_conversation(model="m")
    question = store.add_message(conversation.id, "user", "What is x?")
    thoughts = store.add_thoughts(conversation.id, question.id, len(answers), model="m")
    for thought, answer in zip(thoughts, answers, strict=True):
        store.update_message(
            thought.id, content=answer, reasoning=f"thinking about {answer}", state="complete"
        )
    return conversation.id, [t.id for t in thoughts]


def test_thoughts_are_versions_of_one_question_in_one_vote(store: ConversationStore) -> None:
    chat, ids = voted(store, ["\\boxed{3}", "\\boxed{2}", "\\boxed{3}"])
    first = store.message(ids[0])
    assert first.state == "complete" and first.vote_id == ids[0]
    assert [m.id for m in store.vote(store.message(ids[2]))] == ids
    branch = store.branch(store.message(ids[1]))
    assert (branch.index, branch.count, branch.sibling_ids) == (2, 3, tuple(ids))
    assert store.visible_messages(chat)[-1].id == ids[0]  # the first, until the vote is counted
    store.switch_branch(ids[2])
    assert store.visible_messages(chat)[-1].id == ids[2]
    # an answer made later (Regenerate) is another version, but not in the vote
    question = store.message(ids[0]).parent_id
    later = store.add_message(chat, "assistant", "\\boxed{4}", parent_id=question)
    assert store.branch(later).count == 4 and store.vote(later) == []
    assert len(store.vote(store.message(ids[0]))) == 3


def test_a_deleted_thought_leaves_the_vote(store: ConversationStore) -> None:
    _, ids = voted(store, ["a", "b", "c"])
    store.delete_message(ids[1])
    assert [m.id for m in store.vote(store.message(ids[0]))] == [ids[0], ids[2]]


def test_thoughts_are_searched_and_exported_like_any_answer(store: ConversationStore) -> None:
    chat, ids = voted(store, ["\\boxed{3}", "the zeppelin answer"])
    assert [hit.message_id for hit in store.search("zeppelin")] == [ids[1]]
    assert [hit.message_id for hit in store.search("thinking zeppelin")] == [ids[1]]
    data = store.export_json(chat)
    copy = store.import_json(data)
    messages = store.export_json(copy.id)["messages"]
    answers = [m for m in messages if m["role"] == "assistant"]
    new_ids = [m["id"] for m in answers]
    assert [m["vote_id"] for m in answers] == [new_ids[0]] * 2 and new_ids != ids
    assert [m.content for m in store.vote(store.message(new_ids[1]))] == [
        "\\boxed{3}",
        "the zeppelin answer",
    ]


def test_an_export_from_before_votes_imports(store: ConversationStore) -> None:
    chat, _ = voted(store, ["x"])
    data = store.export_json(chat)
    for message in data["messages"]:
        del message["vote_id"]
    copy = store.import_json(data)
    assert all(m.vote_id == 0 for m in store.visible_messages(copy.id))


def test_a_database_of_schema_5_gets_the_vote_column(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite"
    ConversationStore(path).close()
    old = sqlite3.connect(path)
    old.execute("ALTER TABLE messages DROP COLUMN vote_id")
    old.execute("PRAGMA user_version = 5")  # chats' model references, no votes yet
    old.close()
    store = ConversationStore(path)
    try:
        assert store.version == SCHEMA_VERSION == 6
        _, ids = voted(store, ["a", "b"])
        assert len(store.vote(store.message(ids[1]))) == 2
    finally:
        store.close()
    assert (tmp_path / "conversations.v5.backup.sqlite").exists()
