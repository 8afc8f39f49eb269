"""The View menu's state: the theme checked there is the one chosen, wherever it was chosen
(the menu, Settings), Ctrl++ makes the chat's text bigger as Ctrl+= does, and Render math is
kept in config_dir()/view.json."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QKeySequence

from desktop.chat.formulas import shared_formulas
from desktop.common.theme import ThemeManager
from desktop.settings.view import ViewSettings, load_view_settings, save_view_settings


class ViewMenu(QObject):
    """Keeps the theme actions' check marks on the manager's choice, and Render math's."""

    unsaved = Signal(str, str)  # a choice applies now but could not be kept: title, why

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
        self._math = commands.math
        self._math.setChecked(load_view_settings().math)
        shared_formulas().set_enabled(self._math.isChecked())

    def toggle_math(self) -> None:
        """View → Render math: every answer and reasoning shown follows, and it is saved."""
        shared_formulas().set_enabled(self._math.isChecked())
        try:
            save_view_settings(ViewSettings(math=self._math.isChecked()))
        except OSError as exc:
            self.unsaved.emit("Render math applies until Ponder closes", f"Not saved: {exc}")

    def _show(self, choice: str) -> None:
        self._by_choice[choice].setChecked(True)
