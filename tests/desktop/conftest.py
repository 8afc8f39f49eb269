"""Fixtures shared by the window tests."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from desktop.chat.formulas import stop_renderer
from desktop.common.theme import release_theme_manager
from desktop.engines.bridge import EngineBridge
from desktop.window.main_window import MainWindow
from model_runtime.conversations.store import ConversationStore
from model_runtime.engine import EngineClient
from model_runtime.hardware.detect import HardwareInfo


@pytest.fixture(autouse=True)
def _look_afresh() -> Iterator[None]:
    """A theme applied in a test (Ponder's start, a View menu choice) is undone after it."""
    yield
    release_theme_manager()


@pytest.fixture(autouse=True)
def no_math_renderer_left() -> Iterator[None]:
    """The math renderer process a test started (by showing a formula) ends with the test."""
    yield
    stop_renderer()


@pytest.fixture
def open_window(qtbot: Any) -> Iterator[Callable[..., MainWindow]]:
    """Opens shown, active main windows, each with its own engine bridge; none outlives the
    test. hardware: a simulated machine to plan for; client: an engine client of the test's."""
    windows: list[MainWindow] = []

    def open_(
        store: ConversationStore | None = None,
        *,
        hardware: HardwareInfo | None = None,
        client: EngineClient | None = None,
    ) -> MainWindow:
        win = MainWindow(EngineBridge(client), store=store, hardware=hardware)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        win.activateWindow()
        qtbot.waitUntil(win.isActiveWindow)
        windows.append(win)
        return win

    yield open_
    for win in windows:
        win.close()
        win.bridge.shutdown()
        assert not win.bridge.client.alive
    assert multiprocessing.active_children() == []
