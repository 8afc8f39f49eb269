"""A theme switch on a long chat, in the real window: the messages on screen take the new theme
at once, the others one message per step of the render queue, nearest first, or as soon as they
scroll into sight; in the end every message has it, its answer's code boxes included.

No timings: the bound is counted. A spy on ThemeManager.restyle records which messages are
restyled during the switch itself and in each step of the chat view's job in the render queue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QWidget

from desktop.chat.messages import AssistantMessage, UserMessage
from desktop.chat.render_queue import RenderQueue
from desktop.chat.view import ChatView
from desktop.common.colours import DARK, LIGHT, Colours
from desktop.window.main_window import MainWindow
from model_runtime.chat.answer import AnswerFigures
from model_runtime.conversations.store import ConversationStore, default_store

TURNS = 32  # 64 messages
ANSWER = """Here is the function, with a quote and a [link](https://example.org):

```python
def fahrenheit(celsius: float) -> float:
    return celsius * 9 / 5 + 32  # the usual formula
```

> Check it with 100 °C: 212 °F.
"""
REASONING = "Multiply by nine fifths, then add thirty-two; check with boiling water.\n" * 3
Role = QPalette.ColorRole


@pytest.fixture
def long_chat() -> Iterator[tuple[ConversationStore, int]]:
    store = default_store()
    chat = store.create_conversation(model="Some model")
    for turn in range(TURNS):
        store.add_message(chat.id, "user", f"Question {turn}: how do I convert °C to °F?")
        store.add_message(
            chat.id,
            "assistant",
            ANSWER,
            reasoning=REASONING,
            figures=AnswerFigures(reasoning_seconds=2.5, reasoning_tokens=40, n_generated=90),
        )
    yield store, chat.id
    store.close()


@pytest.fixture
def window(
    open_window: Callable[..., MainWindow], qtbot: Any, long_chat: tuple[ConversationStore, int]
) -> MainWindow:
    """The long chat open in a light window, every message built, scrolled to the end."""
    store, chat_id = long_chat
    window = open_window(store)
    window.theme.install()
    window.theme.use_light()
    window.resize(1180, 820)
    window.open_conversation(chat_id)
    view = window.chat_view
    while view.earlier_button.isVisible():  # as if the person scrolled up to the first question
        view.earlier_button.click()
    assert len(view.messages) == 2 * TURNS
    view.scroll_to_end()
    qtbot.waitUntil(lambda: all(rendered_in(m, LIGHT) for m in view.messages), timeout=20_000)
    qtbot.waitUntil(lambda: view.verticalScrollBar().value() == view.verticalScrollBar().maximum())
    return window


class RestyleSpy:
    """Which messages ThemeManager.restyle is given, and when: during the switch (step None) or
    in which step of the chat view's job in the render queue."""

    def __init__(self, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[QWidget, int | None]] = []
        self.step: int | None = None
        self.steps = 0
        restyle, view = window.theme.restyle, window.chat_view

        def spy(root: QWidget) -> list[QWidget]:
            self.calls.append((root, self.step))
            return restyle(root)

        monkeypatch.setattr(window.theme, "restyle", spy)
        add = RenderQueue.add

        def counted_add(queue: RenderQueue, owner: Any, step: Callable[[], bool]) -> None:
            if owner is view:
                step = self._counted(step)
            add(queue, owner, step)

        monkeypatch.setattr(RenderQueue, "add", counted_add)

    def _counted(self, step: Callable[[], bool]) -> Callable[[], bool]:
        def counted() -> bool:
            self.steps += 1
            self.step = self.steps
            try:
                return step()
            finally:
                self.step = None

        return counted

    def at_switch(self, messages: list[QWidget]) -> list[QWidget]:
        return [m for m, step in self.calls if step is None and m in messages]

    def per_step(self, messages: list[QWidget]) -> Counter[int]:
        return Counter(step for m, step in self.calls if step is not None and m in messages)


def on_screen(view: ChatView, message: QWidget) -> bool:
    where = QRect(message.mapTo(view.viewport(), QPoint(0, 0)), message.size())
    return where.intersects(view.viewport().rect())


def styled_in(message: QWidget, c: Colours) -> bool:
    """The message's widgets have the colours the style sheet gives them in that theme."""
    if isinstance(message, UserMessage):
        return message.label.palette().color(Role.WindowText).name() == c.text
    assert isinstance(message, AssistantMessage) and message.thinking is not None
    return (
        message.status.palette().color(Role.WindowText).name() == c.muted
        and message.thinking.body.palette().color(Role.Base).name() == c.raised
        and message.answer_view.palette().color(Role.Text).name() == c.text
    )


def rendered_in(message: QWidget, c: Colours) -> bool:
    """An answer's HTML (its code box) is in that theme's colours."""
    if not isinstance(message, AssistantMessage):
        return True
    html = message.answer_view.toHtml()
    other = DARK if c is LIGHT else LIGHT
    return not message.answer_view.rendering and c.code_bg in html and other.code_bg not in html


def test_a_switch_restyles_the_messages_on_screen_at_once_and_one_per_step_after(
    window: MainWindow, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = window.chat_view
    messages = list(view.messages)
    shown = [m for m in messages if on_screen(view, m)]
    assert 0 < len(shown) < len(messages) // 4
    spy = RestyleSpy(window, monkeypatch)

    window.commands.theme_dark.trigger()

    # (a) what is on screen has the dark theme's colours before the event loop runs again
    assert all(styled_in(m, DARK) for m in shown)
    # (c) and the switch touched only that: the others keep the light look for now
    assert spy.at_switch(messages) == shown
    assert all(styled_in(m, LIGHT) for m in messages if m not in shown)
    assert len(view.restyle_waiting) == len(messages) - len(shown)
    # the answers on screen render again first, in parts of bounded cost (the render queue's)
    qtbot.waitUntil(lambda: all(rendered_in(m, DARK) for m in shown), timeout=5000)

    # (b) in the end every message is in the dark theme, its answer's code box too
    qtbot.waitUntil(lambda: not view.restyle_waiting, timeout=30_000)
    qtbot.waitUntil(lambda: all(rendered_in(m, DARK) for m in messages), timeout=30_000)
    assert all(styled_in(m, DARK) for m in messages)

    # (c) each step restyled one message, and each message was restyled once
    per_step = spy.per_step(messages)
    assert set(per_step.values()) == {1}
    assert len(per_step) == len(messages) - len(shown)
    assert Counter(m for m, _ in spy.calls if m in messages) == Counter(messages)
    # nearest the screen first: the steps go up from the messages shown at the bottom
    order = [m for m, step in spy.calls if step is not None and m in messages]
    assert order == list(reversed(messages[: messages.index(shown[0])]))


def test_a_message_scrolled_into_sight_before_its_turn_is_restyled_before_it_is_painted(
    window: MainWindow, qtbot: Any
) -> None:
    view = window.chat_view
    window.theme.zoom_in()  # the chat's text size outlives polishing
    label_size = window.theme.chat.font(1.15).pointSizeF()
    window.theme.use_dark()
    bar = view.verticalScrollBar()
    bar.setValue(0)  # at once, before any step of the render queue

    top = [m for m in view.messages if on_screen(view, m)]
    assert top and top[0] is view.messages[0]
    assert all(styled_in(m, DARK) for m in top)
    assert view.restyle_waiting and not set(view.restyle_waiting) & set(top)

    qtbot.waitUntil(lambda: not view.restyle_waiting, timeout=30_000)
    qtbot.waitUntil(lambda: all(rendered_in(m, DARK) for m in view.messages), timeout=30_000)
    assert all(styled_in(m, DARK) for m in view.messages)
    labels = [m.label for m in view.messages if isinstance(m, UserMessage)]
    assert {label.font().pointSizeF() for label in labels} == {label_size}

    window.theme.use_light()  # and back, the same way
    qtbot.waitUntil(lambda: not view.restyle_waiting, timeout=30_000)
    qtbot.waitUntil(lambda: all(rendered_in(m, LIGHT) for m in view.messages), timeout=30_000)
    assert all(styled_in(m, LIGHT) for m in view.messages)
