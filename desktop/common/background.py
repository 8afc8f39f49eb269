"""Run blocking model_runtime calls on threads; results, errors and progress come as signals.

A Task's worker thread never touches a widget: it emits through a queued connection, so every
public signal fires on the GUI thread (superqt's worker pattern, without the dependency).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal


class Task(QObject):
    """One call of `work(task)` on its own thread; `task.report(x)` and `task.cancel` inside."""

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    ended = Signal()  # after succeeded or failed
    _relay = Signal(str, object)

    def __init__(self, work: Callable[[Task], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.work = work
        self.cancel = threading.Event()
        self.worker = threading.Thread(target=self._run, name="ponder-task", daemon=True)
        self._relay.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def start(self) -> Task:
        self.worker.start()
        return self

    def report(self, value: object) -> None:
        """Hand a progress value to the GUI thread (call it from the worker)."""
        self._send("progress", value)

    def _send(self, kind: str, value: object) -> None:
        with contextlib.suppress(RuntimeError):  # the owner was deleted: nobody listens
            self._relay.emit(kind, value)

    def _run(self) -> None:
        try:
            result = self.work(self)
        except Exception as exc:
            self._send("error", exc)
        else:
            self._send("result", result)

    def _deliver(self, kind: str, value: object) -> None:
        if kind == "progress":
            self.progressed.emit(value)
            return
        if kind == "result":
            self.succeeded.emit(value)
        else:
            self.failed.emit(value)
        self.ended.emit()


class Tasks(QObject):
    """The tasks a widget started: keeps them alive, cancels them together, waits for them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: set[Task] = set()

    def start(
        self,
        work: Callable[[Task], Any],
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
    ) -> Task:
        """Start `work(task)` on a thread; the callbacks run on the GUI thread."""
        task = Task(work, self)
        if on_result is not None:
            task.succeeded.connect(on_result)
        if on_error is not None:
            task.failed.connect(on_error)
        if on_progress is not None:
            task.progressed.connect(on_progress)
        task.ended.connect(lambda: self._forget(task))
        self._running.add(task)
        return task.start()

    def _forget(self, task: Task) -> None:
        self._running.discard(task)
        task.deleteLater()

    @property
    def busy(self) -> bool:
        """True while any task runs."""
        return bool(self._running)

    def cancel_all(self) -> None:
        """Ask every running task to stop (each checks its cancel event)."""
        for task in list(self._running):
            task.cancel.set()

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until every worker thread has returned (tests, quitting); True if all did."""
        for task in list(self._running):
            task.worker.join(timeout)
        return not any(t.worker.is_alive() for t in list(self._running))
