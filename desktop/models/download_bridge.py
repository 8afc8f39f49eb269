"""Qt bridge to the DownloadManager: it lives as long as the app; progress comes as signals.

The manager calls its listeners on its worker thread; the bridge relays each Progress through
a queued connection, so `progress` and `ended` fire on the GUI thread. `ended` comes once per
download run, after the manager has really finished it (a background task waits for that),
so a Resume clicked on it is never mistaken for the run still stopping.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, Qt, Signal

from desktop.common.background import Tasks
from model_runtime import netlog
from model_runtime.errors import PonderError
from model_runtime.models.download_queue import DownloadManager
from model_runtime.models.downloads import DownloadRequest
from model_runtime.models.store import ModelStore
from model_runtime.progress import CANCELLED, Progress


class DownloadBridge(QObject):
    """Owns the app's DownloadManager; its downloads go on while the person chats."""

    progress = Signal(object)  # Progress, on the GUI thread
    ended = Signal(object)  # last Progress of a finished run: complete, failed, paused, cancelled
    _relay = Signal(object)

    def __init__(self, manager: DownloadManager | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.manager = manager if manager is not None else DownloadManager()
        self._watching: set[str] = set()  # models whose run's end a task waits for
        self._tasks = Tasks(self)
        self._started = False
        self._closed = False
        self._relay.connect(self.progress, Qt.ConnectionType.QueuedConnection)
        self.manager.add_listener(self._from_worker)

    @property
    def store(self) -> ModelStore:
        return self.manager.store

    def _from_worker(self, progress: Progress) -> None:
        with contextlib.suppress(RuntimeError):  # the bridge was deleted (the app is quitting)
            self._relay.emit(progress)

    def _watch(self, model_id: str) -> None:
        """Emit `ended` once the manager has finished this model's current run."""
        if model_id in self._watching:
            return
        self._watching.add(model_id)

        def ended(final: Progress) -> None:
            self._watching.discard(model_id)
            self.ended.emit(final)

        self._tasks.start(
            lambda _task: self.manager.wait(model_id),
            on_result=ended,
            on_error=lambda _exc: self._watching.discard(model_id),
        )

    def finished(self, model_id: str) -> bool:
        """True unless a run of this model is queued, running or still stopping."""
        try:
            self.manager.wait(model_id, timeout=0)
        except KeyError:  # never run in this session
            return True
        except TimeoutError:
            return False
        return True

    # -- commands --------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Resume the downloads a quit or a crash interrupted (none in offline mode)."""
        if self._started or netlog.is_offline():
            return []
        self._started = True
        resumed = self.manager.resume_interrupted()
        for model_id in resumed:
            self._watch(model_id)
        return resumed

    def add(self, request: DownloadRequest) -> str:
        """Queue a download; returns its model id."""
        model_id = self.manager.add(request)
        self._watch(model_id)
        return model_id

    def pause(self, model_id: str) -> None:
        self.manager.pause(model_id)

    def resume(self, model_id: str) -> str:
        """Queue a paused or failed model again; it continues from its bytes on disk."""
        if not self.finished(model_id):
            with contextlib.suppress(TimeoutError):
                self.manager.wait(model_id, timeout=2.0)  # a pause that is about to land
            if not self.finished(model_id):
                raise PonderError(f"{model_id} is still stopping; try again in a moment.")
        model_id = self.manager.resume(model_id)
        self._watch(model_id)
        return model_id

    def cancel(self, model_id: str) -> None:
        """Stop the download and delete its bytes."""
        idle = self.finished(model_id)
        self.manager.cancel(model_id)
        if idle:  # the manager deleted it at once, without a word: say so
            before = self.manager.progress(model_id)
            gone = Progress(model_id, CANCELLED, 0, before.total if before else 0)
            self.progress.emit(gone)
            self.ended.emit(gone)

    def downloads(self) -> list[Progress]:
        """The latest progress of every download this session, in the order they were added."""
        return self.manager.downloads()

    def close(self) -> None:
        """Stop the worker at quit; a running download resumes at the next start."""
        if not self._closed:
            self._closed = True
            self.manager.close()
