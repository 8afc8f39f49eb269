"""A queue of downloads run one at a time by a worker thread, each paused, resumed or cancelled.

Listeners get Progress values on the worker thread (the GUI turns them into signals).
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from dataclasses import dataclass, field, replace

from model_runtime.errors import DownloadCancelled, PonderError
from model_runtime.models.downloads import (
    DownloadOptions,
    DownloadRequest,
    download_model,
    expected_model_id,
)
from model_runtime.models.manifest import DOWNLOADING, PAUSED
from model_runtime.models.store import ModelStore
from model_runtime.progress import CANCELLED, QUEUED, Progress, ProgressCallback

TERMINAL = ("complete-verified", "failed", "paused", "cancelled")


@dataclass
class _Job:
    """One queued or running download."""

    model_id: str
    request: DownloadRequest
    progress: Progress
    cancel: threading.Event = field(default_factory=threading.Event)
    intent: str = ""  # why cancel is set: "pause", "cancel" or "shutdown"
    finished: threading.Event = field(default_factory=threading.Event)


class DownloadManager:
    """Runs queued downloads in order on one worker thread; downloads go on while chatting."""

    def __init__(
        self,
        store: ModelStore | None = None,
        options: DownloadOptions | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.store = store or ModelStore()
        self.options = options or DownloadOptions()
        self._listeners: list[ProgressCallback] = [on_progress] if on_progress else []
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._jobs: dict[str, _Job] = {}
        self._current: _Job | None = None
        self._closing = False
        self._thread: threading.Thread | None = None

    # -- listening -------------------------------------------------------------------------

    def add_listener(self, callback: ProgressCallback) -> None:
        """Call `callback(progress)` on every change (from the worker thread)."""
        self._listeners.append(callback)

    def _publish(self, job: _Job, progress: Progress) -> None:
        job.progress = progress
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # a broken listener must not stop downloads
                listener(progress)

    # -- commands --------------------------------------------------------------------------

    def add(self, request: DownloadRequest) -> str:
        """Queue a download (or resume one); return its model id. Needs a repo and a quant."""
        model_id = expected_model_id(request)
        if model_id is None:
            raise PonderError("A queued download needs a repository (owner/name) and a quant.")
        with self._cond:
            if self._closing:
                raise PonderError("The download manager is closed.")
            job = self._jobs.get(model_id)
            if job is not None and not job.finished.is_set():
                return model_id  # already queued or running
            existing = self.store.find(model_id)
            done = self.store.partial_bytes(existing.manifest) if existing else 0
            total = existing.manifest.total_size if existing else 0
            job = _Job(model_id, request, Progress(model_id, QUEUED, done, total))
            self._jobs[model_id] = job
            self._queue.append(job)
            self._start()
            self._cond.notify_all()
        self._publish(job, job.progress)
        return model_id

    def resume(self, model_id: str) -> str:
        """Queue a paused, failed or interrupted model again; it continues from its bytes."""
        job = self._jobs.get(model_id)
        if job is not None:
            return self.add(job.request)
        manifest = self.store.get(model_id).manifest
        if not manifest.repo_id:
            raise PonderError(f"{model_id} was not downloaded from the Hub; nothing to resume.")
        request = DownloadRequest(
            manifest.repo_id, manifest.quant, revision=manifest.revision, model_id=model_id
        )
        return self.add(request)

    def resume_interrupted(self) -> list[str]:
        """Queue every model a crash or a quit left in the downloading state (call at start)."""
        return [
            self.resume(m.model_id)
            for m in self.store.models()
            if m.state == DOWNLOADING and m.manifest.repo_id
        ]

    def pause(self, model_id: str) -> None:
        """Stop a download and keep its bytes; resume() continues it."""
        self._stop(model_id, "pause")

    def cancel(self, model_id: str) -> None:
        """Stop a download and delete what it downloaded."""
        if not self._stop(model_id, "cancel"):
            with contextlib.suppress(PonderError):
                self.store.delete(model_id)

    def _stop(self, model_id: str, intent: str) -> bool:
        """Stop a queued or running job; True when the worker will finish the job off."""
        with self._cond:
            job = self._jobs.get(model_id)
            if job is None or job.finished.is_set():
                return False
            if job is self._current:
                job.intent = intent
                job.cancel.set()
                return True
            self._queue.remove(job)
        if intent == "pause":
            self._mark_paused(model_id)
        self._finish(job, PAUSED if intent == "pause" else CANCELLED)
        return False

    def _mark_paused(self, model_id: str) -> None:
        with contextlib.suppress(PonderError, OSError):
            model = self.store.get(model_id)
            model.manifest.state = PAUSED
            self.store.save(model.manifest)

    # -- looking ---------------------------------------------------------------------------

    def progress(self, model_id: str) -> Progress | None:
        """The latest progress of a download this manager knows, or None."""
        job = self._jobs.get(model_id)
        return job.progress if job else None

    def downloads(self) -> list[Progress]:
        """The latest progress of every download, in the order they were added."""
        return [job.progress for job in list(self._jobs.values())]

    def wait(self, model_id: str, timeout: float | None = None) -> Progress:
        """Block until a download ends (complete, failed, paused, cancelled); its last progress."""
        job = self._jobs[model_id]
        if not job.finished.wait(timeout):
            raise TimeoutError(f"{model_id} is still downloading.")
        return job.progress

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker; a running download stays 'downloading' so that the next start
        resumes it (resume_interrupted)."""
        with self._cond:
            self._closing = True
            current = self._current
            if current is not None:
                current.intent = "shutdown"
                current.cancel.set()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the worker ------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="ponder-downloads", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if self._closing:
                    for job in self._queue:
                        self._finish(job, PAUSED)
                    return
                job = self._current = self._queue.popleft()
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._current = None

    def _run(self, job: _Job) -> None:
        try:
            model = download_model(
                job.request,
                store=self.store,
                options=self.options,
                on_progress=lambda p: self._publish(job, p),
                cancel=job.cancel,
            )
        except DownloadCancelled:
            if job.intent == "cancel":
                with contextlib.suppress(PonderError, OSError):
                    self.store.delete(job.model_id)
                self._finish(job, CANCELLED)
            elif job.intent == "shutdown":
                with contextlib.suppress(PonderError, OSError):
                    model = self.store.get(job.model_id)
                    model.manifest.state = DOWNLOADING  # resumed at the next start
                    self.store.save(model.manifest)
                self._finish(job, PAUSED)
            else:
                self._finish(job, PAUSED)
        except Exception as exc:  # reported, never raised on the worker thread
            self._finish(job, "failed", str(exc) or type(exc).__name__)
        else:
            self._finish(job, model.state)

    def _finish(self, job: _Job, state: str, message: str | None = None) -> None:
        changes: dict[str, object] = {"state": state, "speed": 0.0, "eta": None}
        if message is not None:
            changes["message"] = message
        self._publish(job, replace(job.progress, **changes))  # type: ignore[arg-type]
        job.finished.set()
