"""A conversation records the model that last answered it, as an identity that loads again
(schema 5), and keeps it through export and import; older databases and exports have none."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from model_runtime.conversations.schema import MIGRATIONS, SCHEMA_VERSION, statements
from model_runtime.conversations.store import ConversationStore


@pytest.fixture
def store(tmp_path: Path):
    store = ConversationStore(tmp_path / "conversations.sqlite")
    yield store
    store.close()


def test_each_answer_records_its_model_as_the_conversations(store: ConversationStore) -> None:
    chat = store.create_conversation(model="SmolLM2", model_ref="starter:")
    assert (chat.model, chat.model_ref) == ("SmolLM2", "starter:")
    store.add_message(chat.id, "user", "Hi")
    assert store.conversation(chat.id).model_ref == "starter:"  # a question changes nothing
    store.add_message(
        chat.id, "assistant", "", state="streaming", model="R1 7B", model_ref="store:r1--Q4_K_M"
    )
    again = store.conversation(chat.id)
    assert (again.model, again.model_ref) == ("R1 7B", "store:r1--Q4_K_M")
    store.add_message(chat.id, "assistant", "Imported answer", model="other")  # no identity given
    assert store.conversation(chat.id).model_ref == "store:r1--Q4_K_M"


def test_the_model_goes_out_with_an_export_and_an_older_export_imports(
    store: ConversationStore,
) -> None:
    chat = store.create_conversation(model="lab", model_ref="remote:lab server")
    store.add_message(chat.id, "user", "Why?")
    exported = json.loads(json.dumps(store.export_json(chat.id)))
    assert exported["conversation"]["model_ref"] == "remote:lab server"
    assert store.import_json(exported).model_ref == "remote:lab server"
    del exported["conversation"]["model_ref"]  # written before schema 5
    assert store.import_json(exported).model_ref == ""


def test_a_schema_4_database_gains_the_column_and_keeps_its_conversations(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conversations.sqlite"
    old = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        for statement in statements(script):
            old.execute(statement)
        old.execute(f"PRAGMA user_version = {number}")
    old.execute(
        "INSERT INTO conversations (title, model, created, updated) VALUES ('Old', 'm', 1, 1)"
    )
    old.commit()
    old.close()
    store = ConversationStore(path)
    try:
        assert store.version == SCHEMA_VERSION >= 5
        (chat,) = store.conversations()
        assert (chat.title, chat.model, chat.model_ref) == ("Old", "m", "")
    finally:
        store.close()
    assert (tmp_path / "conversations.v4.backup.sqlite").is_file()
