"""What the window follows of the answer that streams: whether the model is thinking (Answer
now), and its tokens so far and their speed (the status bar), measured as decode_rate defines
it — the figure under the finished answer — and said at most every PROGRESS_MS."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal

from desktop.common.throttle import Throttle
from model_runtime.chat.generation import decode_rate

PROGRESS_MS = 250  # at most four times a second


class LiveAnswer(QObject):
    """Counts the chunks of one answer (one per token, or nearly) from start() to stop()."""

    progress = Signal(int, float)  # tokens so far, tokens/s
    thinking_changed = Signal(bool)  # the answer entered or left its reasoning

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tokens = 0
        self.thinking = False
        self._first_at = 0.0
        self._running = False
        self._throttle = Throttle(self._report, PROGRESS_MS, self)

    def start(self) -> None:
        self.tokens, self._first_at, self._running = 0, 0.0, True

    def stop(self) -> None:
        self._running = False
        self.set_thinking(False)

    def chunk(self, kind: str) -> None:
        """A chunk of text came: "thinking" or "answer"."""
        self.set_thinking(kind == "thinking")
        self.tokens += 1
        if self.tokens == 1:
            self._first_at = time.perf_counter()
        self._throttle()

    def set_thinking(self, thinking: bool) -> None:
        if thinking != self.thinking:
            self.thinking = thinking
            self.thinking_changed.emit(thinking)

    def _report(self) -> None:
        if self._running:
            rate = decode_rate(self.tokens, self._first_at, time.perf_counter())
            self.progress.emit(self.tokens, rate)
