"""The window's part in files for questions: files dropped anywhere on it go to the composer,
chips count with the engine in use and learn how much of its context they may take, and a
file too long for it may ask to load the model again with a larger one (through the planner).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from desktop.chat.attachments import FileDrops

if TYPE_CHECKING:
    from desktop.window.main_window import MainWindow


class FileRoom(QObject):
    """Wires the composer's file chips to the window's engine, controller and loader."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.drops = FileDrops(window, window.composer.attach_paths)
        strip = window.composer.attachments
        strip.count = lambda text: window.controller.bridge.count_tokens(text)
        strip.larger_context_requested.connect(self.reload_with_context)
        window.controller.attachments_returned.connect(strip.restore)
        for changed in (window.bridge.loaded, window.engines.changed):
            changed.connect(strip.recount)
        for changed in (
            window.bridge.loaded,
            window.bridge.crashed,
            window.engines.changed,
            window.controller.context_used,
            window.loader.plan_in_use,
        ):
            changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Tell the chips how much of the context they may take, and what would fit."""
        window = self.window
        plan, summary = window.loader.plan, window.bridge.summary
        same = plan is not None and summary is not None and plan.model_path == summary.path
        max_ctx = plan.verdict.max_ctx if same and plan is not None else 0
        window.composer.attachments.set_context(window.controller.context_room(max_ctx))

    def reload_with_context(self, n_ctx: int) -> None:
        """Load the model again with a longer context, through the planner (a file's choice)."""
        last = self.window.bridge.last_request
        if last is not None:
            self.window.loader.load(dataclasses.replace(last, n_ctx=n_ctx))
