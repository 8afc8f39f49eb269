"""A message's buttons and keys: deleting with an undo, answering a question left without an
answer, the reasoning reached from the keyboard, a question edited in its bubble."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

import desktop.window.main_window as main_window
from desktop.chat.messages import AssistantMessage, UserMessage
from desktop.window.main_window import MainWindow
from model_runtime.chat.answer import AnswerFigures
from model_runtime.chat.generation import GenerationParams, LoadRequest
from model_runtime.conversations.store import ConversationStore

LOAD_MS = 60_000
ANSWER_MS = 60_000
FIGURES = AnswerFigures(1.5, 12, 20, 30, 25.0, "stop")


def sky(store: ConversationStore) -> tuple[int, int, int, int]:
    """A chat: a question with two versions of its answer (the second shown), then a follow-up.
    Returns the ids: chat, question, shown answer, follow-up question."""
    chat = store.create_conversation(model="SmolLM2")
    question = store.add_message(chat.id, "user", "Why is the sky blue?")
    store.add_message(chat.id, "assistant", "Scattering.", reasoning="Rayleigh.", figures=FIGURES)
    answer = store.add_message(
        chat.id, "assistant", "Light scatters.", reasoning="Short waves.", parent_id=question.id
    )
    follow = store.add_message(chat.id, "user", "And at sunset?")
    store.add_message(chat.id, "assistant", "Red.", reasoning="Long path.", figures=FIGURES)
    return chat.id, question.id, answer.id, follow.id


def shown(window: MainWindow) -> list[tuple[str, str]]:
    return [
        ("user", m.text) if isinstance(m, UserMessage) else ("assistant", m.answer)
        for m in window.chat_view.messages
        if isinstance(m, UserMessage | AssistantMessage)
    ]


def opened(window: MainWindow, chat: int) -> MainWindow:
    window.sidebar.refresh()
    window.open_conversation(chat)
    QApplication.processEvents()  # the new message widgets show
    return window


def test_a_deleted_answer_comes_back_with_undo(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    chat, question, answer, follow = sky(window.store)
    opened(window, chat)
    before = shown(window)
    rows_before = window.store._db.execute("SELECT * FROM messages ORDER BY id").fetchall()
    target = window.chat_view.messages[1]
    assert isinstance(target, AssistantMessage) and target.message_id == answer
    qtbot.mouseClick(target.delete_button, Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    assert shown(window) == [("user", "Why is the sky blue?"), ("assistant", "Scattering.")]
    assert window.chat_undo.isVisible()
    assert window.chat_undo.label.text() == "Deleted the answer and 2 messages after it"

    qtbot.mouseClick(window.chat_undo.button, Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    assert shown(window) == before  # the same branch shown, as it was
    assert not window.chat_undo.isVisible()
    rows_after = window.store._db.execute("SELECT * FROM messages ORDER BY id").fetchall()
    assert [tuple(r) for r in rows_after] == [tuple(r) for r in rows_before]  # ids and all
    assert window.store.search("Long path")  # searchable again
    assert window.store.conversation(chat).current_leaf == rows_before[-1]["id"]
    assert question and follow


def test_the_undo_ends_when_its_time_passes_or_the_chat_moves_on(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    chat, _question, _answer, follow = sky(window.store)
    other, *_ = sky(window.store)
    opened(window, chat)
    window.controller.delete_message(follow)
    assert window.chat_undo.isVisible()
    window.chat_undo.timer.timeout.emit()  # the undo window passed
    assert not window.chat_undo.isVisible() and window.controller.deletion.removed is None
    window.controller.undo_delete()  # nothing to undo
    assert ("user", "And at sunset?") not in shown(window)

    opened(window, chat)
    last = window.chat_view.messages[-1]
    assert isinstance(last, AssistantMessage)
    window.controller.delete_message(last.message_id)
    assert window.chat_undo.isVisible()
    opened(window, other)  # another chat: its undo would put rows where the view can't see
    assert not window.chat_undo.isVisible() and window.controller.deletion.removed is None


@pytest.mark.slow
def test_a_question_without_an_answer_offers_regenerate(
    open_window: Callable[..., MainWindow],
    qtbot: Any,
    smollm2: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=1))
    window = open_window()
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        window.load_starter()
    window.controller.params = GenerationParams(max_tokens=12, temperature=0.0, seed=1)
    chat, *_ = sky(window.store)
    opened(window, chat)
    answer = window.chat_view.messages[-1]
    assert isinstance(answer, AssistantMessage)
    window.controller.delete_message(answer.message_id)
    QApplication.processEvents()
    question = window.chat_view.messages[-1]
    assert isinstance(question, UserMessage) and question.text == "And at sunset?"
    assert question.answer_button.isVisible() and question.answer_button.text() == "Regenerate"
    others = [m for m in window.chat_view.messages[:-1] if isinstance(m, UserMessage)]
    assert not any(m.answer_button.isVisible() for m in others)  # they have their answers
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        qtbot.mouseClick(question.answer_button, Qt.MouseButton.LeftButton)
    new = window.chat_view.messages[-1]
    assert isinstance(new, AssistantMessage) and new.answer.strip()
    stored = window.store.visible_messages(chat)
    assert stored[-1].content == new.answer and stored[-2].content == "And at sunset?"
    assert not window.chat_undo.isVisible()  # a new answer took the deleted one's place


def focus_path(window: MainWindow, start: QWidget, stop: QWidget, qtbot: Any) -> list[QWidget]:
    """The widgets Tab visits from `start` until `stop` (at most 40 presses)."""
    start.setFocus()
    path = [start]
    for _ in range(40):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        path.append(QApplication.focusWidget())
        if path[-1] is stop:
            break
    return path


def test_the_reasoning_is_reached_with_tab_and_a_shortcut(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    chat, *_ = sky(window.store)
    opened(window, chat)
    question, answer = window.chat_view.messages[-2:]
    assert isinstance(question, UserMessage) and isinstance(answer, AssistantMessage)
    pane = answer.thinking
    assert pane is not None and not pane.expanded
    path = focus_path(window, question.delete_button, answer.copy_button, qtbot)
    assert path[-1] is answer.copy_button
    assert pane.header in path  # after the question's buttons, before the answer's
    assert path.index(pane.header) < path.index(answer.copy_button)

    qtbot.keyClick(pane.header, Qt.Key.Key_Space)  # the keyboard opens it
    assert pane.expanded
    window.composer.edit.setFocus()
    shortcut = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_R, shortcut)
    assert not pane.expanded and pane.header.hasFocus()  # the last answer's, closed
    qtbot.keyClick(pane.header, Qt.Key.Key_R, shortcut)
    assert pane.expanded


def test_tab_goes_down_the_page_from_the_chat_list_to_the_composer(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    """Seen under Xvfb: Tab went from the prompt to the messages and Shift+Tab from the prompt
    to the chat list, as the messages were made after the composer."""
    window = open_window()
    chat, *_ = sky(window.store)
    opened(window, chat)
    first, *_, last = window.chat_view.messages
    assert isinstance(first, UserMessage) and isinstance(last, AssistantMessage)
    path = focus_path(window, window.sidebar.list, window.composer.edit, qtbot)
    assert path[-1] is window.composer.edit
    assert first.edit_button in path and last.delete_button in path  # all on the way down
    assert path.index(first.edit_button) < path.index(last.copy_button)
    window.composer.edit.setFocus()
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Backtab)
    assert QApplication.focusWidget() is last.delete_button  # back up into the chat


def test_a_long_question_is_edited_in_its_bubble_wrapped(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    window.resize(900, 700)
    chat = window.store.create_conversation()
    long = "Explain, step by step and with an example, " * 12
    window.store.add_message(chat.id, "user", long)
    window.store.add_message(chat.id, "assistant", "Sure.")
    opened(window, chat.id)
    user = window.chat_view.messages[0]
    assert isinstance(user, UserMessage)
    width = user.width()
    qtbot.mouseClick(user.edit_button, Qt.MouseButton.LeftButton)
    editor = user.editor
    assert editor is not None and editor.isVisible() and not QApplication.activeModalWidget()
    QApplication.processEvents()
    text = editor.text
    assert text.horizontalScrollBar().maximum() == 0  # it wraps, never scrolls sideways
    assert text.verticalScrollBar().maximum() == 0  # and is as tall as its lines
    assert text.document().size().height() > 2
    assert user.width() == width  # in the bubble, not wider
    qtbot.keyClick(text, Qt.Key.Key_Escape)
    assert user.editor is None and user.label.isVisible()


def test_without_a_model_regenerate_and_edit_say_why_and_change_nothing(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    """With no model loaded, a message's Regenerate, Continue and edited question are
    refused in words, before anything is stored (they made an empty, failed version)."""
    window = open_window()
    chat, *_ = sky(window.store)
    opened(window, chat)
    before, count = shown(window), window.store._db.execute("SELECT COUNT(*) FROM messages")
    stored = count.fetchone()[0]
    answer = window.chat_view.messages[-1]
    assert isinstance(answer, AssistantMessage)
    qtbot.mouseClick(answer.regenerate_button, Qt.MouseButton.LeftButton)
    assert window.banner.isVisible()
    assert window.banner.label.text().startswith("No answer now. Load a model first")
    window.banner.hide()
    question = window.chat_view.messages[-2]
    assert isinstance(question, UserMessage)
    window.controller.edit(question.message_id, "And at dawn?")
    window.controller.continue_answer(answer.message_id)
    assert window.banner.isVisible() and not window.controller.busy
    assert shown(window) == before
    count = window.store._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    assert count == stored
