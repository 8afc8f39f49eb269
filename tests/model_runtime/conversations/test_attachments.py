"""Attached files in the conversation database: stored once per content, linked to their
questions, deleted with the last question that used them, exported, imported and searched."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from model_runtime.attachments.prompt import Included
from model_runtime.attachments.reading import attach_text
from model_runtime.conversations import attachments
from model_runtime.conversations.store import ConversationStore
from model_runtime.errors import ConversationStoreError

FIXTURES = Path(__file__).parents[2] / "fixtures"
NOTES = attach_text("The harbour soup needs cardamom and saffron.\n", "recipes.md")
LOG = attach_text("ERROR disk full at 03:14\n" * 3, "server.log")


@pytest.fixture
def store(tmp_path: Path):
    store = ConversationStore(tmp_path / "conversations.sqlite")
    yield store
    store.close()


def ask(store: ConversationStore, conversation_id: int, question: str, *files: Included) -> int:
    message = store.add_message(conversation_id, "user", question)
    store.attach(message.id, files)
    store.add_message(conversation_id, "assistant", "An answer.")
    return message.id


def test_the_same_file_attached_twice_is_stored_once(store: ConversationStore) -> None:
    chat = store.create_conversation().id
    first = ask(store, chat, "What goes in the soup?", Included(NOTES, tokens=12))
    second = ask(
        store, chat, "And in the log?", Included(NOTES), Included(LOG, "passages", ((0, 25),))
    )
    assert attachments.count(store._db) == (2, 3)  # two files, three links
    found = store.attachments([first, second])
    assert [a.name for a in found[second]] == ["recipes.md", "server.log"]
    [notes] = found[first]
    assert (notes.kind, notes.mode, notes.tokens, notes.size) == ("text", "whole", 12, NOTES.size)
    log = found[second][1]
    assert (log.mode, log.spans) == ("passages", ((0, 25),))
    [again] = store.included([log])
    assert again.file.text == LOG.text and again.where() == "line 1"


def test_files_go_with_the_last_question_that_used_them(store: ConversationStore) -> None:
    chat = store.create_conversation().id
    first = ask(store, chat, "Soup?", Included(NOTES))
    ask(store, chat, "Log?", Included(NOTES), Included(LOG))
    store.delete_message(store.visible_messages(chat)[2].id)  # the second question and on
    assert attachments.count(store._db) == (1, 1)
    assert store.attachment_text(NOTES.sha256) == NOTES.text
    store.delete_message(first)
    assert attachments.count(store._db) == (0, 0)
    assert store.search("cardamom", in_files=True) == []


def test_deleting_a_conversation_keeps_its_files_until_the_purge(store: ConversationStore) -> None:
    chat = store.create_conversation().id
    ask(store, chat, "Soup?", Included(NOTES))
    other = store.create_conversation().id
    ask(store, other, "Log?", Included(LOG))
    store.delete(chat)
    assert attachments.count(store._db) == (2, 2)  # the undo window: all still there
    store.undo_delete(chat)
    store.delete(chat)
    assert store.purge_deleted() == 1
    assert attachments.count(store._db) == (1, 1)
    with pytest.raises(KeyError):
        store.attachment_text(NOTES.sha256)
    store.remove(other)
    assert attachments.count(store._db) == (0, 0)


def test_search_finds_files_by_name_and_by_content_when_asked(store: ConversationStore) -> None:
    chat = store.create_conversation().id
    question = ask(store, chat, "What goes in the soup?", Included(NOTES))
    by_name = store.search("recipes")
    assert [(h.message_id, h.in_file, h.excerpt) for h in by_name] == [
        (question, "recipes.md", "attached recipes.md")
    ]
    assert store.search("saffron") == []  # the file's words only when asked
    [hit] = store.search("saffron", in_files=True)
    assert (hit.message_id, hit.in_file) == (question, "recipes.md")
    assert "[saffron]" in hit.excerpt
    store.delete(chat)
    assert store.search("recipes") == [] and store.search("saffron", in_files=True) == []


def test_export_and_import_carry_the_files(store: ConversationStore, tmp_path: Path) -> None:
    chat = store.create_conversation().id
    ask(store, chat, "Soup?", Included(NOTES, tokens=12))
    ask(store, chat, "Log?", Included(LOG, "passages", ((0, 25), (50, 75)), 30), Included(NOTES))
    exported = json.loads(json.dumps(store.export_json(chat)))
    assert exported["version"] == 2 and len(exported["files"]) == 2
    other = ConversationStore(tmp_path / "other.sqlite")
    try:
        imported = other.import_json(exported).id
        questions = [m.id for m in other.visible_messages(imported) if m.role == "user"]
        found = other.attachments(questions)
        assert [a.name for a in found[questions[1]]] == ["server.log", "recipes.md"]
        assert found[questions[1]][0].spans == ((0, 25), (50, 75))
        assert found[questions[0]][0].tokens == 12
        assert attachments.count(other._db) == (2, 3)
        assert other.attachment_text(LOG.sha256) == LOG.text
    finally:
        other.close()


def test_an_export_without_attachments_still_imports(store: ConversationStore) -> None:
    chat = store.create_conversation().id
    store.add_message(chat, "user", "Old question")
    exported = store.export_json(chat)
    for key in ("attachments", "files"):
        del exported[key]
    exported["version"] = 1
    imported = store.import_json(exported)
    assert [m.content for m in store.visible_messages(imported.id)] == ["Old question"]


def test_an_export_naming_a_file_it_lacks_adds_nothing(store: ConversationStore) -> None:
    chat = store.create_conversation().id
    ask(store, chat, "Soup?", Included(NOTES))
    exported = store.export_json(chat)
    exported["files"] = {}
    with pytest.raises(ConversationStoreError, match="incomplete"):
        store.import_json(exported)
    assert len(store.conversations()) == 1 and attachments.count(store._db) == (1, 1)


def test_markdown_export_names_the_files(store: ConversationStore) -> None:
    chat = store.create_conversation().id
    ask(store, chat, "Why?", Included(NOTES), Included(LOG, "passages", ((0, 25),)))
    text = store.export_markdown(chat)
    assert (
        "## You\n\n*Attached: recipes.md (Text), server.log (Text, relevant passages)*\n\nWhy?"
        in text
    )
    assert "cardamom" not in text  # named, not copied


def test_a_version_2_database_gains_the_tables_and_keeps_its_chats(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite"
    legacy = sqlite3.connect(path)
    legacy.executescript((FIXTURES / "conversations-v1.sql").read_text(encoding="utf-8"))
    legacy.close()
    store = ConversationStore(path)
    try:
        assert [c.title for c in store.conversations()] == ["Tea", "Primes"]
        question = store.visible_messages(1)[0]
        store.attach(question.id, [Included(NOTES)])
        assert store.attachments([question.id])[question.id][0].name == "recipes.md"
        assert store.integrity_check() == "ok"
    finally:
        store.close()


def test_undoing_a_deleted_question_brings_its_files_back(store: ConversationStore) -> None:
    chat = store.create_conversation().id
    ask(store, chat, "Soup?", Included(NOTES))
    second = ask(store, chat, "Log?", Included(NOTES), Included(LOG))
    removed = store.delete_message(second)
    assert attachments.count(store._db) == (1, 1)  # the log went: no other question kept it
    store.restore_messages(removed)
    assert attachments.count(store._db) == (2, 3)
    assert [a.name for a in store.attachments([second])[second]] == ["recipes.md", "server.log"]
    assert store.search("disk", in_files=True)  # its text is searchable again


def test_an_undo_finds_a_file_attached_again_meanwhile(store: ConversationStore) -> None:
    """The same content was stored again under another id (an imported chat) while the undo
    waited: the question goes back linked to that one, not to a second copy."""
    gone = ask(store, store.create_conversation().id, "Log?", Included(LOG))
    ask(store, store.create_conversation().id, "Soup?", Included(NOTES))
    removed = store.delete_message(gone)
    assert attachments.count(store._db) == (1, 1)
    ask(store, store.create_conversation().id, "The same log?", Included(LOG))
    store.restore_messages(removed)
    assert attachments.count(store._db) == (2, 3)  # the log once, linked to both questions
    [back] = store.included(store.attachments([gone])[gone])
    assert back.file.text == LOG.text
