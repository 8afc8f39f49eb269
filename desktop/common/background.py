"""The one way work leaves the GUI thread: a Task runs a call or a generator on a thread, and its
values, result and error come back as signals on the GUI thread.

A Task's worker thread never touches a widget: it emits through a queued connection, so every
public signal fires on the GUI thread (superqt's GeneratorWorker and napari's thread_worker are
the model, without the dependency). A generator's values arrive as `progressed`, in order; its
return value as `succeeded`. Cancel is cooperative: the work checks `task.cancel`, and a
generator is closed at its next value. Tasks started under the same key supersede each other:
only the newest one's callbacks run, so a stale plan or check never overwrites a fresh one.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal


class Task(QObject):
    """One call of `work(task)` on its own thread; `task.report(x)` and `task.cancel` inside."""

    progressed = Signal(object)  # a reported or yielded value
    succeeded = Signal(object)  # the result (a generator's return value)
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
            if inspect.isgenerator(result):
                result = self._drain(result)
        except Exception as exc:
            self._send("error", exc)
        else:
            self._send("result", result)

    def _drain(self, values: Generator[Any, Any, Any]) -> Any:
        """Send each value as it comes; stop at a cancel (closing the generator)."""
        with contextlib.closing(values):
            while not self.cancel.is_set():
                try:
                    value = next(values)
                except StopIteration as stop:
                    return stop.value
                self._send("progress", value)
        return None

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
    """The tasks a widget or bridge started: keeps them alive, drops superseded ones' results,
    cancels them together and waits for them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: set[Task] = set()
        self._newest: dict[str, Task] = {}

    def start(
        self,
        work: Callable[[Task], Any],
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        *,
        key: str | None = None,
    ) -> Task:
        """Start `work(task)` on a thread; the callbacks run on the GUI thread.

        With a key, a later start under the same key supersedes this one: it is asked to cancel
        and its callbacks no longer run.
        """
        task = Task(work, self)
        if key is not None:
            older = self._newest.get(key)
            if older is not None:
                older.cancel.set()
            self._newest[key] = task

        def current() -> bool:
            return key is None or self._newest.get(key) is task

        for signal, callback in (
            (task.succeeded, on_result),
            (task.failed, on_error),
            (task.progressed, on_progress),
        ):
            if callback is not None:
                signal.connect(lambda value, call=callback: call(value) if current() else None)
        task.ended.connect(lambda: self._forget(task, key))
        self._running.add(task)
        return task.start()

    def _forget(self, task: Task, key: str | None) -> None:
        self._running.discard(task)
        if key is not None and self._newest.get(key) is task:
            del self._newest[key]
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
