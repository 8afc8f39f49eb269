"""Durable conversations through the real window: the real engine on SmolLM2 and the real store.

Sidebar, search, branches (regenerate, edit), stop and continue, crash recovery, export and
import, shortcuts. Every test has its own PONDER_HOME, so each window's store starts empty.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QListWidgetItem, QWidget

import desktop.window.main_window as main_window
from desktop.chat.messages import AssistantMessage, UserMessage
from desktop.chat.sidebar import ID_ROLE, MESSAGE_ROLE
from desktop.chat.sidebar_rows import DETAIL_ROLE, plain_text
from desktop.window.actions import shortcut_rows
from desktop.window.main_window import MainWindow
from desktop.window.shortcuts_dialog import ShortcutsDialog
from model_runtime.chat.generation import GenerationParams, LoadRequest
from model_runtime.conversations.records import StoredMessage
from model_runtime.conversations.store import ConversationStore
from model_runtime.models.starter import STARTER_NAME
from tests.desktop.window.test_chat_window import (
    ANSWER_MS,
    ENGINE_THREADS,
    GREEDY,
    LOAD_MS,
    THINKING,
    ChunkSpy,
    ask,
    type_and_send,
)

# No end of sentence is allowed, so the answer streams until it is stopped or hits max_tokens.
ENDLESS = GenerationParams(
    max_tokens=400, temperature=0.7, seed=5, grammar=r"root ::= [A-Za-z ,.'] root"
)
SAMPLED = GenerationParams(max_tokens=30, temperature=0.8, seed=1)
SAVED_WITHIN_MS = 1500  # the controller saves every 500 ms; slack for a busy 2-core runner


@pytest.fixture
def load(qtbot: Any, smollm2: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., MainWindow]:
    """Loads the starter model into a window, on one engine thread (see test_chat_window)."""

    def load_(window: MainWindow, **request: Any) -> MainWindow:
        monkeypatch.setattr(
            main_window,
            "LoadRequest",
            functools.partial(LoadRequest, n_threads=ENGINE_THREADS, **request),
        )
        with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
            window.load_starter()
        window.controller.params = GREEDY
        return window

    return load_


@pytest.fixture
def loaded(open_window: Callable[..., MainWindow], load: Callable[..., MainWindow]) -> MainWindow:
    return load(open_window())


def click(qtbot: Any, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def click_item(qtbot: Any, window: MainWindow, item: QListWidgetItem) -> None:
    """A real click on a row of the sidebar's list."""
    listing = window.sidebar.list
    listing.scrollToItem(item)
    qtbot.mouseClick(
        listing.viewport(), Qt.MouseButton.LeftButton, pos=listing.visualItemRect(item).center()
    )


def rows(window: MainWindow) -> list[str]:
    """The sidebar as it reads: date headings and titles (or search hits)."""
    listing = window.sidebar.list
    return [listing.item(i).text() for i in range(listing.count())]


def shown(window: MainWindow) -> list[tuple[str, str]]:
    """The chat view as it reads: (role, text) for every message widget."""
    view: list[tuple[str, str]] = []
    for widget in window.chat_view.messages:
        if isinstance(widget, UserMessage):
            view.append(("user", widget.text))
        else:
            assert isinstance(widget, AssistantMessage)
            view.append(("assistant", widget.answer))
    return view


def stored(window: MainWindow, conversation_id: int | None = None) -> list[tuple[str, str]]:
    """The store's visible branch as (role, text)."""
    conversation_id = conversation_id or window.controller.conversation_id
    assert conversation_id is not None
    return [(m.role, m.content) for m in window.store.visible_messages(conversation_id)]


def all_messages(window: MainWindow, conversation_id: int) -> list[StoredMessage]:
    """Every stored message of a conversation, on every branch."""
    ids = window.store._db.execute(
        "SELECT id FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
    )
    return [window.store.message(row[0]) for row in ids]


def last_answer(window: MainWindow) -> AssistantMessage:
    message = window.chat_view.messages[-1]
    assert isinstance(message, AssistantMessage)
    return message


def open_chat(qtbot: Any, window: MainWindow, conversation_id: int) -> None:
    """Open a stored conversation and wait until its messages are shown."""
    window.open_conversation(conversation_id)
    qtbot.waitUntil(lambda: window.chat_view.messages[-1].isVisible(), timeout=2000)


def search(qtbot: Any, window: MainWindow, text: str) -> list[QListWidgetItem]:
    """Type into the search box and wait for the debounced refresh; returns the hits."""
    box = window.sidebar.search
    box.clear()
    with qtbot.waitSignal(window.sidebar._search_timer.timeout, timeout=2000):
        qtbot.keyClicks(box, text)
    return window.sidebar.items()


def clear_search(qtbot: Any, window: MainWindow) -> None:
    with qtbot.waitSignal(window.sidebar._search_timer.timeout, timeout=2000):
        window.sidebar.search.clear()


def words(text: str) -> list[str]:
    """Words as the full-text index splits them."""
    return [w.lower() for w in re.findall(r"[A-Za-z0-9]+", text)]


# -- the first exchange ---------------------------------------------------------------------


@pytest.mark.slow
def test_first_exchange_is_listed_and_saved_whole(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    window.controller.params = THINKING
    question = "Why is the sky blue?\nAnswer in one sentence."
    assert rows(window) == []
    with qtbot.waitSignal(window.controller.busy_changed, timeout=5000):
        type_and_send(qtbot, window, question)
    # listed as soon as it is asked, titled from the question's first line
    assert rows(window) == ["Today", "Why is the sky blue?"]
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS) as done:
        pass
    stats = done.args[0]
    message = last_answer(window)

    conversation_id = window.controller.conversation_id
    assert conversation_id is not None
    heading, item = (window.sidebar.list.item(i) for i in range(2))
    assert heading.text() == "Today" and heading.flags() == Qt.ItemFlag.NoItemFlags
    assert item.text() == "Why is the sky blue?"  # not the reasoning
    assert item.data(ID_ROLE) == conversation_id and item.isSelected()

    conversation = window.store.conversation(conversation_id)
    assert conversation.title == "Why is the sky blue?" and conversation.title_is_auto
    assert conversation.model == window.bridge.model_name == STARTER_NAME  # not its file's name
    assert conversation.params["max_tokens"] == THINKING.max_tokens
    user, answer = window.store.visible_messages(conversation_id)
    assert (user.role, user.content, user.state) == ("user", question, "complete")
    assert answer.role == "assistant" and answer.parent_id == user.id
    assert answer.state == "complete"
    assert answer.content == message.answer and answer.content.strip()
    assert answer.reasoning == message.reasoning and len(answer.reasoning.strip()) >= 20
    assert "<think>" not in answer.content + answer.reasoning
    assert answer.reasoning_seconds > 0
    assert answer.reasoning_seconds == pytest.approx(stats.thinking_seconds)  # the engine's clock
    assert answer.reasoning_tokens == stats.n_thinking > 0
    assert answer.n_generated == stats.n_generated > answer.reasoning_tokens
    assert answer.n_prompt == stats.n_prompt > 0
    assert answer.tokens_per_second == stats.tokens_per_second > 0
    assert answer.finish_reason == stats.finish_reason in ("stop", "length")
    assert answer.model == STARTER_NAME
    assert [m.content for m in window.controller.messages] == [question, message.answer]


# -- persistence ----------------------------------------------------------------------------


@pytest.mark.slow
def test_conversation_reopens_in_a_new_window(
    open_window: Callable[..., MainWindow],
    load: Callable[..., MainWindow],
    qtbot: Any,
    ponder_home: Path,
) -> None:
    path = ponder_home / "chats.sqlite"
    first = load(open_window(ConversationStore(path)))
    first.controller.params = THINKING
    thought, _ = ask(qtbot, first, "Why is the sky blue?")
    first.controller.params = GREEDY
    ask(qtbot, first, "Say hi.")
    conversation_id = first.controller.conversation_id
    before = shown(first)
    reasoning = thought.reasoning
    answer_text = thought.answer_view.toPlainText()
    header = thought.thinking.header.text() if thought.thinking else ""
    status = thought.status.text()
    first.close()
    assert not first.bridge.client.alive
    first.store.close()

    second = open_window(ConversationStore(path))
    assert second.pages.currentWidget() is second.welcome  # nothing opens by itself
    (item,) = second.sidebar.items()
    assert item.text() == "Why is the sky blue?" and item.data(ID_ROLE) == conversation_id
    click_item(qtbot, second, item)
    assert second.pages.currentWidget() is second.chat_view
    assert second.controller.conversation_id == conversation_id
    assert second.sidebar.items()[0].isSelected()
    assert [type(w) for w in second.chat_view.messages] == [UserMessage, AssistantMessage] * 2
    assert shown(second) == before

    restored = second.chat_view.messages[1]
    assert isinstance(restored, AssistantMessage) and not restored.streaming
    pane = restored.thinking
    assert pane is not None and pane.isVisible()
    assert not pane.expanded and not pane.body.isVisible()  # collapsed
    assert pane.text().strip() == reasoning.strip()
    assert pane.header.text() == header  # "Thought for 1.2 s · 34 tokens", as it was
    assert re.match(r"Thought for [\d.]+ s · [\d,]+ tokens", pane.header.text())
    assert restored.answer_view.toPlainText() == answer_text
    assert restored.status.text() == status  # with the wait for the first token, as it was
    assert re.fullmatch(
        r"[\d,]+ tokens · [\d.]+ tokens/s · first token after [\d.]+ s", restored.status.text()
    )
    assert restored.action_bar.isVisible() and restored.continue_button.isHidden()
    hi = second.chat_view.messages[3]
    assert isinstance(hi, AssistantMessage) and hi.thinking is None
    # the reopened chat is what the model will see next
    assert [(m.role, m.content) for m in second.controller.messages] == before


# -- saving while streaming -----------------------------------------------------------------


@pytest.mark.slow
def test_partial_answer_reaches_the_database_while_it_streams(
    loaded: MainWindow, qtbot: Any
) -> None:
    window = loaded
    window.controller.params = ENDLESS
    type_and_send(qtbot, window, "Write a story about a cat.")
    message = last_answer(window)
    answer_id = message.message_id
    assert answer_id and window.store.message(answer_id).state == "streaming"
    # another connection reads what is on disk, as a new Ponder would after a kill
    disk = sqlite3.connect(f"file:{window.store.path}?mode=ro", uri=True)
    try:

        def on_disk() -> tuple[str, str]:
            row = disk.execute(
                "SELECT content, state FROM messages WHERE id = ?", (answer_id,)
            ).fetchone()
            return row[0], row[1]

        saved: list[str] = []
        for _ in range(3):
            qtbot.waitUntil(
                lambda: len(message.answer) > len(saved[-1] if saved else ""), timeout=ANSWER_MS
            )
            seen = message.answer
            qtbot.waitUntil(lambda: on_disk()[0].startswith(seen), timeout=SAVED_WITHIN_MS)  # noqa: B023
            content, state = on_disk()
            assert state == "streaming" and window.controller.busy
            saved.append(content)
        assert len(saved[0]) < len(saved[1]) < len(saved[2])
        assert saved[2].startswith(saved[0])

        with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
            window.controller.stop()
        content, state = on_disk()
        assert state == "complete" and content == message.answer
        assert window.store.message(answer_id).finish_reason == "cancelled"
    finally:
        disk.close()


# -- branches -------------------------------------------------------------------------------


@pytest.mark.slow
def test_regenerate_keeps_the_old_answer_as_a_version(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    window.controller.params = SAMPLED
    first, _ = ask(qtbot, window, "Name a fruit and say why you like it.")
    original, first_id = first.answer, first.message_id
    rendered = first.answer_view.toPlainText()
    assert first.action_bar.position.isHidden()  # one version: no ◀ 1/1 ▶

    window.controller.params = dataclasses.replace(SAMPLED, seed=2)
    with qtbot.waitSignal(window.controller.busy_changed, timeout=5000):
        click(qtbot, first.regenerate_button)
    streaming = last_answer(window)
    assert streaming is not first and streaming.streaming
    assert len(window.chat_view.messages) == 2  # in place of the old answer, not after it
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        pass
    second = last_answer(window)
    assert second is streaming and second.answer.strip()
    regenerated, second_id = second.answer, second.message_id
    assert regenerated != original
    bar = second.action_bar
    assert bar.position.isVisible() and bar.position.text() == "2/2"
    assert bar.previous.isEnabled() and not bar.next.isEnabled()
    branch = window.store.branch(window.store.message(second_id))
    assert branch.sibling_ids == (first_id, second_id)
    assert [m.content for m in window.controller.messages][1:] == [regenerated]

    click(qtbot, bar.previous)
    back = last_answer(window)
    assert back.answer == original and back.message_id == first_id
    assert back.answer_view.toPlainText() == rendered
    assert back.action_bar.position.text() == "1/2"
    assert not back.action_bar.previous.isEnabled() and back.action_bar.next.isEnabled()
    assert len(window.chat_view.messages) == 2
    assert window.store.conversation(window.controller.conversation_id).current_leaf == first_id
    assert [m.content for m in window.controller.messages][1:] == [original]

    click(qtbot, back.action_bar.next)
    again = last_answer(window)
    assert again.answer == regenerated and again.action_bar.position.text() == "2/2"


@pytest.mark.slow
def test_edited_question_makes_a_new_branch(loaded: MainWindow, qtbot: Any) -> None:
    """The question is edited in place, in its bubble: Esc cancels, Ctrl+Enter sends."""
    window = loaded
    question = "Name a fruit."
    first, _ = ask(qtbot, window, question)
    original = shown(window)
    user = window.chat_view.messages[0]
    assert isinstance(user, UserMessage) and user.edit_button.isVisible()

    click(qtbot, user.edit_button)  # cancelled with Esc
    editor = user.editor
    assert editor is not None and editor.text.hasFocus() and editor.edited() == question
    assert not user.label.isVisible() and not user.action_bar.isVisible()
    assert not window.commands.stop.isEnabled()  # Esc is the editor's, not Stop's
    qtbot.keyClick(editor.text, Qt.Key.Key_Escape)
    assert user.editor is None and user.label.isVisible() and user.action_bar.isVisible()
    click(qtbot, user.edit_button)  # unchanged: Save & send is off, Ctrl+Enter does nothing
    editor = user.editor
    assert editor is not None and not editor.save_button.isEnabled()
    qtbot.keyClick(editor.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    click(qtbot, editor.cancel_button)
    assert user.editor is None
    assert shown(window) == original and not window.controller.busy

    click(qtbot, user.edit_button)
    editor = user.editor
    assert editor is not None
    editor.text.selectAll()
    qtbot.keyClicks(editor.text, "Name a vegetable.")
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClick(editor.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    edited = window.chat_view.messages[0]
    assert isinstance(edited, UserMessage) and edited.text == "Name a vegetable."
    assert edited.action_bar.position.text() == "2/2" and edited.action_bar.isVisible()
    answer = last_answer(window)
    assert answer.answer.strip() and answer.action_bar.position.isHidden()
    assert stored(window) == shown(window)
    assert shown(window)[0] == ("user", "Name a vegetable.")
    versions = window.store.branch(window.store.message(edited.message_id))
    assert versions.count == 2 and versions.sibling_ids[0] == user.message_id

    click(qtbot, edited.action_bar.previous)
    assert shown(window) == original
    old = window.chat_view.messages[0]
    assert isinstance(old, UserMessage) and old.action_bar.position.text() == "1/2"
    assert last_answer(window).message_id == first.message_id
    assert stored(window) == original

    click(qtbot, old.action_bar.next)
    assert shown(window)[0] == ("user", "Name a vegetable.")
    assert shown(window)[1] == ("assistant", answer.answer)


# -- stop, crash, continue ------------------------------------------------------------------


@pytest.mark.slow
def test_stopped_answer_continues_in_the_same_message(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    window.controller.params = ENDLESS
    spy = ChunkSpy(window)
    type_and_send(qtbot, window, "Write a story about a cat.")
    message = last_answer(window)
    assert message.continue_button.isHidden()
    qtbot.waitUntil(lambda: len(spy.chunks) >= 8, timeout=ANSWER_MS)
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS) as stopped:
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Escape)
    assert stopped.args[0].finish_reason == "cancelled"
    assert message.status.text().startswith("Stopped")
    assert message.continue_button.isVisible()
    before = window.store.message(message.message_id)
    assert before.finish_reason == "cancelled" and before.state == "complete"
    assert before.content == message.answer and before.n_generated == stopped.args[0].n_generated
    old_text, answer_id = message.answer, message.message_id

    # a conversation keeps its own length limit: change it as the settings dialog does
    window.controller.apply_settings("", dataclasses.replace(ENDLESS, max_tokens=20))
    with qtbot.waitSignal(window.controller.busy_changed, timeout=5000):
        click(qtbot, message.continue_button)
    continued = last_answer(window)
    assert continued.streaming and continued.message_id == answer_id
    assert not continued.action_bar.isVisible()
    assert window.store.message(answer_id).state == "streaming"
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS) as done:
        pass
    stats = done.args[0]
    assert last_answer(window) is continued
    more = spy.text(continued.model.gen_id, "answer")
    assert more and continued.answer == old_text + more
    assert continued.answer_view.toPlainText().startswith(old_text.strip()[:40])

    after = window.store.message(answer_id)
    assert after.content == continued.answer and after.state == "complete"
    assert after.n_generated == before.n_generated + stats.n_generated
    assert after.finish_reason == "length"
    assert re.match(
        rf"Stopped at the length limit · {after.n_generated:,} tokens", continued.status.text()
    )
    assert continued.continue_button.isVisible()  # it can go on again
    # one answer in the chat and in the store, not a second one
    assert [role for role, _ in shown(window)] == ["user", "assistant"]
    assert stored(window) == shown(window)
    assert len(all_messages(window, window.controller.conversation_id)) == 2


@pytest.mark.slow
def test_answer_cut_by_a_crash_is_kept_and_continues(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    window.controller.params = ENDLESS
    spy = ChunkSpy(window)
    type_and_send(qtbot, window, "Write a story about a cat.")
    message = last_answer(window)
    qtbot.waitUntil(lambda: len(spy.chunks) >= 8, timeout=ANSWER_MS)
    pid = window.bridge.client.pid
    assert pid is not None
    with qtbot.waitSignals([window.bridge.failed, window.bridge.crashed], timeout=20_000):
        os.kill(pid, signal.SIGKILL)
    partial, answer_id = message.answer, message.message_id
    assert partial == spy.text(message.model.gen_id, "answer") and partial.strip()
    kept = window.store.message(answer_id)
    assert kept.state == "interrupted" and kept.content == partial
    assert "The engine stopped" in message.status.text()
    assert message.action_bar.isVisible() and message.continue_button.isVisible()

    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        click(qtbot, window.banner.reload_button)
    window.controller.apply_settings("", dataclasses.replace(ENDLESS, max_tokens=20))
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        click(qtbot, message.continue_button)
    continued = last_answer(window)
    assert continued.message_id == answer_id
    assert continued.answer.startswith(partial) and len(continued.answer) > len(partial)
    assert "⚠" not in continued.status.text()
    done = window.store.message(answer_id)
    assert done.state == "complete" and done.content == continued.answer
    assert [role for role, _ in shown(window)] == ["user", "assistant"]
    assert stored(window) == shown(window)


@pytest.mark.slow
def test_continue_is_offered_on_the_last_answer_only(loaded: MainWindow, qtbot: Any) -> None:
    """Going on with an answer that was followed up would not fit what came after it."""
    window = loaded
    window.controller.params = ENDLESS
    spy = ChunkSpy(window)
    type_and_send(qtbot, window, "Write a story about a cat.")
    first = last_answer(window)
    qtbot.waitUntil(lambda: len(spy.chunks) >= 8, timeout=ANSWER_MS)
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        window.controller.stop()
    assert first.continue_button.isVisible()
    first_id, first_text = first.message_id, first.answer

    window.controller.apply_settings("", GREEDY)
    ask(qtbot, window, "Say hi.")
    assert not first.continue_button.isVisible()
    open_chat(qtbot, window, window.controller.conversation_id)  # as stored
    reopened = window.chat_view.messages[1]
    assert isinstance(reopened, AssistantMessage) and reopened.message_id == first_id
    assert reopened.action_bar.isVisible() and not reopened.continue_button.isVisible()
    before = shown(window)
    window.controller.continue_answer(first_id)  # refused, even when asked directly
    assert not window.controller.busy and shown(window) == before
    assert window.store.message(first_id).content == first_text
    assert stored(window) == before


@pytest.mark.slow
def test_leaving_an_answer_mid_stream_keeps_it_to_continue(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    ask(qtbot, window, "Say hi.")
    hi = window.controller.conversation_id
    window.new_chat()
    window.controller.params = ENDLESS
    spy = ChunkSpy(window)
    type_and_send(qtbot, window, "Write a story about a cat.")
    story, message = window.controller.conversation_id, last_answer(window)
    answer_id = message.message_id
    qtbot.waitUntil(lambda: len(spy.chunks) >= 8, timeout=ANSWER_MS)

    ends: list[tuple[int, Any]] = []
    window.bridge.finished.connect(lambda gen_id, stats: ends.append((gen_id, stats)))
    (hi_item,) = [i for i in window.sidebar.items() if i.data(ID_ROLE) == hi]
    click_item(qtbot, window, hi_item)  # another chat, while the story streams
    assert window.controller.conversation_id == hi and not window.controller.busy
    assert window.composer.button.text() == "Send"
    kept = window.store.message(answer_id)
    assert kept.state == "interrupted"
    assert kept.content and kept.content == message.answer  # all of it, not the last save
    qtbot.waitUntil(lambda: bool(ends), timeout=ANSWER_MS)  # the engine stops the story
    assert ends[0][0] == message.model.gen_id and ends[0][1].finish_reason == "cancelled"
    # its late end changes nothing
    assert window.store.message(answer_id) == kept

    open_chat(qtbot, window, story)
    again = last_answer(window)
    assert again.answer == kept.content
    assert again.status.text().startswith("Interrupted")
    assert again.continue_button.isVisible()
    window.controller.apply_settings("", dataclasses.replace(ENDLESS, max_tokens=10))
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        click(qtbot, again.continue_button)
    done = window.store.message(answer_id)
    assert done.state == "complete" and done.content.startswith(kept.content)
    assert len(done.content) > len(kept.content)


# -- the sidebar ----------------------------------------------------------------------------


@pytest.mark.slow
def test_sidebar_search_rename_delete_and_undo(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    window.controller.params = THINKING
    ask(qtbot, window, "Why is the sky blue?")
    sky = window.controller.conversation_id
    sky_question, sky_answer = window.store.visible_messages(sky)
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    window.controller.params = GREEDY
    ask(qtbot, window, "Name a colour.")
    colour = window.controller.conversation_id
    colour_answer = window.store.visible_messages(colour)[1]
    assert rows(window) == ["Today", "Name a colour.", "Why is the sky blue?"]

    # a word that only the reasoning has (no word elsewhere starts with it: search is by prefix)
    elsewhere = words(sky_question.content + sky_answer.content + colour_answer.content)
    elsewhere += words("Name a colour.")
    only_reasoned = sorted(
        {w for w in words(sky_answer.reasoning) if len(w) >= 4}
        - {w for w in words(sky_answer.reasoning) if any(o.startswith(w) for o in elsewhere)},
        key=len,
    )
    assert only_reasoned, sky_answer
    word = only_reasoned[-1]
    (hit,) = search(qtbot, window, word)
    assert hit.data(ID_ROLE) == sky and hit.data(MESSAGE_ROLE) == sky_answer.id
    assert hit.text() == "Why is the sky blue?"
    runs = hit.data(DETAIL_ROLE)  # one line, whatever the reasoning's breaks; the match bold
    assert runs[0].text == "reasoning: " and "\n" not in plain_text(runs)
    assert [r.text.lower() for r in runs if r.bold] == [word]
    assert "[" not in plain_text(runs)
    click_item(qtbot, window, hit)
    assert window.controller.conversation_id == sky
    assert shown(window) == stored(window, sky)

    answer_word = max(words(colour_answer.content), key=len)
    hits = search(qtbot, window, answer_word)
    (colour_hit,) = [h for h in hits if h.data(MESSAGE_ROLE) == colour_answer.id]
    assert not colour_hit.data(DETAIL_ROLE)[0].text.endswith(": ")  # a message: no label
    click_item(qtbot, window, colour_hit)
    assert window.controller.conversation_id == colour
    assert shown(window) == stored(window, colour)
    assert rows(window) == [h.text() for h in hits]  # still the hits
    assert search(qtbot, window, "zqxjv") == [] and rows(window) == ["No matches"]
    clear_search(qtbot, window)
    assert rows(window) == ["Today", "Name a colour.", "Why is the sky blue?"]

    window.sidebar.rename(sky, "  Blue   sky ")
    assert rows(window) == ["Today", "Name a colour.", "Blue sky"]
    assert window.store.conversation(sky).title == "Blue sky"
    assert not window.store.conversation(sky).title_is_auto

    # deleting the open chat clears it; Undo brings it back and opens it
    window.open_conversation(sky)
    window.sidebar.delete(sky)
    assert rows(window) == ["Today", "Name a colour."]
    assert window.controller.conversation_id is None and window.chat_view.messages == []
    assert window.sidebar.undo_bar.isVisible()
    assert window.sidebar.undo_label.text() == "Deleted “Blue sky”"
    with pytest.raises(KeyError):
        window.store.conversation(sky)
    assert search(qtbot, window, word) == []
    clear_search(qtbot, window)
    click(qtbot, window.sidebar.undo_button)
    assert rows(window) == ["Today", "Name a colour.", "Blue sky"]
    assert not window.sidebar.undo_bar.isVisible()
    assert window.controller.conversation_id == sky
    assert shown(window) == stored(window, sky) and len(shown(window)) == 2

    # deleting another chat leaves the open one; past the undo time it is gone for good
    window.sidebar.delete(colour)
    assert rows(window) == ["Today", "Blue sky"]
    assert window.controller.conversation_id == sky and len(shown(window)) == 2
    assert window.store.message(colour_answer.id).content  # still there, for Undo
    window.sidebar._undo_timer.timeout.emit()
    assert not window.sidebar.undo_bar.isVisible()
    with pytest.raises(KeyError):
        window.store.message(colour_answer.id)
    count = "SELECT COUNT(*) FROM conversations WHERE id = ?"
    assert window.store._db.execute(count, (colour,)).fetchone()[0] == 0
    click(qtbot, window.sidebar.undo_button)  # nothing left to undo
    assert rows(window) == ["Today", "Blue sky"]
    assert [h.data(ID_ROLE) for h in search(qtbot, window, word)] == [sky]


# -- export and import ----------------------------------------------------------------------


@pytest.mark.slow
def test_export_and_import(loaded: MainWindow, qtbot: Any, tmp_path: Path) -> None:
    window = loaded
    window.controller.params = THINKING
    message, _ = ask(qtbot, window, "Why is the sky blue?")
    original = window.controller.conversation_id
    assert original is not None
    question, answer = window.store.visible_messages(original)
    reasoning = answer.reasoning.strip()

    json_path = window.sidebar.export(original, "json", str(tmp_path / "sky.json"))
    assert json_path == tmp_path / "sky.json"
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["format"] == "ponder-conversation" and len(data["messages"]) == 2
    window.import_chat(str(json_path))
    copy = window.controller.conversation_id
    assert copy is not None and copy != original
    assert not window.banner.isVisible()
    assert rows(window) == ["Today", "Why is the sky blue?", "Why is the sky blue?"]
    assert [i.data(ID_ROLE) for i in window.sidebar.items() if i.isSelected()] == [copy]

    def fields(message: StoredMessage) -> dict[str, Any]:
        values = dataclasses.asdict(message)
        for key in ("id", "conversation_id", "parent_id"):
            del values[key]
        return values

    imported = window.store.visible_messages(copy)
    assert [fields(m) for m in imported] == [fields(question), fields(answer)]
    assert imported[1].parent_id == imported[0].id
    theirs, ours = window.store.conversation(copy), window.store.conversation(original)
    assert (theirs.title, theirs.model, theirs.params) == (ours.title, ours.model, ours.params)
    assert shown(window) == [("user", question.content), ("assistant", message.answer)]
    pane = last_answer(window).thinking
    assert pane is not None and pane.text().strip() == reasoning

    markdown = window.sidebar.export(original, "md", str(tmp_path / "sky.md"))
    text = markdown.read_text(encoding="utf-8")
    assert text.startswith("# Why is the sky blue?\n")
    assert "## You\n\nWhy is the sky blue?\n" in text
    assert re.search(r"<details><summary>Thought for \d+ s</summary>\n\n", text)
    assert reasoning in text and "</details>" in text
    assert answer.content in text
    assert text.index(reasoning) < text.index("</details>") < text.rindex(answer.content)
    plain = window.sidebar.export(original, "txt", str(tmp_path / "sky.txt"))
    text = plain.read_text(encoding="utf-8")
    assert "<details>" not in text and reasoning not in text
    assert "## Assistant" in text and answer.content in text

    # what is not an export changes nothing and says so in the banner
    broken = dict(data, messages=[dict(data["messages"][0], role=None)])
    for name, content in [
        ("notes.json", "these are notes"),
        ("other.json", json.dumps({"title": "not ours", "messages": []})),
        ("list.json", "[1, 2]"),
        ("broken.json", json.dumps(broken)),
    ]:
        bad = tmp_path / name
        bad.write_text(content, encoding="utf-8")
        before = rows(window)
        window.import_chat(str(bad))
        assert window.banner.isVisible(), name
        assert window.banner.label.text().startswith("This chat can't be imported. ")
        assert [c.id for c in window.store.conversations()] == [copy, original]
        assert rows(window) == before and window.controller.conversation_id == copy
        click(qtbot, window.banner.close_button)
    window.import_chat(str(tmp_path / "missing.json"))
    assert "missing.json" in window.banner.label.text()


# -- keyboard -------------------------------------------------------------------------------


@pytest.mark.slow
def test_shortcuts(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    window.controller.params = THINKING
    message, _ = ask(qtbot, window, "Why is the sky blue?")
    assert message.reasoning.strip() and message.answer.strip()
    edit = window.composer.edit
    ctrl = Qt.KeyboardModifier.ControlModifier

    QGuiApplication.clipboard().clear()
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_C, ctrl | Qt.KeyboardModifier.ShiftModifier)
    assert QGuiApplication.clipboard().text() == message.answer  # the answer, not its reasoning

    qtbot.keyClick(edit, Qt.Key.Key_F, ctrl)
    assert window.sidebar.search.hasFocus()

    qtbot.keyClick(window.sidebar.search, Qt.Key.Key_N, ctrl)
    assert window.controller.conversation_id is None and window.chat_view.messages == []
    assert not [i for i in window.sidebar.items() if i.isSelected()]
    assert edit.hasFocus()

    qtbot.keyClick(edit, Qt.Key.Key_F1)
    (shortcuts,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, ShortcutsDialog)]
    assert shortcuts.isVisible() and shortcuts.windowTitle() == "Keyboard shortcuts"
    table = shortcuts.table
    listed = [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]
    assert listed == shortcut_rows(window.commands)  # made from the actions themselves
    assert ("Ctrl+Shift+R", "Open or close the last answer's reasoning") in listed
    assert ("Ctrl+Q", "Quit Ponder") in listed  # Qt's standard Quit has no key on Windows
    shortcuts.close()


# -- failures -------------------------------------------------------------------------------


@pytest.mark.slow
def test_failed_question_goes_back_to_the_composer(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = load(open_window(), n_ctx=256)
    assert window.bridge.summary.n_ctx == 256
    too_long = "lorem ipsum " * 200
    edit = window.composer.edit

    # the first question of a new chat: nothing of it is left in the store or the sidebar
    with qtbot.waitSignal(window.bridge.failed, timeout=ANSWER_MS):
        type_and_send(qtbot, window, too_long)
    assert edit.toPlainText() == too_long.strip()
    assert last_answer(window).status.text().startswith("⚠ The conversation is too long:")
    assert window.store.conversations() == []
    assert window.store._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    assert rows(window) == []
    assert not window.controller.busy and window.composer.button.isEnabled()

    # later in a chat: the question goes back, the exchange before it stays
    edit.clear()
    ask(qtbot, window, "Say hi.")
    conversation_id = window.controller.conversation_id
    before = stored(window)
    assert [role for role, _ in before] == ["user", "assistant"]
    with qtbot.waitSignal(window.bridge.failed, timeout=ANSWER_MS):
        type_and_send(qtbot, window, too_long)
    assert edit.toPlainText() == too_long.strip()
    assert window.controller.conversation_id == conversation_id
    assert stored(window) == before
    assert len(all_messages(window, conversation_id)) == 2
    assert window.store.conversation(conversation_id).title == "Say hi."
    assert rows(window) == ["Today", "Say hi."]
