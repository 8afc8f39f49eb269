"""Rendering that does not fit in one step runs here, a few milliseconds at a time, between
events: a long answer (or long reasoning) appears part by part and the window stays live.

One queue serves every view, so two long answers opening together share the same time slice
instead of each taking their own. Each step of a job does a bounded amount of work (one part
of an answer, see desktop/chat/segments.py) and says whether more is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QTimer

SLICE_SECONDS = 0.03  # steps run while they fit in this much time, then events get a turn


class RenderQueue(QObject):
    """Jobs keyed by the object they render into; a deleted object's job is dropped."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[int, tuple[QObject, Callable[[], bool]]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._run)

    def add(self, owner: QObject, step: Callable[[], bool]) -> None:
        """Call ``step()`` between events until it returns False (nothing left to do)."""
        self._jobs[id(owner)] = (owner, step)
        if not self._timer.isActive():
            self._timer.start()

    def remove(self, owner: QObject) -> None:
        self._jobs.pop(id(owner), None)

    def pending(self, owner: QObject) -> bool:
        return id(owner) in self._jobs

    def _run(self) -> None:
        """Run steps, one job after another, while the next one is likely to fit the slice
        (a step takes about as long as the one before it); at least one."""
        started = time.perf_counter()
        longest = 0.0
        while self._jobs:
            for key, (owner, step) in list(self._jobs.items()):
                now = time.perf_counter()
                if now - started + longest > SLICE_SECONDS and longest:
                    break
                if not shiboken6.isValid(owner):
                    self._jobs.pop(key, None)
                    continue
                try:
                    more = step()
                except BaseException:
                    self._jobs.pop(key, None)
                    raise
                longest = max(longest, time.perf_counter() - now)
                if not more:
                    self._jobs.pop(key, None)
            else:
                continue
            break
        if self._jobs:
            self._timer.start()


_shared: RenderQueue | None = None


def shared_queue() -> RenderQueue:
    """The application's queue (made on first use, owned by the application)."""
    global _shared
    if _shared is None or not shiboken6.isValid(_shared):
        _shared = RenderQueue(QCoreApplication.instance())
    return _shared
