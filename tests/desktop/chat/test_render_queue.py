"""The render queue: jobs share short slices between events, and a deleted owner's job stops."""

from __future__ import annotations

import itertools
import os
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

import desktop.chat.render_queue as render_queue
from desktop.chat.render_queue import SLICE_SECONDS, RenderQueue


class FakeClock:
    """Each step of a job "takes" ``step`` seconds: the queue reads this clock."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def perf_counter(self) -> float:
        return self.now


class Job:
    def __init__(self, clock: FakeClock, steps: int, log: list[str], name: str) -> None:
        self.clock, self.left, self.log, self.name = clock, steps, log, name

    def __call__(self) -> bool:
        self.clock.now += self.clock.step
        self.left -= 1
        self.log.append(self.name)
        return self.left > 0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(step=SLICE_SECONDS / 4)
    monkeypatch.setattr(render_queue, "time", fake)
    return fake


def test_jobs_take_turns_and_events_run_between_slices(qtbot: Any, clock: FakeClock) -> None:
    queue = RenderQueue()
    owners = [QObject(), QObject()]
    log: list[str] = []
    queue.add(owners[0], Job(clock, 6, log, "a"))
    queue.add(owners[1], Job(clock, 6, log, "b"))
    between: list[int] = []
    ticker = QTimer()
    ticker.setInterval(0)
    ticker.timeout.connect(lambda: between.append(len(log)))
    ticker.start()
    qtbot.waitUntil(lambda: not queue.pending(owners[0]) and not queue.pending(owners[1]))
    ticker.stop()
    assert log[:4] == ["a", "b", "a", "b"]  # one step each, in turn
    assert sorted(log) == ["a"] * 6 + ["b"] * 6
    # Events ran between slices, each slice no longer than about SLICE_SECONDS of steps.
    slices = [b - a for a, b in itertools.pairwise(between) if b > a]
    assert slices and max(slices) <= 4


def test_a_deleted_owner_s_job_is_dropped(qtbot: Any, clock: FakeClock) -> None:
    queue = RenderQueue()
    owner = QObject()
    log: list[str] = []
    queue.add(owner, Job(clock, 1_000, log, "x"))
    owner.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.waitUntil(lambda: not queue.pending(owner))
    assert log == []


def test_a_job_that_fails_is_dropped_and_the_error_shows(qtbot: Any, clock: FakeClock) -> None:
    queue = RenderQueue()
    owner = QObject()

    def broken() -> bool:
        raise ValueError("a bug in a renderer")

    queue.add(owner, broken)
    with qtbot.captureExceptions() as raised:
        qtbot.waitUntil(lambda: not queue.pending(owner))
    assert [str(e[1]) for e in raised] == ["a bug in a renderer"]
