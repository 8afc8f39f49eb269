"""Answer now, the thinking budget and the pane's extras, in the real window on the real model."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from desktop.chat.conversation_settings import ConversationSettings
from desktop.chat.messages import AssistantMessage
from desktop.engines.bridge import EngineBridge
from desktop.window import main_window
from desktop.window.main_window import MainWindow
from model_runtime.chat.generation import GenerationParams, LoadRequest
from model_runtime.chat.thinking import ThinkingPolicy
from model_runtime.conversations.params import params_from_dict, params_to_dict

TIMEOUT_MS = 120_000


@pytest.fixture
def r1_window(qtbot: Any, smollm2_r1: Path, monkeypatch: pytest.MonkeyPatch):
    """The window with SmolLM2 under an R1 template: it thinks and never stops by itself."""
    monkeypatch.setattr(main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=1))
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.bridge.loaded, timeout=TIMEOUT_MS):
        window.load_model(str(smollm2_r1))
    yield window
    window.close()


def last_answer(window: MainWindow) -> AssistantMessage:
    message = window.chat_view.messages[-1]
    assert isinstance(message, AssistantMessage)
    return message


@pytest.mark.slow
def test_answer_now_ends_the_thinking_and_an_answer_follows(r1_window: MainWindow, qtbot) -> None:
    window = r1_window
    window.controller.params = GenerationParams(
        max_tokens=300, temperature=0.8, seed=3, thinking=ThinkingPolicy(loop_policy="off")
    )
    with qtbot.waitSignal(window.controller.thinking_changed, timeout=TIMEOUT_MS) as entered:
        window.send("Why do cats purr?")
    assert entered.args == [True]
    assert window.composer.answer_now.isVisibleTo(window)
    qtbot.waitUntil(lambda: len(last_answer(window).reasoning) > 60, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.controller.answer_finished, timeout=TIMEOUT_MS) as done:
        window.composer.answer_now.click()
    stats = done.args[0]
    assert stats.thinking_ended is not None and stats.thinking_ended.reason == "asked"
    message = last_answer(window)
    assert message.answer.strip()  # the model answered after its reasoning was closed
    assert "answered on request" in message.thinking.header.text()
    assert not window.composer.answer_now.isVisibleTo(window)
    stored = window.store.message(message.message_id)
    assert stored.content == message.answer and stored.reasoning == message.reasoning


@pytest.mark.slow
def test_budget_from_the_settings_ends_thinking(r1_window: MainWindow, qtbot) -> None:
    window = r1_window
    dialog = ConversationSettings("", GenerationParams(max_tokens=200, seed=2))
    qtbot.addWidget(dialog)
    dialog.budget.setCurrentText("1,000 tokens")
    params = dialog.result_params()
    assert params.thinking.budget_tokens == 1000
    window.controller.apply_settings("", params)
    # a smaller budget than the presets, the same path
    window.controller.params = GenerationParams(
        max_tokens=200, seed=2, thinking=ThinkingPolicy(budget_tokens=30)
    )
    with qtbot.waitSignal(window.controller.answer_finished, timeout=TIMEOUT_MS) as done:
        window.send("Name a river.")
    stats = done.args[0]
    assert stats.thinking_ended.reason == "budget_tokens"
    pane = last_answer(window).thinking
    assert "budget reached after 30 tokens" in pane.header.text()


def reopened(window: MainWindow) -> AssistantMessage:
    """The last answer as it shows after going to another chat and coming back."""
    conversation_id = window.controller.conversation_id
    assert conversation_id is not None
    window.new_chat()
    window.open_conversation(conversation_id)
    return last_answer(window)


@pytest.mark.slow
def test_answer_now_on_a_saved_answer_that_is_all_thinking(r1_window: MainWindow, qtbot) -> None:
    window = r1_window
    window.controller.params = GenerationParams(
        max_tokens=40, temperature=0.0, thinking=ThinkingPolicy(loop_policy="off")
    )
    with qtbot.waitSignal(window.controller.answer_finished, timeout=TIMEOUT_MS):
        window.send("What is the sum of the first ten odd numbers?")
    message = last_answer(window)
    assert message.reasoning and not message.answer  # the length limit came first
    assert message.thinking is not None and "no answer yet" in message.thinking.header.text()
    assert message.answer_now_button.isVisibleTo(message)
    assert message.continue_button.isVisibleTo(message)

    message = reopened(window)  # the buttons come back with the saved answer
    assert "no answer yet" in message.thinking.header.text()
    assert message.answer_now_button.isVisibleTo(message)
    window.controller.apply_settings("", GenerationParams(max_tokens=120, temperature=0.0))
    folded = []  # the pane's clock stops when the engine ends the thinking, not later
    window.bridge.thinking_ended.connect(
        lambda *_: folded.append(last_answer(window).thinking.thinking)
    )
    answer_id = message.message_id
    with qtbot.waitSignal(window.controller.answer_finished, timeout=TIMEOUT_MS) as done:
        message.answer_now_button.click()
    stats = done.args[0]
    assert stats.thinking_ended.reason == "asked" and stats.thinking_ended.at_token == 0
    assert folded == [False]
    message = last_answer(window)  # the same answer, continued in place
    assert message.message_id == answer_id and message.answer.strip()
    assert [m.role for m in window.store.visible_messages(window.controller.conversation_id)] == [
        "user",
        "assistant",
    ]
    header = message.thinking.header.text()
    assert "answered on request after 40 tokens" in header and "no answer yet" not in header
    assert message.answer_now_button.isHidden()
    assert "first token after" in message.status.text()

    again = reopened(window)  # how the thinking ended and the first token are kept
    assert "answered on request after 40 tokens" in again.thinking.header.text()
    assert again.status.text() == message.status.text()
    assert again.answer_now_button.isHidden()


@pytest.mark.slow
def test_a_continued_thinking_keeps_to_the_budget_it_started_with(
    r1_window: MainWindow, qtbot
) -> None:
    window = r1_window
    window.controller.params = GenerationParams(
        max_tokens=40, temperature=0.0, thinking=ThinkingPolicy(loop_policy="off")
    )
    with qtbot.waitSignal(window.controller.answer_finished, timeout=TIMEOUT_MS):
        window.send("What is the sum of the first ten odd numbers?")
    message = last_answer(window)
    assert not message.answer and message.model.figures.reasoning_tokens == 40
    window.controller.apply_settings(  # as the settings dialog does: saved with the chat
        "",
        GenerationParams(
            max_tokens=200, temperature=0.0, thinking=ThinkingPolicy(budget_tokens=50)
        ),
    )
    with qtbot.waitSignal(window.controller.answer_finished, timeout=TIMEOUT_MS) as done:
        message.continue_button.click()
    ended = done.args[0].thinking_ended
    assert ended.reason == "budget_tokens" and ended.at_token == 10  # 40 before, 10 now
    assert "budget reached after 50 tokens" in last_answer(window).thinking.header.text()


@pytest.mark.slow
def test_a_looping_answer_is_stopped_and_says_so(r1_window: MainWindow, qtbot) -> None:
    window = r1_window
    # after a short thinking it writes "The answer is 55." over and over at temperature 0
    window.controller.params = GenerationParams(
        max_tokens=800, temperature=0.0, thinking=ThinkingPolicy(budget_tokens=40)
    )
    with qtbot.waitSignal(window.controller.answer_finished, timeout=TIMEOUT_MS) as done:
        window.send("What is the sum of the first ten odd numbers?")
    assert done.args[0].finish_reason == "loop" and done.args[0].n_generated < 600
    message = last_answer(window)
    status = message.status.text()
    assert status.startswith("Stopped: the answer was repeating itself (a span of ")
    assert "budget reached after 40 tokens" in message.thinking.header.text()
    again = reopened(window)
    assert again.status.text() == status
    assert "budget reached after 40 tokens" in again.thinking.header.text()
    assert window.store.message(again.message_id).finish_reason == "loop"


def test_pane_find_and_copy(qtbot) -> None:
    from PySide6.QtGui import QGuiApplication

    from desktop.chat.thinking_pane import ThinkingPane

    pane = ThinkingPane()
    qtbot.addWidget(pane)
    pane.append("First the apples. Then the pears. Then the apples again.\n")
    pane.finish(3.0, 12)
    assert pane.header.text() == "Thought for 3.0 s · 12 tokens"  # the speed is said once, below
    pane.find_box.setText("apples")
    assert pane.find_next() and pane.expanded
    first = pane.body.textCursor().selectionStart()
    assert pane.find_next()
    assert pane.body.textCursor().selectionStart() > first
    assert pane.find_next()  # wraps around
    assert pane.body.textCursor().selectionStart() == first
    pane.copy_reasoning()
    assert QGuiApplication.clipboard().text().startswith("First the apples")


def test_the_pane_is_as_tall_as_its_reasoning_with_the_theme(qtbot) -> None:
    """No blank band under the text: the theme's border and padding are counted once."""
    from desktop.chat.thinking_pane import ThinkingPane
    from desktop.common.colours import LIGHT
    from desktop.common.theme import read_template, style_sheet

    for text in ("One line.", "Two\nlines.\n\n", "Three\nshort\nlines."):
        pane = ThinkingPane()
        pane.setStyleSheet(style_sheet(read_template(), LIGHT, 9.0))
        qtbot.addWidget(pane)
        pane.resize(600, 400)
        pane.show()
        pane.append(text)
        pane.finish(1.0, 3)
        pane.set_expanded(True)
        qtbot.waitUntil(lambda p=pane: p.body.isVisible())
        body = pane.body
        text_height = body.document().size().height()
        assert body.viewport().height() == int(text_height), text
        assert body.height() - body.viewport().height() < 16  # padding, not a line


def test_reasoning_settings_are_stored_with_the_conversation() -> None:
    params = GenerationParams(
        thinking=ThinkingPolicy(budget_seconds=120.0, loop_policy="stop"), keep_reasoning=True
    )
    back = params_from_dict(params_to_dict(params), GenerationParams())
    assert back.thinking == params.thinking and back.keep_reasoning
    broken = params_from_dict({"loop_policy": "explode", "budget_tokens": -5}, GenerationParams())
    assert broken.thinking == ThinkingPolicy()
