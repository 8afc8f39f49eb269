"""How much one server takes on: the limits of serving, and the queue of requests for the model.

The model answers one request at a time, in arrival order. The queue is bounded (a request
that finds it full is refused at once) and so is each wait (a request that waited too long is
refused with a hint of when to come back), so a flood of requests cannot pile up threads and
sockets without end, and no client waits forever behind a long answer.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from model_runtime.serving.openai_format import WireError

WATCH_SECONDS = 0.1  # how often a waiting request checks whether to give up


@dataclass(frozen=True)
class ServeLimits:
    """The server's limits; each has a default that suits one person's machine."""

    max_tokens: int | None = None  # the most one answer may ask for; None: the model's context
    max_waiting: int = 16  # requests that may wait for the model; the next is refused (429)
    wait_seconds: float = 300.0  # a request waiting longer is refused (503, Retry-After)
    idle_seconds: float = 60.0  # a connection that sends or takes nothing this long is closed
    max_connections: int = 64  # open connections; the next is refused (503) and closed

    def __post_init__(self) -> None:
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError("The largest max_tokens must be at least 1.")
        if self.max_waiting < 0:
            raise ValueError("The number of waiting requests can't be negative.")
        if self.wait_seconds <= 0 or self.idle_seconds <= 0:
            raise ValueError("Timeouts must be longer than 0 seconds.")
        if self.max_connections < 1:
            raise ValueError("At least one connection must be allowed.")


class Turn(enum.Enum):
    """How a wait for the model ended."""

    GRANTED = "granted"  # the model is this caller's until release()
    GAVE_UP = "gave up"  # give_up() said so (the client left, the server stops)
    FULL = "full"  # too many were waiting already
    TIMED_OUT = "timed out"  # the wait was longer than allowed


class FifoTurns:
    """One turn at a time, granted in arrival order, to at most max_waiting waiters."""

    def __init__(self, max_waiting: int = 16, wait_seconds: float = 300.0) -> None:
        self.max_waiting = max_waiting
        self.wait_seconds = wait_seconds
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._busy = False
        self._granted_at = 0.0
        self._typical_turn = 5.0  # seconds a turn takes, averaged as they end

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def busy(self) -> bool:
        return self._busy

    def acquire(self, give_up: Callable[[], bool]) -> Turn:
        """Wait for this caller's turn, unless the queue is full, the wait too long, or
        give_up() says to stop waiting."""
        ticket = object()
        deadline = time.monotonic() + self.wait_seconds
        with self._cond:
            if (self._busy or self._waiting) and len(self._waiting) >= self.max_waiting:
                return Turn.FULL
            self._waiting.append(ticket)
            try:
                while self._busy or self._waiting[0] is not ticket:
                    if give_up():
                        return Turn.GAVE_UP
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return Turn.TIMED_OUT
                    self._cond.wait(min(WATCH_SECONDS, left))
                self._busy = True
                self._granted_at = time.monotonic()
                return Turn.GRANTED
            finally:
                self._waiting.remove(ticket)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            took = time.monotonic() - self._granted_at
            self._typical_turn = 0.7 * self._typical_turn + 0.3 * took
            self._busy = False
            self._cond.notify_all()

    def retry_after(self) -> int:
        """Seconds after which a refused request may find room: the turns ahead of it, at the
        pace they have been taking (at least 1, at most 60)."""
        ahead = len(self._waiting) + (1 if self._busy else 0)
        return max(1, min(60, math.ceil(self._typical_turn * max(1, ahead))))

    def refusal(self, turn: Turn) -> WireError:
        """The answer to a request the queue did not take (FULL: 429) or took too long for
        (TIMED_OUT: 503), with Retry-After."""
        if turn is Turn.FULL:
            message = f"{self.max_waiting} requests are already waiting for the model"
            status, code = 429, "queue_full"
        else:
            message = f"The model was busy for longer than {self.wait_seconds:g} s"
            status, code = 503, "queue_timeout"
        return WireError(
            f"{message}; try again shortly.",
            status=status,
            kind="server_error",
            code=code,
            retry_after=self.retry_after(),
        )
