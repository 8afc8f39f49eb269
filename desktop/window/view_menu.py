"""The View menu's state: the theme checked there is the one chosen, wherever it was chosen
(the menu, Settings), and Ctrl++ makes the chat's text bigger as Ctrl+= does."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QKeySequence

from desktop.common.theme import ThemeManager


class ViewMenu(QObject):
    """Keeps the theme actions' check marks on the manager's choice."""

    def __init__(self, commands: Any, theme: ThemeManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._by_choice = {
            "system": commands.theme_system,
            "light": commands.theme_light,
            "dark": commands.theme_dark,
        }
        commands.zoom_in.setShortcuts(
            [QKeySequence("Ctrl+="), QKeySequence(QKeySequence.StandardKey.ZoomIn)]
        )
        theme.choice_changed.connect(self._show)
        self._show(theme.choice)

    def _show(self, choice: str) -> None:
        self._by_choice[choice].setChecked(True)
