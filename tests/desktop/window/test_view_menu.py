"""The View menu and Settings → Appearance: the theme and the chat's text size, chosen in
either, applied at once and shown checked in both; open windows follow a switch at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from desktop.common.appearance import load_appearance
from desktop.common.colours import DARK, LIGHT, current
from desktop.window.actions import shortcut_rows
from desktop.window.main_window import MainWindow
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.models.references import add_recent_model
from tests.gguf_factory import write_tiny_model

MACHINE = HardwareInfo(CpuInfo("Simulated CPU", 2, 2), 16 * 1024**3, 12 * 1024**3)


def checked_theme(window: MainWindow) -> list[str]:
    commands = window.commands
    return [
        name
        for name in ("theme_system", "theme_light", "theme_dark")
        if getattr(commands, name).isChecked()
    ]


def test_the_view_menu_and_settings_choose_the_theme_together(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window(hardware=MACHINE)  # Settings detects nothing in a child process
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus.index("&View") == menus.index("&Help") - 1
    assert checked_theme(window) == ["theme_system"]  # following the system at first
    rows = dict(shortcut_rows(window.commands))
    assert {"Ctrl+=", "Ctrl+-", "Ctrl+0"} <= set(rows)

    with qtbot.waitSignal(window.theme.theme_changed):
        window.commands.theme_dark.trigger()
    assert current() == DARK and checked_theme(window) == ["theme_dark"]
    assert QApplication.palette().color(QPalette.ColorRole.Window).name() == DARK.window

    settings = window.show_settings()
    tab = settings.appearance_tab
    settings.tabs.setCurrentWidget(tab)
    assert tab.theme_choice.currentData() == "dark"
    with qtbot.waitSignal(window.theme.theme_changed):
        tab.theme_choice.setCurrentIndex(tab.theme_choice.findData("light"))
    assert current() == LIGHT and checked_theme(window) == ["theme_light"]
    tab.theme_choice.setCurrentIndex(tab.theme_choice.findData("system"))
    assert checked_theme(window) == ["theme_system"] and load_appearance().theme == "system"

    tab.zoom.setCurrentIndex(tab.zoom.findData(150))
    assert window.theme.zoom == 150 and tab.reset_button.isEnabled()
    window.commands.zoom_out.trigger()  # the menu's change shows in Settings
    assert tab.zoom.currentData() == 125
    tab.reset_button.click()
    assert window.theme.zoom == 100 and not tab.reset_button.isEnabled()
    assert load_appearance().zoom == 100
    settings.close()


def test_an_open_model_manager_follows_a_switch(
    open_window: Callable[..., MainWindow],
    qtbot: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PONDER_OFFLINE", "1")
    gone = write_tiny_model(tmp_path / "Gone-Q4_0.gguf", dtype="q4_0")
    add_recent_model(gone)
    gone.unlink()
    window = open_window(hardware=MACHINE)
    window.show_model_manager()
    manager = window.model_manager
    assert manager is not None
    table = manager.store_tab.table
    missing = next(
        table.item(row, 0)
        for row in range(table.rowCount())
        if table.item(row, 3).text() == "Missing"
    )
    assert missing.foreground().color().name() == LIGHT.disabled_text
    window.commands.theme_dark.trigger()
    assert missing.foreground().color().name() == DARK.disabled_text  # greyed in the dark's grey
    window.commands.theme_light.trigger()
    assert missing.foreground().color().name() == LIGHT.disabled_text
    manager.close()
    manager.tasks.cancel_all()
    assert manager.tasks.wait(15)  # its planning, in a child process, has ended
