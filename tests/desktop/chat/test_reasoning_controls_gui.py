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
    from desktop.app import load_theme
    from desktop.chat.thinking_pane import ThinkingPane

    for text in ("One line.", "Two\nlines.\n\n", "Three\nshort\nlines."):
        pane = ThinkingPane()
        pane.setStyleSheet(load_theme())
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
