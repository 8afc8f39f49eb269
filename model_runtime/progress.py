"""Progress of a download, check or import, as plain dataclasses handed to a callback."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

# States a Progress can report besides the manifest's (downloading, paused, failed,
# complete-verified).
QUEUED = "queued"
CHECKING = "checking"  # hashing bytes already on disk before resuming
VERIFYING = "verifying"
IMPORTING = "importing"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Progress:
    """Where one model's transfer stands: bytes done of total, speed, time left, which file."""

    model_id: str
    state: str
    done: int
    total: int
    speed: float = 0.0  # bytes per second over the last few seconds
    eta: float | None = None  # seconds left at that speed
    file: str | None = None
    file_index: int = 0  # 1-based, of file_count
    file_count: int = 0
    message: str = ""  # why it failed, or what it is doing, in words

    @property
    def fraction(self) -> float:
        """done / total, between 0 and 1."""
        return min(1.0, self.done / self.total) if self.total else 0.0


ProgressCallback = Callable[[Progress], None]


class RateMeter:
    """Bytes per second over a sliding window of a few seconds."""

    def __init__(self, window: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self.samples: deque[tuple[float, int]] = deque()
        self.total = 0

    def add(self, n: int) -> None:
        """Count n more bytes, now."""
        self.total += n
        now = self.clock()
        self.samples.append((now, self.total))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()

    def rate(self) -> float:
        """The recent speed in bytes per second (0 until there are two samples)."""
        if len(self.samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


class Reporter:
    """Builds Progress values and hands them to a callback, at most every `interval` seconds."""

    def __init__(
        self,
        model_id: str,
        total: int,
        callback: ProgressCallback | None,
        *,
        file_count: int = 0,
        interval: float = 0.1,
    ) -> None:
        self.callback = callback
        self.interval = interval
        self.meter = RateMeter()
        self.last_emit = 0.0
        self._pending = 0
        self.current = Progress(model_id, QUEUED, 0, total, file_count=file_count)

    def update(self, *, force: bool = True, **changes: object) -> Progress:
        """Change some fields and report (now if force, else when the interval has passed)."""
        self._fold()
        self.current = replace(self.current, **changes)  # type: ignore[arg-type]
        self._emit(force)
        return self.current

    def advance(self, n: int) -> None:
        """Count n more transferred bytes (cheap: a Progress is built only when reported)."""
        self._pending += n
        if time.monotonic() - self.last_emit >= self.interval:
            self._fold()
            self._emit(True)

    @property
    def done(self) -> int:
        """Bytes done so far, including those not reported yet."""
        return self.current.done + self._pending

    def _fold(self) -> None:
        """Fold the bytes counted since the last report into the current Progress."""
        self.meter.add(self._pending)
        done = self.current.done + self._pending
        self._pending = 0
        speed = self.meter.rate()
        left = max(0, self.current.total - done)
        self.current = replace(
            self.current, done=done, speed=speed, eta=left / speed if speed > 0 else None
        )

    def _emit(self, force: bool) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if force or now - self.last_emit >= self.interval:
            self.last_emit = now
            self.callback(self.current)
