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

SLICE_SECONDS = 0.02  # steps run until this much time has passed, then events get a turn


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
        deadline = time.perf_counter() + SLICE_SECONDS
        while self._jobs and time.perf_counter() < deadline:
            for key, (owner, step) in list(self._jobs.items()):
                if not shiboken6.isValid(owner):
                    self._jobs.pop(key, None)
                    continue
                try:
                    more = step()
                except BaseException:
                    self._jobs.pop(key, None)
                    raise
                if not more and self._jobs.get(key, (None,))[0] is owner:
                    self._jobs.pop(key, None)
                if time.perf_counter() >= deadline:
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
