"""Coalesce bursts of calls into at most one per interval (streamed tokens into one repaint)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class Throttle(QObject):
    """Calls `func` at most once per `interval_ms`; trailing calls are never dropped."""

    def __init__(self, func: Callable[[], None], interval_ms: int, parent: QObject | None = None):
        super().__init__(parent)
        self._func = func
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._func)

    def __call__(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Run a pending call now."""
        if self._timer.isActive():
            self._timer.stop()
            self._func()
