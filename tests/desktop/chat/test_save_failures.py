"""Saving on a full disk, through the real window: the real SmolLM2 answers, the real store
fails to write, the banner says so, nothing is lost, and Retry saves it once there is room.

The disk is a real tmpfs where this machine lets a test mount one (root); the same path runs
again with the store's real connection failing its writes as on a full disk (tests/disks.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

import desktop.window.main_window as main_window
from desktop.chat.messages import AssistantMessage
from desktop.window.main_window import MainWindow
from model_runtime.chat.generation import GenerationParams, LoadRequest
from model_runtime.conversations.store import ConversationStore
from tests.desktop.window.test_chat_window import (
    ANSWER_MS,
    ENGINE_THREADS,
    LOAD_MS,
    ask,
    type_and_send,
)
from tests.disks import InjectedFullDisk, Tmpfs

STORY = GenerationParams(max_tokens=48, temperature=0.0, seed=1)
SAVE_ANSWER = (
    "Ponder could not save — the disk is full; your answer is kept in memory until it can be "
    "saved; free space and press Retry."
)
SAVE_QUESTION = (
    "Ponder could not save your question — the disk is full; it is back in the message box; "
    "free space and send it again."
)


class Disk(Protocol):
    def fill(self) -> None: ...
    def free(self) -> None: ...


@pytest.fixture
def load(qtbot: Any, smollm2: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., MainWindow]:
    """Loads the starter model into a window, on one engine thread (see test_chat_window)."""

    def load_(window: MainWindow) -> MainWindow:
        monkeypatch.setattr(
            main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=ENGINE_THREADS)
        )
        with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
            window.load_starter()
        window.controller.params = STORY
        return window

    return load_


def last_answer(window: MainWindow) -> AssistantMessage:
    message = window.chat_view.messages[-1]
    assert isinstance(message, AssistantMessage)
    return message


def row_count(store: ConversationStore) -> int:
    return int(store._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


def answer_on_a_disk_that_fills(qtbot: Any, window: MainWindow, disk: Disk) -> None:
    """The disk fills while an answer streams; the answer is kept, said unsaved, and saved
    whole by Retry once there is room. A question sent meanwhile goes back to the composer."""
    controller, banner = window.controller, window.banner
    ask(qtbot, window, "Say hi.")
    with qtbot.waitSignal(window.bridge.chunk, timeout=ANSWER_MS):
        type_and_send(qtbot, window, "Tell me about the sea.")
    disk.fill()  # on the GUI thread: no more of the answer is taken until it is full
    with qtbot.waitSignal(controller.answer_finished, timeout=ANSWER_MS) as finished:
        pass
    message = last_answer(window)
    stats = finished.args[0]

    # said in the banner and under the message; not busy; nothing marked saved that wasn't
    assert not controller.busy and window.composer.button.isEnabled()
    assert banner.isVisible() and banner.label.text() == SAVE_ANSWER
    assert banner.retry_button.isVisible() and not banner.reload_button.isVisible()
    assert message.save_note.isVisible() and not message.saved
    assert f" {stats.n_generated} tokens · " in message.status.text()  # what it is
    row = window.store.message(message.message_id)
    assert row.state == "streaming" and len(row.content) < len(message.answer)

    # the next question can't be saved either: back to the composer, nothing else changes
    rows, widgets = row_count(window.store), len(window.chat_view.messages)
    type_and_send(qtbot, window, "And the sky?")
    assert window.composer.edit.toPlainText() == "And the sky?"
    assert banner.label.text() == SAVE_QUESTION and banner.retry_button.isVisible()
    assert not controller.busy and len(window.chat_view.messages) == widgets
    assert row_count(window.store) == rows

    # closing now asks first: Cancel keeps the window and the answer
    asked: list[str] = []

    def answer_the_question() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and box.objectName() == "unsavedOnClose"
        asked.append(box.text())
        box.button(QMessageBox.StandardButton.Cancel).click()

    QTimer.singleShot(0, answer_the_question)
    assert not window.close() and window.isVisible()
    assert asked == ["1 answer could not be saved: the disk is full.\n\nQuit anyway and lose it?"]

    # room again: Retry saves the whole answer, with its figures, and the notes go
    disk.free()
    with qtbot.waitSignal(controller.saving.settled, timeout=2000):
        qtbot.mouseClick(banner.retry_button, Qt.MouseButton.LeftButton)
    assert not banner.isVisible() and message.saved
    row = window.store.message(message.message_id)
    assert (row.state, row.content, row.reasoning) == (
        "complete",
        message.answer,
        message.reasoning,
    )
    assert row.n_generated == stats.n_generated and row.finish_reason == stats.finish_reason

    # and the question the composer kept goes now
    with qtbot.waitSignal(controller.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    contents = [m.content for m in window.store.visible_messages(controller.conversation_id)]
    assert (
        contents[-2] == "And the sky?"
        and window.store.message(last_answer(window).message_id).state == "complete"
    )


@pytest.fixture
def small_disk(
    tmpfs: Callable[..., Tmpfs], ponder_home: Path
) -> Iterator[tuple[Tmpfs, ConversationStore]]:
    """The whole data folder (the database, the engine's logs) on a real 4 MB disk; the store
    is closed after the window that uses it (ask for this fixture before open_window)."""
    disk = tmpfs(ponder_home / "data", "4m")
    store = ConversationStore(disk.path / "conversations.sqlite")
    yield disk, store
    store.close()


@pytest.mark.slow
def test_a_disk_that_fills_mid_answer_loses_nothing(
    small_disk: tuple[Tmpfs, ConversationStore],
    open_window: Callable[..., MainWindow],
    load: Callable[..., MainWindow],
    qtbot: Any,
) -> None:
    disk, store = small_disk
    window = load(open_window(store))
    try:
        answer_on_a_disk_that_fills(qtbot, window, disk)
    finally:
        disk.free()  # so that closing the window (after the test) has nothing to ask


@pytest.mark.slow
def test_a_full_disk_without_mount_rights_loses_nothing(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = load(open_window())
    disk = InjectedFullDisk(window.store)
    try:
        answer_on_a_disk_that_fills(qtbot, window, disk)
    finally:
        disk.free()


def test_renames_deletes_and_settings_that_fail_are_said_and_change_nothing(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    store = window.store
    chat = store.create_conversation(model="m", system_prompt="Be kind.")
    store.add_message(chat.id, "user", "Why is the sky blue?")
    answer = store.add_message(chat.id, "assistant", "Rayleigh scattering.")
    window.sidebar.refresh()
    window.open_conversation(chat.id)
    disk = InjectedFullDisk(store)
    disk.fill()
    banner = window.banner

    window.sidebar.rename(chat.id, "Sky")
    assert banner.label.text() == (
        "Ponder could not rename the chat — the disk is full; its title is unchanged; free "
        "space and try again."
    )
    assert not banner.retry_button.isVisible()  # no answer waits: trying again is renaming
    window.sidebar.delete(chat.id)
    assert banner.label.text().startswith("Ponder could not delete — the disk is full; nothing")
    assert not window.sidebar.undo_bar.isVisible()
    window.controller.apply_settings("Be brief.", GenerationParams(temperature=0.1))
    assert banner.label.text().startswith("Ponder could not save the chat's settings")
    assert window.controller.system_prompt == "Be kind."
    window.controller.delete_message(answer.id)
    assert banner.label.text().startswith("Ponder could not delete — ")
    assert len(window.chat_view.messages) == 2

    assert [c.title for c in store.conversations()] == ["Why is the sky blue?"]
    assert [m.content for m in store.visible_messages(chat.id)] == [
        "Why is the sky blue?",
        "Rayleigh scattering.",
    ]
    assert store.conversation(chat.id).system_prompt == "Be kind."

    disk.free()
    window.controller.apply_settings("Be brief.", GenerationParams(temperature=0.1))
    assert store.conversation(chat.id).system_prompt == "Be brief."
    assert not banner.isVisible()  # a write went through: the failure's notice goes
    window.sidebar.rename(chat.id, "Sky")
    assert store.conversation(chat.id).title == "Sky"


@pytest.mark.slow
def test_an_answer_left_unsaved_shows_from_memory_when_its_chat_reopens(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = load(open_window())
    window.controller.params = GenerationParams(
        max_tokens=400, temperature=0.7, seed=5, grammar=r"root ::= [A-Za-z ,.'] root"
    )
    disk = InjectedFullDisk(window.store)
    try:
        with qtbot.waitSignal(window.bridge.chunk, timeout=ANSWER_MS):
            type_and_send(qtbot, window, "Write a story about a cat.")
        chat = window.controller.conversation_id
        assert chat is not None
        disk.fill()
        with qtbot.waitSignal(window.bridge.chunk, timeout=ANSWER_MS):
            pass  # a word that can't be saved any more
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        assert not window.controller.busy and window.chat_view.messages == []
        assert window.banner.label.text() == SAVE_ANSWER
        (kept,) = list(window.controller.saving.unsaved)
        text = window.controller.saving.unsaved.get(kept).answer.answer  # type: ignore[union-attr]
        assert text and window.store.message(kept).content != text

        window.open_conversation(chat)  # from memory, said unsaved, to continue later
        message = last_answer(window)
        assert message.message_id == kept and message.answer == text and not message.saved
        assert message.continue_button.isVisibleTo(message)

        disk.free()
        with qtbot.waitSignal(window.controller.saving.settled, timeout=2000):
            qtbot.mouseClick(window.banner.retry_button, Qt.MouseButton.LeftButton)
        row = window.store.message(kept)
        assert (row.state, row.content) == ("interrupted", text) and message.saved
    finally:
        disk.free()
