"""Formulas are drawn in a child process, one at a time, each within a time budget.

ziamath is pure Python and can't be interrupted: a pathological formula would hold whichever
thread draws it, and a Python thread beside the GUI's slows the window down (they share one
interpreter lock). A child process draws on another core, at a lower priority, and one that
overruns the budget is killed: its formula is shown as its source ("it took longer than 2 s to
draw") and the next one gets a fresh process. The budget counts the child's CPU time, so a busy
machine that gives it little CPU doesn't turn ordinary formulas into failed ones; WALL_S bounds
the wait all the same.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import sys
import threading
from collections.abc import Iterator
from typing import Any

from model_runtime.chat.math import Formula
from model_runtime.chat.math_render import RenderedFormula, check, render
from model_runtime.errors import FormulaError

BUDGET_S = 2.0  # CPU seconds a formula may take
WALL_S = 60.0  # and seconds of waiting, however busy the machine
START_S = 60.0  # to import the renderer and load its font, on a busy machine
IDLE_S = 60.0  # a child with nothing to draw for this long ends (a formula starts another)

Result = RenderedFormula | str  # the drawing, or why there is none


class FormulaRenderer:
    """Ask for formulas from any thread; ``results()``, run on one thread, draws them in order
    and yields (formula, drawing or words why not)."""

    def __init__(self, budget: float = BUDGET_S) -> None:
        self.budget = budget
        self.starts = 0  # child processes started (a killed one is replaced)
        self._requests: queue.SimpleQueue[Formula | None] = queue.SimpleQueue()
        self._process: Any = None
        self._conn: Any = None
        self._usage: Any = None  # psutil's view of the child: its CPU time

    def request(self, formula: Formula) -> None:
        self._requests.put(formula)

    def close(self) -> None:
        """End ``results()`` (and the child process with it)."""
        self._requests.put(None)

    def results(self, cancel: threading.Event | None = None) -> Iterator[tuple[Formula, Result]]:
        cancel = cancel or threading.Event()
        idle = 0.0
        try:
            while not cancel.is_set():
                try:
                    formula = self._requests.get(timeout=0.2)
                except queue.Empty:
                    idle += 0.2
                    if idle >= IDLE_S and self._process is not None:
                        self._stop()  # frees its memory; the next formula starts another
                    continue
                if formula is None:
                    return
                idle = 0.0
                yield formula, self.draw(formula)
        finally:
            self._stop()

    def draw(self, formula: Formula) -> Result:
        """One formula's drawing (or why there is none), in the child, within the budget."""
        reason = check(formula.source)
        if reason is not None:
            return reason  # said at once, without a round trip
        try:
            conn = self._child()
            conn.send(formula)
            if not self._answered(conn):
                self._stop()
                return f"it took longer than {self.budget:g} s to draw"
            result: Result = conn.recv()
        except (OSError, EOFError, ValueError):
            self._stop()
            return "the renderer stopped while drawing it"
        return result

    def _answered(self, conn: Any) -> bool:
        """Wait for the child's answer while it has CPU time left in the budget (and the wait
        is under WALL_S); False when it ran out."""
        started, waited = self._cpu_seconds(), 0.0
        step = min(0.05, self.budget)
        while not conn.poll(step):
            waited += step
            if self._cpu_seconds() - started > self.budget or waited > WALL_S:
                return conn.poll(0)
        return True

    def _cpu_seconds(self) -> float:
        import psutil

        try:
            if self._usage is None or self._usage.pid != self._process.pid:
                self._usage = psutil.Process(self._process.pid)
            times = self._usage.cpu_times()
        except (psutil.Error, AttributeError):
            return float("inf")  # gone: the next poll says so
        return float(times.user + times.system)

    def _child(self) -> Any:
        if self._conn is not None and self._process.is_alive():
            return self._conn
        self._stop()
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        self._process = ctx.Process(target=serve, args=(child,), name="ponder-math", daemon=True)
        self._process.start()
        self.starts += 1
        child.close()
        if not parent.poll(START_S):
            raise EOFError("the renderer did not start")
        parent.recv()  # ready
        self._conn = parent
        return parent

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            process.kill()
            process.join(timeout=5)


def serve(conn: Any) -> None:
    """The child: draw each formula sent, answer with its drawing or the words why not."""
    _yield_to_the_window()
    render(Formula("x", False))  # import the renderer, load its font
    conn.send("ready")
    while True:
        try:
            formula = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result: Result = render(formula)
        except FormulaError as exc:
            result = str(exc)
        except Exception as exc:  # a renderer bug must cost one formula, not the process
            result = f"the renderer failed ({type(exc).__name__})"
        with contextlib.suppress(OSError):
            conn.send(result)


def _yield_to_the_window() -> None:
    """Run at a lower priority: on a busy machine the window's thread comes first."""
    import psutil

    with contextlib.suppress(OSError, psutil.Error):
        low = psutil.BELOW_NORMAL_PRIORITY_CLASS if sys.platform == "win32" else 10
        psutil.Process().nice(low)
