"""The window's actions, declared once as data: text, shortcut, handler, menu, words for F1.

Menus, shortcuts and the keyboard-shortcut list are all made from this table, so a shortcut
can't be missing from the help, and every action is reachable by name (window.commands.stop).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow

Shortcut = str | QKeySequence.StandardKey | Qt.Key | None


@dataclass(frozen=True)
class ActionSpec:
    """One action: `slot` is a dotted path on the window (None: wired by its owner)."""

    name: str
    text: str
    menu: str
    slot: str | None
    shortcut: Shortcut = None
    help: str = ""  # the keyboard-shortcut list's words; empty: the action's text
    tip: str = ""
    enabled: bool = True
    separator_before: bool = False
    group: str = ""  # checkable, one of its group checked at a time
    checkable: bool = False  # on or off; its handler reads the action's state


ACTIONS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec("open", "&Open model…", "&File", "choose_model_file", QKeySequence.StandardKey.Open,
               "Open a model"),
    ActionSpec("models", "&Models…", "&File", "show_model_manager", "Ctrl+Shift+M",
               "Models: download, import, choose one"),
    ActionSpec("starter", "Load the &starter model", "&File", "load_starter"),
    ActionSpec("reload", "&Reload model", "&File", "reload_model", enabled=False),
    ActionSpec("new", "&New chat", "&File", "new_chat", "Ctrl+N"),
    ActionSpec("use_remote", "Use a &remote engine…", "&File", "show_remote_engines",
               separator_before=True),
    ActionSpec("use_local", "Use the &local model", "&File", "engines.use_local", enabled=False),
    ActionSpec("serve", "S&erve the loaded model", "&File", None,
               tip="An OpenAI-compatible API for other programs (Settings → Serving says where)"),
    ActionSpec("import_chat", "&Import chat…", "&File", "import_chat", separator_before=True),
    ActionSpec("settings", "Se&ttings…", "&File", "show_settings", "Ctrl+Alt+S",
               "Settings: hardware, privacy, remote engines, serving"),
    ActionSpec("quit", "&Quit", "&File", "close", "Ctrl+Q", "Quit Ponder",
               separator_before=True),
    # Chat
    ActionSpec("stop", "&Stop answer", "&Chat", "controller.stop", Qt.Key.Key_Escape,
               "Stop the answer", tip="Only while an answer is being written", enabled=False),
    ActionSpec("answer_now", "&Answer now", "&Chat", "controller.answer_now", "Ctrl+Return",
               "Answer now: end the model's thinking",
               tip="Only while the model thinks, with an engine that can end it", enabled=False),
    ActionSpec("reasoning", "Show or hide the last &reasoning", "&Chat", "toggle_last_reasoning",
               "Ctrl+Shift+R", "Open or close the last answer's reasoning"),
    ActionSpec("think_harder", "&Think harder", "&Chat", "composer.think_harder.click",
               "Ctrl+Shift+Return", "Think harder: several thoughts at once, then a vote"),
    ActionSpec("search", "S&earch chats", "&Chat", "sidebar.focus_search", "Ctrl+F",
               "Search chats and reasoning"),
    ActionSpec("copy_last", "&Copy last answer", "&Chat", "copy_last_answer", "Ctrl+Shift+C",
               "Copy the last answer (Shift+click Copy: with reasoning)"),
    ActionSpec("focus", "&Focus the prompt", "&Chat", "composer.edit.setFocus", "Ctrl+L"),
    ActionSpec("conversation_settings", "Conversation &settings…", "&Chat",
               "edit_conversation_settings", "Ctrl+,",
               "Conversation settings (system prompt, sampling)"),
    # View
    ActionSpec("theme_system", "Follow the &system's theme", "&View", "theme.follow_system",
               group="theme"),
    ActionSpec("theme_light", "&Light theme", "&View", "theme.use_light", group="theme"),
    ActionSpec("theme_dark", "&Dark theme", "&View", "theme.use_dark", group="theme"),
    ActionSpec("zoom_in", "&Bigger chat text", "&View", "theme.zoom_in", "Ctrl+=",
               separator_before=True),
    ActionSpec("zoom_out", "S&maller chat text", "&View", "theme.zoom_out", "Ctrl+-"),
    ActionSpec("zoom_reset", "&Normal chat text", "&View", "theme.reset_zoom", "Ctrl+0"),
    ActionSpec("math", "Render &math", "&View", "view_menu.toggle_math", checkable=True,
               separator_before=True,
               tip="Draw LaTeX in answers and reasoning (off: show its source)"),
    # Help
    ActionSpec("shortcuts", "&Keyboard shortcuts", "&Help", "show_shortcuts", Qt.Key.Key_F1,
               "This list"),
    ActionSpec("welcome", "&Welcome…", "&Help", "show_welcome"),
    ActionSpec("error_reports", "&Error reports…", "&Help", "show_error_reports"),
    ActionSpec("about", "&About Ponder", "&Help", "show_about"),
)  # fmt: skip

# Keys the composer handles itself (they are not actions), listed with the actions' keys.
COMPOSER_KEYS: tuple[tuple[str, str], ...] = (
    ("Enter", "Send"),
    ("Shift+Enter", "New line in the prompt"),
)


def build_actions(window: QMainWindow, specs: tuple[ActionSpec, ...] = ACTIONS) -> Any:
    """Make every action, its menu entry and its shortcut; returns them by name.

    Slots are called without arguments: `triggered(bool)` never reaches a handler's parameters.
    """
    actions = SimpleNamespace()
    menus: dict[str, Any] = {}
    groups: dict[str, QActionGroup] = {}
    for spec in specs:
        action = QAction(spec.text, window)
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if spec.tip:
            action.setToolTip(spec.tip)
        action.setEnabled(spec.enabled)
        action.setCheckable(spec.checkable or bool(spec.group))
        if spec.group:
            groups.setdefault(spec.group, QActionGroup(window)).addAction(action)
        action.setData(spec.help or spec.text.replace("&", "").rstrip("…"))
        if spec.slot is not None:  # looked up when triggered: its owner may come later
            slot = operator.attrgetter(spec.slot)
            action.triggered.connect(lambda _checked=False, find=slot: find(window)())
        menu = menus.get(spec.menu)
        if menu is None:
            menu = menus[spec.menu] = window.menuBar().addMenu(spec.menu)
        elif spec.separator_before:
            menu.addSeparator()
        menu.addAction(action)
        window.addAction(action)  # its shortcut works wherever the focus is in the window
        setattr(actions, spec.name, action)
    return actions


def shortcut_rows(actions: Any) -> list[tuple[str, str]]:
    """(keys, what they do) for the keyboard-shortcut list: the composer's keys, then every
    action that has a shortcut, in menu order."""
    rows = list(COMPOSER_KEYS)
    for action in vars(actions).values():
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys:
            rows.append((keys, str(action.data())))
    return rows
