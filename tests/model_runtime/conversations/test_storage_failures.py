"""The conversation store on a full, read-only or damaged disk: each failure is a StorageError
in words, changes nothing, and the store works again once the disk does.

Real disks where this machine allows (a tmpfs, mounted as root); the same paths again with the
store's real connection failing its writes as on a full disk, for runners without mount rights.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from model_runtime.chat.answer import Answer
from model_runtime.chat.generation import Chunk, Finished, GenerationStats
from model_runtime.conversations.failures import storage_error
from model_runtime.conversations.store import ConversationStore
from model_runtime.conversations.unsaved import UnsavedAnswers
from model_runtime.errors import ConversationStoreError, StorageError
from tests.disks import InjectedFullDisk, Tmpfs, damage_mid_file, fill_store


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def counts(store: ConversationStore) -> tuple[int, int]:
    db = store._db
    return (
        db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0],
        db.execute("SELECT COUNT(*) FROM messages").fetchone()[0],
    )


# -- a full disk ----------------------------------------------------------------------------


def full_disk_round(store: ConversationStore, fill: Callable[[], None], free: Callable[[], None]):
    """Writes on a full disk fail in words and change nothing; once freed, they go through."""
    conversation = store.create_conversation(model="m")
    question = store.add_message(conversation.id, "user", "Why is the sky blue?")
    answer = store.add_message(conversation.id, "assistant", state="streaming")
    before = counts(store)
    fill()

    with pytest.raises(StorageError) as failed:
        store.update_message(answer.id, content="Because of Rayleigh scattering. " * 200)
    assert failed.value.problem == "full" and isinstance(failed.value, OSError)
    assert str(failed.value) == f"The disk that holds {store.path} is full."
    with pytest.raises(StorageError), store.atomic():  # several writes: none is kept
        store.add_message(conversation.id, "user", "And at sunset? " * 100)
        store.add_message(conversation.id, "assistant", state="streaming")
    with pytest.raises(StorageError):
        store.rename(conversation.id, "Sky")
    assert counts(store) == before
    assert store.message(answer.id).content == "" and store.message(answer.id).state == "streaming"
    assert store.conversation(conversation.id).title == "Why is the sky blue?"
    assert not store._db.in_transaction

    free()
    store.update_message(answer.id, content="Because of Rayleigh scattering.", state="complete")
    with store.atomic():
        store.add_message(conversation.id, "user", "And at sunset?", parent_id=answer.id)
    assert store.message(answer.id).state == "complete"
    assert [m.content for m in store.visible_messages(conversation.id)] == [
        question.content,
        "Because of Rayleigh scattering.",
        "And at sunset?",
    ]
    assert store.integrity_check() == "ok"


def test_a_full_disk_fails_writes_in_words_and_changes_nothing(
    tmpfs: Callable[..., Tmpfs], tmp_path: Path
) -> None:
    disk = tmpfs(tmp_path / "disk", "2m")
    store = ConversationStore(disk.path / "conversations.sqlite")
    try:
        full_disk_round(store, disk.fill, disk.free)
    finally:
        store.close()


def test_a_full_disk_without_mount_rights(tmp_path: Path) -> None:
    """The same path, with SQLite's own "database or disk is full" made to happen."""
    store = ConversationStore(tmp_path / "conversations.sqlite")
    disk = InjectedFullDisk(store)
    try:
        full_disk_round(store, disk.fill, disk.free)
    finally:
        store.close()


def test_unsaved_answers_are_kept_and_written_later(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.sqlite")
    disk = InjectedFullDisk(store)
    conversation = store.create_conversation()
    store.add_message(conversation.id, "user", "Hi")
    row = store.add_message(conversation.id, "assistant", state="streaming")
    answer = Answer()
    answer.add(Chunk(1, "thinking", "Greet back."))
    answer.add(Chunk(1, "answer", "Hello!"))
    unsaved = UnsavedAnswers(store)
    disk.fill()
    unsaved.keep(row.id, answer, "complete")
    with pytest.raises(StorageError):
        unsaved.flush()
    assert row.id in unsaved and store.message(row.id).state == "streaming"
    assert unsaved.get(row.id).over(store.message(row.id)).content == "Hello!"  # type: ignore[union-attr]

    answer.add(Chunk(1, "answer", " How are you?"))  # the latest text goes in when it works
    answer.add(Finished(1, GenerationStats(n_prompt=5, n_generated=7, finish_reason="stop")))
    unsaved.keep(row.id, answer)  # a text-only save keeps the state asked for before
    disk.free()
    unsaved.flush()
    assert len(unsaved) == 0
    saved = store.message(row.id)
    assert (saved.content, saved.reasoning, saved.state) == (
        "Hello! How are you?",
        "Greet back.",
        "complete",
    )
    assert saved.n_generated == 7 and saved.finish_reason == "stop"
    store.close()


# -- opening a damaged, read-only or full data folder ----------------------------------------


def test_a_database_damaged_past_its_first_page_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite"
    fill_store(path)
    assert path.stat().st_size > 65536 + 32768
    damage_mid_file(path)
    before = files(tmp_path)
    with pytest.raises(ConversationStoreError) as refused:
        ConversationStore(path)
    text = str(refused.value)
    assert f"The conversation database {path} can't be opened: it is damaged" in text
    assert "Ponder left it untouched. Move it out of that folder" in text
    assert refused.value.path == path
    assert files(tmp_path) == before  # no migration, no recovery, no WAL files left


def test_a_read_only_data_folder_is_refused_before_any_file_is_made(
    tmpfs: Callable[..., Tmpfs], tmp_path: Path
) -> None:
    disk = tmpfs(tmp_path / "disk", "4m")
    path = disk.path / "conversations.sqlite"
    fill_store(path, conversations=2)
    store = ConversationStore(path)
    conversation = store.create_conversation()
    store.add_message(conversation.id, "assistant", "half an ans", state="streaming")
    store.close()
    disk.read_only()
    before = files(disk.path)
    with pytest.raises(StorageError) as refused:
        ConversationStore(path)
    assert refused.value.problem == "read-only"
    assert str(refused.value) == f"{disk.path} is on a read-only disk."
    with pytest.raises(StorageError, match="read-only disk"):
        ConversationStore(disk.path / "new" / "conversations.sqlite")
    assert files(disk.path) == before  # no -wal, no -shm, and the answer not "recovered"


def test_a_full_disk_is_refused_at_open_untouched(
    tmpfs: Callable[..., Tmpfs], tmp_path: Path
) -> None:
    disk = tmpfs(tmp_path / "disk", "2m")
    path = disk.path / "conversations.sqlite"
    fill_store(path, conversations=2)
    disk.fill()
    before = files(disk.path)
    with pytest.raises(StorageError) as refused:
        ConversationStore(path)
    assert refused.value.problem == "full"
    assert str(refused.value) == f"The disk that holds {disk.path} is full."
    assert files(disk.path) == before
    disk.free()
    ConversationStore(path).close()  # with room again it opens


# -- what counts as a storage failure --------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (sqlite3.OperationalError("database or disk is full"), "full"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
        (sqlite3.OperationalError("database is locked"), "locked"),
        (sqlite3.DatabaseError("database disk image is malformed"), "damaged"),
        (sqlite3.DatabaseError("file is not a database"), "damaged"),
        (sqlite3.OperationalError("disk I/O error"), "failing"),
    ],
)
def test_sqlite_errors_in_words(error: sqlite3.Error, problem: str, tmp_path: Path) -> None:
    found = storage_error(error, tmp_path / "c.sqlite")
    assert found is not None and found.problem == problem and str(tmp_path) in str(found)


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.IntegrityError("UNIQUE constraint failed: messages.id"),
        sqlite3.ProgrammingError("Cannot operate on a closed database."),
        sqlite3.OperationalError("no such table: messages"),
    ],
)
def test_bugs_are_not_storage_failures(error: sqlite3.Error, tmp_path: Path) -> None:
    assert storage_error(error, tmp_path / "c.sqlite") is None
