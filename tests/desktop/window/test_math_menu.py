"""View → Render math: every answer shown follows at once, and the choice outlives the window."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from desktop.chat.formulas import shared_formulas
from desktop.chat.messages import AssistantMessage
from desktop.engines.bridge import EngineBridge
from desktop.settings.view import load_view_settings
from desktop.window.main_window import MainWindow
from model_runtime.conversations.records import StoredMessage
from model_runtime.paths import config_dir


@pytest.fixture
def make_window(qtbot: Any) -> Iterator[Any]:
    bridges: list[EngineBridge] = []

    def make() -> MainWindow:
        bridges.append(EngineBridge())
        window = MainWindow(bridges[-1])
        qtbot.addWidget(window)
        return window

    yield make
    for bridge in bridges:
        bridge.shutdown()
    shared_formulas().set_enabled(True)


def test_render_math_switches_every_answer_and_is_remembered(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    action = window.commands.math
    assert action.isCheckable() and action.isChecked()
    assert action in window.menuBar().actions()[2].menu().actions()  # File, Chat, View
    message = AssistantMessage()
    window.chat_view.append(message)
    message.show_stored(StoredMessage(1, 1, None, "assistant", "So $\\frac{1}{2}$ it is."))
    view = message.answer_view
    qtbot.waitUntil(lambda: "\ufffc" in view.toPlainText())
    action.trigger()  # off
    assert not shared_formulas().enabled and not load_view_settings().math
    qtbot.waitUntil(lambda: "\\frac{1}{2}" in view.toPlainText())
    assert "\ufffc" not in view.toPlainText()

    again = make_window()  # the next start shows the source too
    assert not again.commands.math.isChecked() and not shared_formulas().enabled
    again.commands.math.trigger()  # on
    assert shared_formulas().enabled and load_view_settings().math
    qtbot.waitUntil(lambda: "\ufffc" in view.toPlainText())


def test_render_math_that_cannot_be_saved_still_switches_and_says_so(
    qtbot: Any, make_window: Any
) -> None:
    window = make_window()
    window.show()
    (config_dir() / "view.tmp").mkdir(parents=True)  # where the file is written first: taken
    window.commands.math.trigger()  # off
    assert not shared_formulas().enabled  # it applies now
    assert window.banner.isVisibleTo(window)
    assert "until Ponder closes" in window.banner.label.text()
    assert load_view_settings().math  # nothing half-written: the saved choice is unchanged
    assert not (config_dir() / "view.json").exists()
