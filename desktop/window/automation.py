"""The smoke-test hook: `ponder --starter --ask Q --screenshot OUT.png --quit-when-done`.

It lets a script check a built bundle with no Python at hand: after the window shows (and,
with --ask, once the loaded model has answered), it saves the window to a PNG, prints one
line `PONDER-RESULT {json}` on stdout and, with --quit-when-done, quits (exit code 1 on a
failed load or answer, or after --timeout seconds). Nothing here runs unless asked for.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from desktop.window.main_window import MainWindow
from model_runtime.llama.build import backend_summary

RESULT_PREFIX = "PONDER-RESULT "


def process_age() -> float:
    """Seconds since this process started (the OS's clock, so the bundle's unpacking counts)."""
    import psutil

    return time.time() - psutil.Process().create_time()


class ScriptedRun(QObject):
    """Drives one window through the hook's steps and reports what happened."""

    def __init__(
        self,
        window: MainWindow,
        *,
        ask: str | None,
        screenshot: str | None,
        quit_when_done: bool,
        timeout: float = 600.0,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.ask = ask
        self.screenshot = Path(screenshot) if screenshot else None
        self.quit_when_done = quit_when_done
        self.report: dict[str, object] = {}
        self._asked = False
        self._ended = False
        self._timeout = timeout

    def start(self, window_shown_s: float) -> None:
        """Call right after window.show()."""
        self.report["window_shown_s"] = round(window_shown_s, 3)
        QTimer.singleShot(int(self._timeout * 1000), lambda: self.fail("timed out"))
        if self.ask is None:
            QTimer.singleShot(300, self.finish)  # after the first paint
            return
        bridge = self.window.bridge
        bridge.loaded.connect(self._on_loaded)
        bridge.load_failed.connect(lambda exc: self.fail(f"load failed: {exc}"))
        bridge.crashed.connect(lambda exc: self.fail(f"engine crashed: {exc}"))
        self.window.controller.answer_finished.connect(self._on_answered)
        self._asked_at = time.monotonic()

    def _on_loaded(self, summary: object) -> None:
        if self._asked or self.ask is None:
            return
        self._asked = True
        self.report["model"] = getattr(summary, "name", "")
        self.report["loaded_s"] = round(time.monotonic() - self._asked_at, 3)
        self.window.send(self.ask)

    def _on_answered(self, stats: object) -> None:
        messages = self.window.controller.messages
        self.report["answer"] = messages[-1].content if messages else ""
        self.report["tokens_per_second"] = round(getattr(stats, "tokens_per_second", 0.0), 2)
        QTimer.singleShot(300, self.finish)  # let the finished answer paint

    def finish(self) -> None:
        if self._ended:
            return
        hw = self.window.hardware.info  # known once a load was planned
        if hw is not None and hw.build is not None:
            self.report["llama_cpp"] = backend_summary(hw.build)
        if self.screenshot is not None:
            self.screenshot.parent.mkdir(parents=True, exist_ok=True)
            saved = self.window.grab().save(str(self.screenshot))
            self.report["screenshot"] = str(self.screenshot) if saved else ""
        self._end(0)

    def fail(self, why: str) -> None:
        if not self._ended:
            self.report["error"] = why
            self._end(1)

    def _end(self, code: int) -> None:
        self._ended = True
        if sys.stdout is not None:  # a windowed bundle on Windows has none
            print(RESULT_PREFIX + json.dumps(self.report), flush=True)
        if self.quit_when_done:
            self.window.close()
            QApplication.exit(code)
