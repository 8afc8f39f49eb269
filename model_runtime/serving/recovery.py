"""The served model after its engine process died: loaded again, with growing pauses between tries.

Whatever killed the worker (a llama.cpp crash, the OOM killer, a signal), the server keeps
listening. With a way to reload (the CLI gives one) it brings the model back in a thread of its
own and meanwhile answers 503 with Retry-After; without one (the window reloads the model
itself) it says the model is gone until the server is replaced.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

FIRST_PAUSE = 1.0  # seconds before the second try; doubled after each failure
LONGEST_PAUSE = 60.0


class EngineRecovery:
    """Whether the served model can answer now, and the reloads that bring it back."""

    def __init__(
        self,
        reload: Callable[[], object] | None,
        log: Callable[[str], None],
        *,
        first_pause: float = FIRST_PAUSE,
        longest_pause: float = LONGEST_PAUSE,
    ) -> None:
        self.reload = reload
        self._log = log
        self.first_pause = first_pause
        self.longest_pause = longest_pause
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._down = False  # the engine died and no reload has succeeded since
        self.why = ""  # how it died, in words
        self.reloads = 0  # successful reloads since the server started
        self._pause = 0.0  # the pause before the next try; 0 while a try runs
        self._load_seconds = 5.0  # how long a load took, for Retry-After

    @property
    def ready(self) -> bool:
        return not self._down

    @property
    def reloading(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def retry_after(self) -> int:
        """Seconds until the model may be back (at least 1, at most 60)."""
        if not self.reloading:
            return 60
        return max(1, min(60, math.ceil(self._pause or self._load_seconds)))

    def crashed(self, why: str) -> bool:
        """The engine died: start reloading, or stay down if there is no way to. True the first
        time it is told of this death, False when it already knew (or is stopping)."""
        with self._lock:
            if self._down or self._stopping.is_set():
                return False
            self._down, self.why = True, why
            self._log(f"the engine stopped: {why}")
            if self.reload is not None:
                self._thread = threading.Thread(target=self._reload, name="ponder-server-reload")
                self._thread.daemon = True
                self._thread.start()
            return True

    def stop(self) -> None:
        """No more reloads (one under way finishes in its thread, unwaited for)."""
        self._stopping.set()

    def _reload(self) -> None:
        assert self.reload is not None
        pause, tries = self.first_pause, 0
        while not self._stopping.is_set():
            tries += 1
            self._log(f"reloading the model (try {tries}) …")
            started = time.monotonic()
            try:
                self.reload()
            except Exception as exc:  # any failure: say it, wait, try again
                if self._stopping.is_set():
                    return
                self._pause = pause
                self._log(f"reloading failed: {exc}; trying again in {pause:g} s")
                self._stopping.wait(pause)
                self._pause = 0.0
                pause = min(self.longest_pause, pause * 2)
                continue
            self._load_seconds = time.monotonic() - started
            with self._lock:
                self._down = False
                self.reloads += 1
            self._log(f"the model is loaded again ({self._load_seconds:.1f} s); serving")
            return
