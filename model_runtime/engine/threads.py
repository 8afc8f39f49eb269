"""Threads that adapt: fewer llama.cpp threads while other programs use the cores, and back.

llama.cpp's threads spin-wait for each other at every step, so one thread the system takes off
its core stalls them all: on a 2-core machine with one core busy elsewhere, 2 threads decoded
at a third of 1 thread's speed. ThreadGovernor is the policy, fed decode speeds and the CPU
the rest of the machine uses (no clock of its own, so it is tested with made-up timings);
AdaptiveThreads measures both while the engine decodes and applies the count between tokens.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

# A count "contends" when its threads and the other programs need more cores than there are,
# by at least this much of a core.
CONTENTION_MARGIN = 0.5
# Decoding this much slower than the same count did on a free machine is a sharp drop.
SLOWDOWN = 0.8
# A trial count is kept only when it is at least this much faster.
GAIN = 1.05
RETRY_SECONDS = 1.0  # the least time between two trials
RECHECK_SECONDS = 5.0  # how often a lowered count tries more threads again while busy
RATE_TTL_SECONDS = 20.0  # older speeds say little about the machine now


@dataclass(frozen=True)
class _Rate:
    tokens_per_second: float
    at: float


class ThreadGovernor:
    """The thread count to decode with, decided once per measured window.

    While the planned count contends with other programs and decodes sharply slower than it
    did on a free machine (or no free speed is known yet), it tries the count that would not
    contend, and keeps whichever is faster; when the machine is free again it tries the
    planned count again. Every trial is judged by speed, never by load alone.
    """

    def __init__(self, planned: int, n_cpus: int) -> None:
        self.planned = max(1, planned)
        self.n_cpus = max(1, n_cpus)
        self.current = self.planned
        self._rates: dict[int, _Rate] = {}  # the last window's speed of each count
        self._free: dict[int, float] = {}  # each count's speed while it did not contend
        self._trying_from: int | None = None  # the count a trial is compared with
        self._last_trial = -math.inf

    def contends(self, threads: int, others: float) -> bool:
        """Whether `threads` and other programs using `others` cores need more cores than
        the machine has."""
        return others > self.n_cpus - threads + CONTENTION_MARGIN

    def decide(self, tokens_per_second: float, others: float, now: float) -> int:
        """One window's speed at the current count and the cores others used meanwhile; the
        count to use from now on."""
        count = self.current
        self._rates[count] = _Rate(tokens_per_second, now)
        if not self.contends(count, others):
            known = self._free.get(count, 0.0)
            self._free[count] = max(tokens_per_second, 0.95 * known)
        if self._trying_from is not None:
            return self._judge_trial(others, now)
        since = now - self._last_trial
        if since < RETRY_SECONDS:
            return count
        if count > 1 and self.contends(count, others) and self._slowed(count, tokens_per_second):
            return self._try(self._uncontended(others), now)
        if count < self.planned:
            if not self.contends(self.planned, others):
                return self._try(self.planned, now)
            if since >= RECHECK_SECONDS:
                return self._try(count + 1, now)
        return count

    def _slowed(self, count: int, rate: float) -> bool:
        free = self._free.get(count)
        return free is None or rate < SLOWDOWN * free

    def _uncontended(self, others: float) -> int:
        """The most threads that would not contend with others, below the current count."""
        fits = math.floor(self.n_cpus - others + CONTENTION_MARGIN)
        return max(1, min(self.current - 1, fits))

    def _try(self, count: int, now: float) -> int:
        if count == self.current:
            return count
        self._trying_from = self.current
        self._last_trial = now
        self.current = count
        return count

    def _judge_trial(self, others: float, now: float) -> int:
        """After one window at the trial count: keep it if it is faster, else go back."""
        before = self._trying_from
        assert before is not None
        self._trying_from = None
        tried, was = self._rates[self.current], self._rates.get(before)
        if was is None or now - was.at > RATE_TTL_SECONDS:
            return self.current  # nothing recent to compare with: keep it and measure on
        if tried.tokens_per_second >= GAIN * was.tokens_per_second:
            going_down = self.current < before
            if going_down and self.current > 1 and self.contends(self.current, others):
                return self._try(self._uncontended(others), now)
            return self.current
        self.current = before
        return before


class CpuLoad:
    """How many of this process's CPUs the other programs used since the last look."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._process = psutil.Process()
        self._cpus = _affinity()
        self._last = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        per_cpu = self._psutil.cpu_times(percpu=True)
        busy = 0.0
        for number, times in enumerate(per_cpu):
            if self._cpus is None or number in self._cpus:
                idle = times.idle + getattr(times, "iowait", 0.0)
                guests = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
                busy += sum(times) - idle - guests  # guest time is counted in user already
        own = self._process.cpu_times()
        return time.monotonic(), busy, own.user + own.system

    def others(self) -> float:
        """Cores used by other processes, on average since the previous call."""
        then, busy0, own0 = self._last
        self._last = now, busy1, own1 = self._sample()
        wall = now - then
        if wall <= 0:
            return 0.0
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / wall


def _affinity() -> set[int] | None:
    """The CPUs this process may run on (None: all, where the system doesn't say)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def cpu_count() -> int:
    """Logical CPUs this process may run on."""
    cpus = _affinity()
    return len(cpus) if cpus else os.cpu_count() or 1


class AdaptiveThreads:
    """Measures decode speed in windows, asks the governor, and sets the thread counts.

    `apply(n_decode, n_batch)` sets a context's counts (llama_set_n_threads); a batch of
    several tokens (a verified draft) runs on the batch count, so while decoding both are the
    governor's. Prompt evaluation keeps the planned batch count unless the machine is busy.
    """

    WINDOW_SECONDS = 0.5
    WINDOW_TOKENS = 32

    def __init__(
        self,
        planned: int,
        planned_batch: int,
        *,
        adapt: bool = True,
        load: Callable[[], float] | None = None,
        n_cpus: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.governor = ThreadGovernor(planned, n_cpus or cpu_count())
        self.planned_batch = max(1, planned_batch)
        self.adapt = adapt and self.governor.planned > 1
        self._load = load if load is not None else (CpuLoad().others if self.adapt else None)
        self._clock = clock
        self._appliers: list[Callable[[int, int], None]] = []
        self._tokens = 0
        self._seconds = 0.0
        self._busy = False  # the last window found other programs contending
        self.used: Counter[int] = Counter()  # tokens decoded at each count, this answer

    @property
    def current(self) -> int:
        return self.governor.current

    def attach(self, apply: Callable[[int, int], None]) -> None:
        """A context whose thread counts follow the governor's (the model's, a draft's)."""
        self._appliers.append(apply)

    def detach(self, apply: Callable[[int, int], None]) -> None:
        """A context that is closed (a failed draft model's): never set it again."""
        self._appliers = [a for a in self._appliers if a is not apply]

    def _set(self, n_decode: int, n_batch: int) -> None:
        for apply in self._appliers:
            apply(n_decode, n_batch)

    def new_answer(self) -> None:
        """Count anew which thread counts decode the answer that begins."""
        self.used.clear()
        self._tokens, self._seconds = 0, 0.0

    def prompt(self) -> None:
        """Prompt evaluation: the planned batch count, unless other programs contend."""
        self._set(self.current, self.current if self._busy else self.planned_batch)

    def decoding(self) -> None:
        """Prompt evaluation is over: batches of drafted tokens decode on the governor's count."""
        self._set(self.current, self.current)

    def step(self, n_tokens: int, seconds: float) -> None:
        """One decode step made n_tokens in seconds; at a window's end the count may change."""
        self.used[self.current] += n_tokens
        if not self.adapt:
            return
        self._tokens += n_tokens
        self._seconds += seconds
        if self._seconds < self.WINDOW_SECONDS and self._tokens < self.WINDOW_TOKENS:
            return
        if self._seconds <= 0:
            return
        assert self._load is not None
        others = self._load()
        rate = self._tokens / self._seconds
        self._tokens, self._seconds = 0, 0.0
        before = self.current
        self._busy = self.governor.contends(self.governor.planned, others)
        after = self.governor.decide(rate, others, self._clock())
        if after != before:
            self._set(after, after)

    def most_used(self) -> int:
        """The count that decoded most of this answer's tokens (the planned one if none)."""
        return self.used.most_common(1)[0][0] if self.used else self.current
