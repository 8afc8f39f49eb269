"""Every menu action and every button of the main window, triggered once on the real model,
and every entry of a chat row's menu: none raises, and each one that opens a dialog opens it
(dialogs are closed as they show)."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QApplication, QFileDialog, QMenu, QWidget

import desktop.window.main_window as main_window
from desktop.chat.sidebar import ID_ROLE
from desktop.window.actions import ACTIONS
from desktop.window.main_window import MainWindow
from model_runtime.chat.answer import AnswerFigures
from model_runtime.chat.generation import GenerationParams, LoadRequest

LOAD_MS = 60_000
IDLE_MS = 60_000
SHORT = GenerationParams(max_tokens=12, temperature=0.0, seed=1)

# What each action opens: a dialog's class, or "file dialog"; actions not named open nothing.
OPENS = {
    "open": "file dialog",
    "models": "ModelManagerDialog",
    "use_remote": "SettingsDialog",
    "import_chat": "file dialog",
    "settings": "SettingsDialog",
    "conversation_settings": "ConversationSettings",
    "shortcuts": "ShortcutsDialog",
    "welcome": "FirstRunDialog",
    "error_reports": "CrashReportsDialog",
    "about": "AboutDialog",
}


class Closer:
    """Closes every window but the main one as soon as it shows (modal ones and pop-up menus
    too: the timer runs in their event loop), and notes what showed but the menus."""

    def __init__(self, keep: QWidget) -> None:
        self.keep = keep
        self.seen: list[str] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self.sweep)
        self.timer.start()

    def sweep(self) -> None:
        for widget in QApplication.topLevelWidgets():
            if widget is self.keep or not widget.isVisible():
                continue
            if type(widget).__name__ == "QTipLabel":  # a tooltip
                continue
            if isinstance(widget, QMenu):  # a button's pop-up menu: closed, not noted
                widget.close()
                continue
            self.seen.append(type(widget).__name__)
            widget.close()

    def take(self) -> list[str]:
        self.sweep()
        seen, self.seen = self.seen, []
        return seen


@pytest.fixture
def raised(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Every exception that reaches the hooks, as an unexpected one in a slot does."""
    errors: list[BaseException] = []
    monkeypatch.setattr(sys, "excepthook", lambda _type, exc, _tb: errors.append(exc))
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    return errors


@pytest.fixture
def file_dialogs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """File dialogs answer Cancel at once; their titles are noted."""
    asked: list[str] = []

    def cancel(_parent: Any, title: str = "", *_args: Any, **_kwargs: Any) -> tuple[str, str]:
        asked.append(title)
        return "", ""

    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(cancel))
    return asked


@pytest.fixture
def window(
    open_window: Callable[..., MainWindow],
    qtbot: Any,
    smollm2: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[MainWindow]:
    """The starter model loaded (one engine thread), and a chat with reasoning and two
    versions of its answer open."""
    monkeypatch.setattr(main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=1))
    win = open_window()
    with qtbot.waitSignal(win.bridge.loaded, timeout=LOAD_MS):
        win.load_starter()
    win.controller.params = SHORT
    store = win.store
    chat = store.create_conversation(model="SmolLM2")
    question = store.add_message(chat.id, "user", "Why is the sky blue?")
    figures = AnswerFigures(1.5, 12, 20, 30, 25.0, "stop")
    store.add_message(chat.id, "assistant", "Scattering.", reasoning="Rayleigh.", figures=figures)
    store.add_message(
        chat.id, "assistant", "Light scatters.", reasoning="Short waves.", parent_id=question.id
    )
    win.sidebar.refresh()
    win.open_conversation(chat.id)
    yield win


def idle(qtbot: Any, window: MainWindow) -> None:
    """Nothing loading or answering, and the widgets a click made are shown (a layout shows
    its new widgets on the next pass of the event loop)."""
    qtbot.waitUntil(lambda: not window._loading and not window.controller.busy, timeout=IDLE_MS)
    QApplication.processEvents()


@pytest.mark.qt_no_exception_capture
@pytest.mark.slow
def test_every_menu_action_runs_and_opens_what_it_says(
    window: MainWindow, qtbot: Any, raised: list[BaseException], file_dialogs: list[str]
) -> None:
    closer = Closer(window)
    chat = window.controller.conversation_id
    for spec in ACTIONS:
        if spec.name == "quit":
            continue
        window.open_conversation(chat)  # each action finds the chat open ("new" closes it)
        idle(qtbot, window)
        action = getattr(window.commands, spec.name)
        enabled = action.isEnabled()
        action.setEnabled(True)  # one that is off now still must not raise when it runs
        action.trigger()
        action.setEnabled(enabled)
        idle(qtbot, window)
        QApplication.processEvents()
        opened = closer.take() + (["file dialog"] if file_dialogs else [])
        file_dialogs.clear()
        expected = OPENS.get(spec.name)
        assert opened == ([expected] if expected else []), spec.name
        assert raised == [], spec.name
        if spec.name == "copy_last":
            assert QGuiApplication.clipboard().text() == "Light scatters."  # the shown version
    window.commands.quit.trigger()
    assert not window.isVisible()
    assert raised == []
    closer.timer.stop()


def buttons(window: MainWindow) -> list[QAbstractButton]:
    return [b for b in window.findChildren(QAbstractButton) if b.isVisible() and b.isEnabled()]


def key(button: QAbstractButton) -> tuple[str, str]:
    """A button by what it is for (messages are rebuilt: the same button comes back anew)."""
    owner = button.parentWidget()
    while owner is not None and owner.objectName() in ("", "actionBar"):
        owner = owner.parentWidget()
    name = owner.objectName() if owner is not None else ""
    return name, button.objectName() or button.text()


@pytest.mark.qt_no_exception_capture
@pytest.mark.slow
def test_every_button_of_the_window_can_be_pressed(
    window: MainWindow, qtbot: Any, raised: list[BaseException], file_dialogs: list[str]
) -> None:
    closer = Closer(window)
    window.banner.show_error("A test", "with Reload", offer_reload=True)
    idle(qtbot, window)
    pressed: list[tuple[str, str]] = []
    while True:
        waiting = [b for b in buttons(window) if key(b) not in pressed]
        if not waiting:
            break
        button = waiting[0]
        pressed.append(key(button))
        button.click()
        idle(qtbot, window)
        closer.take()
        assert raised == [], pressed
    expected = {
        ("userMessage", "Edit"),
        ("userMessage", "Delete"),
        ("questionEditor", "Cancel"),
        ("assistantMessage", "Copy"),
        ("assistantMessage", "Regenerate"),
        ("assistantMessage", "Delete"),
        ("assistantMessage", "◀"),
        ("assistantMessage", "▶"),
        ("thinkingPane", "thinkingHeader"),
        ("chatUndoBar", "undoButton"),
        ("noticeBanner", "Reload model"),
        ("sidebar", "newChatButton"),
        ("composer", "sendButton"),
        ("statusBar", "planDetails"),
    }
    assert expected <= set(pressed), sorted(expected - set(pressed))
    closer.timer.stop()


# A menu pops up offscreen, where nothing can grab the keyboard.
@pytest.mark.qt_log_ignore("This plugin does not support grabbing the keyboard")
@pytest.mark.qt_no_exception_capture
def test_every_entry_of_a_chat_rows_menu_runs(
    open_window: Callable[..., MainWindow],
    qtbot: Any,
    raised: list[BaseException],
    file_dialogs: list[str],
) -> None:
    """The sidebar's right-click menu is a menu too: each entry triggered once, as a click
    does, raises nothing and opens what it says."""
    window = open_window()
    chat = window.store.create_conversation(model="SmolLM2")
    window.store.add_message(chat.id, "user", "Why is the sky blue?")
    window.sidebar.refresh()
    listing = window.sidebar.list
    (row,) = [i for i in window.sidebar.items() if i.data(ID_ROLE) == chat.id]
    point = listing.visualItemRect(row).center()
    closer = Closer(window)
    opens = ["RenameDialog", "file dialog", "file dialog", "file dialog", ""]
    seen = []
    for index, expected in enumerate(opens):
        listing.customContextMenuRequested.emit(point)  # as the right-click's menu event does
        action = window.sidebar.menu.actions()[index]
        text = action.text()  # the menu and its actions go once it closes
        action.trigger()
        QApplication.processEvents()
        opened = closer.take() + (["file dialog"] if file_dialogs else [])
        file_dialogs.clear()
        seen.append(text)
        assert opened == ([expected] if expected else []), text
        assert raised == [], text
    assert seen[-1] == "Delete" and window.sidebar.undo_bar.isVisible()  # it can come back
    closer.timer.stop()
