"""Threads that adapt: the governor's policy on made-up timings (a fake clock), and the
adapter that measures windows and sets a context's thread counts."""

from __future__ import annotations

import pytest

from model_runtime.engine.threads import (
    RECHECK_SECONDS,
    RETRY_SECONDS,
    AdaptiveThreads,
    CpuLoad,
    ThreadGovernor,
)

# Tokens/s of SmolLM2 on a 2-core machine (measured): idle, and with one core kept busy.
IDLE = {1: 77.0, 2: 92.0}
ONE_CORE_BUSY = {1: 75.5, 2: 32.8}


class Machine:
    """Feeds a governor one window at a time at the speed its current count gets now."""

    def __init__(self, governor: ThreadGovernor, window: float = 0.5) -> None:
        self.governor = governor
        self.window = window
        self.now = 0.0
        self.counts: list[int] = []

    def run(self, seconds: float, speeds: dict[int, float], others: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += self.window
            speed = speeds[self.governor.current]
            self.counts.append(self.governor.decide(speed, others, self.now))


def test_an_idle_machine_keeps_the_planned_count() -> None:
    machine = Machine(ThreadGovernor(planned=2, n_cpus=2))
    machine.run(60, IDLE, others=0.05)
    assert set(machine.counts) == {2}


def test_a_busy_core_makes_it_try_fewer_threads_and_keep_the_faster() -> None:
    governor = ThreadGovernor(planned=2, n_cpus=2)
    machine = Machine(governor)
    machine.run(5, IDLE, others=0.05)
    machine.counts.clear()
    machine.run(30, ONE_CORE_BUSY, others=1.0)
    assert machine.counts[0] == 1  # the first window that collapsed
    share_at_one = machine.counts.count(1) / len(machine.counts)
    assert share_at_one > 0.9  # with a look at 2 threads now and then, which loses
    assert 2 in machine.counts


def test_it_goes_back_up_when_the_machine_is_free_again() -> None:
    governor = ThreadGovernor(planned=2, n_cpus=2)
    machine = Machine(governor)
    machine.run(10, ONE_CORE_BUSY, others=1.0)
    assert governor.current == 1
    machine.counts.clear()
    machine.run(RETRY_SECONDS + 2, IDLE, others=0.05)
    assert governor.current == 2
    assert machine.counts[-1] == 2


def test_a_busy_machine_from_the_start_needs_no_idle_speed() -> None:
    governor = ThreadGovernor(planned=2, n_cpus=2)
    assert governor.decide(ONE_CORE_BUSY[2], 1.0, now=0.5) == 1
    assert governor.decide(ONE_CORE_BUSY[1], 1.0, now=1.0) == 1


def test_fewer_threads_that_are_not_faster_are_given_up() -> None:
    """Other programs use the CPU, but fewer threads don't help: keep the planned count, and
    don't try again at every window."""
    governor = ThreadGovernor(planned=2, n_cpus=2)
    speeds = {1: 40.0, 2: 60.0}
    machine = Machine(governor)
    machine.run(RECHECK_SECONDS, speeds, others=0.8)
    assert governor.current == 2
    assert machine.counts.count(1) <= RECHECK_SECONDS / RETRY_SECONDS


def test_a_slow_but_uncontended_count_is_left_alone() -> None:
    """Speed alone (a long context, a slow disk) is no reason: others must contend."""
    governor = ThreadGovernor(planned=2, n_cpus=2)
    governor.decide(90.0, 0.0, now=0.5)
    assert governor.decide(30.0, 0.2, now=2.0) == 2


def test_a_big_machine_drops_to_the_count_that_fits() -> None:
    governor = ThreadGovernor(planned=8, n_cpus=16)
    assert not governor.contends(8, others=7.0)
    assert governor.decide(10.0, 12.0, now=1.0) == 4  # 16 cores - 12 busy elsewhere


def test_one_planned_thread_never_changes() -> None:
    machine = Machine(ThreadGovernor(planned=1, n_cpus=2))
    machine.run(20, ONE_CORE_BUSY, others=1.5)
    assert set(machine.counts) == {1}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_adaptive_threads_set_the_counts_between_windows() -> None:
    clock, applied, others = FakeClock(), [], [1.0]
    threads = AdaptiveThreads(2, 2, load=lambda: others[0], n_cpus=2, clock=clock)
    threads.attach(lambda n, batch: applied.append((n, batch)))
    threads.new_answer()
    threads.prompt()
    threads.decoding()
    assert applied == [(2, 2), (2, 2)]
    for _ in range(80):  # one core busy elsewhere: 2 threads 30 ms a token, 1 thread 13 ms
        seconds = 1 / ONE_CORE_BUSY[threads.current]
        clock.now += seconds
        threads.step(1, seconds)
    assert (1, 1) in applied  # a window closed: 1 thread from then on
    assert threads.current == 1
    threads.prompt()  # the machine is busy: prompts on the lowered count too
    assert applied[-1] == (1, 1)
    assert threads.used[2] > 0
    assert threads.most_used() == 1


def test_fixed_threads_never_change() -> None:
    applied = []
    threads = AdaptiveThreads(2, 2, adapt=False, n_cpus=2)
    threads.attach(lambda n, batch: applied.append((n, batch)))
    threads.decoding()
    for _ in range(200):
        threads.step(1, 0.05)
    assert applied == [(2, 2)]
    assert threads.most_used() == 2


@pytest.mark.slow
def test_cpu_load_sees_another_process() -> None:
    import subprocess
    import sys

    busy_loop = "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass\n"
    load = CpuLoad()
    subprocess.run([sys.executable, "-c", busy_loop], check=True)  # one core, 1.5 s
    assert load.others() >= 0.6
