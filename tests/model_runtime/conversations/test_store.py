"""The conversation store: migrations, crash recovery, branches, search, export and import."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from model_runtime.chat.answer import AnswerFigures
from model_runtime.conversations.records import make_title
from model_runtime.conversations.schema import SCHEMA_VERSION
from model_runtime.conversations.store import ConversationStore
from model_runtime.errors import ConversationStoreError

FIXTURES = Path(__file__).parents[2] / "fixtures"


@pytest.fixture
def store(tmp_path: Path):
    store = ConversationStore(tmp_path / "conversations.sqlite")
    yield store
    store.close()


def chat(store: ConversationStore, *turns: tuple[str, str, str]) -> int:
    """A conversation of (question, reasoning, answer) turns; returns its id."""
    conversation = store.create_conversation(model="m")
    for question, reasoning, answer in turns:
        store.add_message(conversation.id, "user", question)
        store.add_message(conversation.id, "assistant", answer, reasoning=reasoning)
    return conversation.id


def test_fresh_database_is_at_the_current_schema_in_wal_mode(store: ConversationStore) -> None:
    assert store.version == SCHEMA_VERSION
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.integrity_check() == "ok"


def test_migration_from_version_1_keeps_everything_and_makes_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite"
    legacy = sqlite3.connect(path)
    legacy.executescript((FIXTURES / "conversations-v1.sql").read_text(encoding="utf-8"))
    legacy.close()

    store = ConversationStore(path)
    try:
        assert store.version == SCHEMA_VERSION
        backup = tmp_path / "conversations.v1.backup.sqlite"
        assert backup.exists()
        old = sqlite3.connect(backup)
        assert old.execute("PRAGMA user_version").fetchone()[0] == 1
        assert old.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 6
        old.close()
        titles = [c.title for c in store.conversations()]
        assert titles == ["Tea", "Primes"]  # most recently updated first
        primes = store.visible_messages(1)
        assert [m.content for m in primes] == [
            "Is 91 prime?",
            "No: 91 = 7 × 13.",
            "And 97?",
            "Yes, 97 is prime.",
        ]
        assert [m.parent_id for m in primes] == [None, 1, 2, 3]
        assert primes[1].reasoning == "Try small primes: 91 / 7 = 13."
        assert store.search("divisors")[0].message_id == 4  # the old text is searchable
        assert store.integrity_check() == "ok"
    finally:
        store.close()


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite"
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()
    before = path.read_bytes()
    with pytest.raises(ConversationStoreError, match="newer Ponder"):
        ConversationStore(path)
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConversationStoreError):
        ConversationStore(path)


def test_streaming_answers_are_marked_interrupted_on_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    store = ConversationStore(path)
    conversation = store.create_conversation()
    store.add_message(conversation.id, "user", "Tell me a story")
    answer = store.add_message(conversation.id, "assistant", "", state="streaming")
    store.update_message(answer.id, content="Once upon a", reasoning="A story about")
    store._db.close()  # as if the process died here

    reopened = ConversationStore(path)
    try:
        assert reopened.recovered == 1
        message = reopened.message(answer.id)
        assert message.state == "interrupted"
        assert message.content == "Once upon a" and message.reasoning == "A story about"
    finally:
        reopened.close()


def test_title_comes_from_the_first_question_never_the_reasoning(
    store: ConversationStore,
) -> None:
    conversation_id = chat(
        store, ("  What is\nthe airspeed of a swallow?", "secret thoughts", "24")
    )
    assert store.conversation(conversation_id).title == "What is"
    assert make_title("word " * 40).endswith("…")
    assert len(make_title("word " * 40)) <= 61
    store.rename(conversation_id, "  Birds  ")
    store.add_message(conversation_id, "user", "Another question")
    assert store.conversation(conversation_id).title == "Birds"
    with pytest.raises(ValueError):
        store.rename(conversation_id, "   ")


def test_regenerate_and_edit_keep_old_versions_as_branches(store: ConversationStore) -> None:
    conversation_id = chat(store, ("Q1", "", "A1"), ("Q2", "", "A2"))
    q1, _a1, q2, a2 = store.visible_messages(conversation_id)
    # regenerate the last answer: a sibling of A2
    a2b = store.add_message(conversation_id, "assistant", "A2 again", parent_id=q2.id)
    assert [m.content for m in store.visible_messages(conversation_id)][-1] == "A2 again"
    assert store.branch(a2b).index == 2 and store.branch(a2b).count == 2
    # edit the first question: a sibling of Q1, the rest of the chat stays on the old branch
    q1b = store.add_message(conversation_id, "user", "Q1 edited", parent_id=None)
    store.add_message(conversation_id, "assistant", "A1 for edited")
    assert [m.content for m in store.visible_messages(conversation_id)] == [
        "Q1 edited",
        "A1 for edited",
    ]
    assert store.branch(q1b).count == 2
    # back to the first version: its newest continuation comes back
    store.switch_branch(q1.id)
    assert [m.content for m in store.visible_messages(conversation_id)] == [
        "Q1",
        "A1",
        "Q2",
        "A2 again",
    ]
    store.switch_branch(a2.id)
    assert store.visible_messages(conversation_id)[-1].content == "A2"


def test_delete_message_removes_what_follows_and_moves_the_leaf(store: ConversationStore) -> None:
    conversation_id = chat(store, ("Q1", "", "A1"), ("Q2", "", "A2"))
    _q1, a1, q2, _a2 = store.visible_messages(conversation_id)
    store.delete_message(q2.id)
    assert [m.content for m in store.visible_messages(conversation_id)] == ["Q1", "A1"]
    assert store.conversation(conversation_id).current_leaf == a1.id
    assert store.search("Q2") == []


def test_delete_and_undo(store: ConversationStore) -> None:
    keep = chat(store, ("kept question", "", "kept answer"))
    gone = chat(store, ("deleted question", "", "deleted answer"))
    store.delete(gone)
    assert [c.id for c in store.conversations()] == [keep]
    assert store.search("deleted") == []
    store.undo_delete(gone)
    assert {c.id for c in store.conversations()} == {keep, gone}
    store.delete(gone)
    assert store.purge_deleted() == 1
    with pytest.raises(KeyError):
        store.conversation(gone)
    assert store.integrity_check() == "ok"


def test_full_text_search_over_answers_and_reasoning(store: ConversationStore) -> None:
    first = chat(store, ("Tell me about volcanoes", "magma chambers erupt", "Volcanoes vent lava."))
    chat(store, ("Cooking pasta", "salted water boils", "Boil for ten minutes."))
    hits = store.search("magma")
    assert len(hits) == 1 and hits[0].conversation_id == first and hits[0].in_reasoning
    assert "[magma]" in hits[0].excerpt
    assert {h.conversation_id for h in store.search("volc")} == {first}  # prefix match
    answer_hit = store.search("minutes")[0]
    assert not answer_hit.in_reasoning
    assert store.search('"; DROP TABLE messages; --') == []  # quotes are only text
    assert store.search("   ") == []
    bracket = chat(store, ("Lists", "", "Use a[0] to get the first item of a list."))
    hit = store.search("first")[0]
    assert hit.conversation_id == bracket and not hit.in_reasoning  # a literal [ is just text
    assert "[first]" in hit.excerpt and "a[0]" in hit.excerpt
    # for a display that marks matches itself: the text as written, and where the match is
    assert "[first]" not in hit.plain and "a[0]" in hit.plain
    ((start, end),) = hit.marks
    assert hit.plain[start:end] == "first"


def test_streamed_updates_are_searchable(store: ConversationStore) -> None:
    conversation = store.create_conversation()
    store.add_message(conversation.id, "user", "q")
    answer = store.add_message(conversation.id, "assistant", "", state="streaming")
    store.update_message(answer.id, content="partial zeppelin", state="complete")
    assert store.search("zeppelin")[0].message_id == answer.id
    with pytest.raises(TypeError):
        store.update_message(answer.id, conversation_id=5)  # type: ignore[call-arg]


def test_json_export_imports_back_losslessly(store: ConversationStore, tmp_path: Path) -> None:
    conversation_id = chat(store, ("Q1", "R1", "A1"), ("Q2", "R2", "A2"))
    q2 = store.visible_messages(conversation_id)[2]
    store.add_message(conversation_id, "assistant", "A2 bis", parent_id=q2.id, reasoning="R2b")
    store.update_conversation(conversation_id, system_prompt="Be kind.", params={"top_p": 0.9})
    exported = store.export_json(conversation_id)
    text = json.dumps(exported)  # what is written to the file

    other = ConversationStore(tmp_path / "other.sqlite")
    try:
        imported = other.import_json(json.loads(text))
        again = other.export_json(imported.id)

        def comparable(data):
            ids = {m["id"]: i for i, m in enumerate(data["messages"])}
            conversation = {k: v for k, v in data["conversation"].items() if k != "id"}
            conversation["current_leaf"] = ids[conversation["current_leaf"]]
            messages = [
                {
                    **{k: v for k, v in m.items() if k not in ("id", "conversation_id")},
                    "parent_id": ids.get(m["parent_id"]),
                }
                for m in data["messages"]
            ]
            return conversation, messages

        assert comparable(again) == comparable(exported)
    finally:
        other.close()


NOTES = AnswerFigures(
    reasoning_seconds=31.0,
    reasoning_tokens=472,
    n_generated=600,
    finish_reason="loop",
    thinking_note="answered on request after 472 tokens",
    finish_note="the answer was repeating itself (a span of 4 tokens repeated 64 times)",
    ttft_seconds=2.5,
)


def test_how_thinking_ended_and_the_first_token_are_kept_and_exported(
    store: ConversationStore, tmp_path: Path
) -> None:
    conversation_id = chat(store, ("Q", "", ""))
    answer = store.visible_messages(conversation_id)[-1]
    store.update_message(answer.id, content="A", reasoning="R", figures=NOTES)
    assert store.message(answer.id).figures == replace(NOTES, n_prompt=0)
    exported = json.loads(json.dumps(store.export_json(conversation_id)))
    other = ConversationStore(tmp_path / "other.sqlite")
    try:
        imported = other.visible_messages(other.import_json(exported).id)[-1]
        assert imported.figures == NOTES
    finally:
        other.close()


def test_an_export_from_before_the_notes_still_imports(store: ConversationStore) -> None:
    exported = store.export_json(chat(store, ("Why?", "Hm.", "Because.")))
    for message in exported["messages"]:  # what an export of schema 2 held
        for key in ("thinking_note", "finish_note", "ttft_seconds"):
            del message[key]
    imported = store.visible_messages(store.import_json(exported).id)
    assert [m.content for m in imported] == ["Why?", "Because."]
    assert (imported[1].thinking_note, imported[1].ttft_seconds) == ("", 0.0)


@pytest.mark.parametrize(
    "data", [{}, {"format": "something else"}, {"format": "ponder-conversation"}, []]
)
def test_import_rejects_what_is_not_an_export(store: ConversationStore, data) -> None:
    with pytest.raises(ConversationStoreError):
        store.import_json(data)
    assert store.conversations() == []


def test_import_of_a_broken_export_adds_nothing(store: ConversationStore) -> None:
    exported = store.export_json(chat(store, ("Why?", "Hm.", "Because.")))
    exported["messages"][1]["role"] = None  # the database refuses it, half way through
    with pytest.raises(ConversationStoreError):
        store.import_json(exported)
    assert len(store.conversations()) == 1


def test_remove_deletes_one_conversation_at_once(store: ConversationStore) -> None:
    kept, gone = chat(store, ("Why?", "", "Because.")), chat(store, ("How?", "", "So."))
    store.delete(kept)  # waiting for its undo: not touched
    store.remove(gone)
    assert store.search("how") == []
    assert store._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 2
    store.undo_delete(kept)
    assert [c.id for c in store.conversations()] == [kept]


MATH_ANSWER = (
    "Since \\(x^2 = 4\\):\n\\[\nx = \\pm 2\n\\]\nso \\boxed{x = 2} costs $5, not `\\(x\\)`."
)


def test_markdown_export_writes_math_as_github_renders_it(store: ConversationStore) -> None:
    conversation_id = chat(store, ("Solve", "Try \\(x = 2\\).", MATH_ANSWER))
    exported = store.export_markdown(conversation_id)
    assert "Try $x = 2$." in exported
    assert "Since $x^2 = 4$:\n$$\nx = \\pm 2\n$$\nso $\\boxed{x = 2}$ costs $5" in exported
    assert "not `\\(x\\)`." in exported  # code stays as written


def test_json_export_keeps_the_latex_as_written(store: ConversationStore) -> None:
    exported = store.export_json(chat(store, ("Solve", "", MATH_ANSWER)))
    assert exported["messages"][1]["content"] == MATH_ANSWER
    copy = store.import_json(json.loads(json.dumps(exported)))
    assert store.visible_messages(copy.id)[1].content == MATH_ANSWER


def test_markdown_export_with_and_without_reasoning(store: ConversationStore) -> None:
    conversation_id = chat(store, ("Why?", "Because I thought so.", "**Because.**"))
    with_reasoning = store.export_markdown(conversation_id)
    assert "## You\n\nWhy?" in with_reasoning
    assert "<details><summary>Thought for" in with_reasoning
    assert "Because I thought so." in with_reasoning
    assert "**Because.**" in with_reasoning
    without = store.export_markdown(conversation_id, reasoning=False)
    assert "Because I thought so." not in without and "<details>" not in without
