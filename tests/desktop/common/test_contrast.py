"""Readable by measure: every text of the main window (chat, sidebar, status bar, welcome page,
the model picker's list), the model manager, settings, the load panel, the first-run welcome and
About, in both themes, meets WCAG's contrast ratio (4.5:1 for body text, 3:1 for large text),
computed from the colours Qt actually applies (tests/desktop/contrast.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QTabWidget, QWidget

from desktop import app as desktop_app
from desktop.chat.messages import AssistantMessage
from desktop.common.colours import DARK, LIGHT, Colours, current
from desktop.common.theme import release_theme_manager, theme_manager
from desktop.dialogs.about import AboutDialog
from desktop.dialogs.welcome import FirstRunDialog
from desktop.window.main_window import MainWindow
from model_runtime.chat.answer import AnswerFigures
from model_runtime.conversations.store import ConversationStore, default_store
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from tests.desktop.contrast import Checker, check_window

MIB, GIB = 1024**2, 1024**3
SMALL = HardwareInfo(CpuInfo("Simulated small CPU", 1, 1), 2 * GIB, 1000 * MIB, system="Sim")
ANSWER = """Here is how to convert **Celsius**, with `inline code` and a [link](https://example.org).

```python
def to_fahrenheit(celsius: float) -> float:
    \"\"\"Convert a temperature.\"\"\"
    return celsius * 9 / 5 + 32  # the usual formula

print(to_fahrenheit(100), "done")
```

> A quote: water boils at 100 °C.

| Celsius | Fahrenheit |
| ------- | ---------- |
| 0       | 32         |

### A heading

1. a list
2. of things
"""
REASONING = "The user wants a conversion. F = C × 9/5 + 32; 100 gives 212."


@pytest.fixture(params=["light", "dark"])
def colours(request: pytest.FixtureRequest) -> Colours:
    theme = theme_manager()
    theme.install()
    theme.set_theme(request.param)
    return current()


@pytest.fixture
def store() -> Iterator[ConversationStore]:
    store = default_store()
    chat = store.create_conversation(model="Old model", model_ref="file:/gone/Old-Q4_0.gguf")
    store.add_message(chat.id, "user", "How do I convert Celsius to Fahrenheit in Python?")
    store.add_message(
        chat.id,
        "assistant",
        ANSWER,
        reasoning=REASONING,
        figures=AnswerFigures(reasoning_seconds=3.2, reasoning_tokens=48, n_generated=120),
    )
    yield store
    store.close()


def assert_readable(*checkers: Checker, at_least: int = 5) -> None:
    findings = [str(f) for checker in checkers for f in checker.findings]
    assert findings == []
    assert [c.checked for c in checkers if c.checked < at_least] == []


def each_tab(qtbot: Any, window: QWidget, tabs: QTabWidget) -> list[Checker]:
    checked = []
    for index in range(tabs.count()):
        tabs.setCurrentIndex(index)
        qtbot.wait(20)  # painted
        checked.append(check_window(window))
    return checked


@pytest.mark.qt_log_ignore("does not support grabbing the keyboard")  # the open drop-down
def test_the_main_window_reads_in_both_themes(
    open_window: Callable[..., MainWindow],
    qtbot: Any,
    colours: Colours,
    store: ConversationStore,
) -> None:
    window = open_window(store, hardware=SMALL)
    window.resize(1180, 820)
    chat_id = store.conversations()[0].id
    window.open_conversation(chat_id)
    answer = next(m for m in window.chat_view.messages if isinstance(m, AssistantMessage))
    qtbot.waitUntil(lambda: not answer.answer_view.rendering)
    assert answer.thinking is not None
    answer.thinking.set_expanded(True)
    window.banner.show_error("Loaded with safer settings", "The first try failed.")
    window.status.show_plan("Auto-tuned: context 8,192 · 2 threads · CPU only", "it fits")
    qtbot.wait(50)
    assert window.picker.note.isVisible()  # "This chat was answered by …"
    chat = check_window(window)
    html = answer.answer_view.toHtml()
    assert colours.code_bg in html
    window.pages.setCurrentWidget(window.welcome)
    qtbot.wait(20)
    welcome = check_window(window)

    picker = window.picker
    picker.fill_menu()
    picker.menu.popup(picker.button.mapToGlobal(QPoint(0, picker.button.height())))
    qtbot.waitExposed(picker.menu)
    menu = check_window(picker.menu)
    picker.menu.hide()
    assert_readable(chat, welcome, at_least=3)
    assert_readable(menu, at_least=2)
    assert chat.checked > 40  # the answer's runs of text, the sidebar, the status bar, …


def test_the_dialogs_read_in_both_themes(
    open_window: Callable[..., MainWindow],
    qtbot: Any,
    colours: Colours,
    monkeypatch: pytest.MonkeyPatch,
    smollm2: Path,
) -> None:
    monkeypatch.setenv("PONDER_OFFLINE", "1")  # the model manager asks no Hub
    window = open_window(hardware=SMALL)

    with qtbot.waitSignal(window.loader.refused, timeout=60_000):
        window.load_starter()  # does not fit this machine: the load panel says why
    panel = window.load_panel
    qtbot.waitExposed(panel)
    load_panel = check_window(panel)
    panel.hide()

    window.show_model_manager()
    manager = window.model_manager
    assert manager is not None
    qtbot.waitExposed(manager)
    qtbot.waitUntil(lambda: manager.hardware is not None)
    models = each_tab(qtbot, manager, manager.tabs)
    manager.close()
    manager.tasks.cancel_all()
    assert manager.tasks.wait(15)

    settings = window.show_settings()
    qtbot.waitExposed(settings)
    settings_tabs = each_tab(qtbot, settings, settings.tabs)
    settings.close()

    welcome = FirstRunDialog(window.hardware, starter_available=True, parent=window)
    qtbot.addWidget(welcome)
    welcome.show()
    qtbot.waitExposed(welcome)
    first_run = check_window(welcome)
    welcome.close()

    about = AboutDialog(window.hardware, window)
    qtbot.addWidget(about)
    about.show()
    qtbot.waitExposed(about)
    tabs = about.findChild(QTabWidget)
    assert tabs is not None
    about_tabs = each_tab(qtbot, about, tabs)
    about.close()
    assert_readable(load_panel, *models, *settings_tabs, first_run, *about_tabs, at_least=2)


def test_a_dark_system_gets_the_dark_theme_and_its_answers_stay_readable(
    qtbot: Any, qapp: QApplication, store: ConversationStore
) -> None:
    """As under GTK_THEME=Adwaita:dark: Qt takes the system's dark palette. Ponder's start
    (create_application) follows it, so the chat is dark too and its answers can be read."""
    before = QPalette(qapp.palette())
    system = QPalette(before)
    for role, colour in (
        (QPalette.ColorRole.Window, "#323232"),
        (QPalette.ColorRole.WindowText, "#eeeeee"),
        (QPalette.ColorRole.Base, "#2b2b2b"),
        (QPalette.ColorRole.Text, "#eeeeee"),
        (QPalette.ColorRole.Button, "#3a3a3a"),
        (QPalette.ColorRole.ButtonText, "#eeeeee"),
    ):
        system.setColor(role, QColor(colour))
    qapp.setPalette(system)
    try:
        desktop_app.create_application()
        window = desktop_app.create_window()
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.open_conversation(window.store.conversations()[0].id)
        answer = next(m for m in window.chat_view.messages if isinstance(m, AssistantMessage))
        qtbot.waitUntil(lambda: not answer.answer_view.rendering)
        assert current() == DARK and current() != LIGHT
        assert_readable(check_window(window))
        window.close()
        window.bridge.shutdown()
        window.store.close()
    finally:
        release_theme_manager()
        qapp.setPalette(before)
