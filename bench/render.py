"""Rendering answers stays linear in their length, and the window never waits long on one.

For answers of 10 K, 100 K, 1 M and 5 M characters of four kinds (paragraphs of Markdown, one
long line without spaces, one line of words, one fenced code block), in the real chat column
(offscreen):
  1. render: the answer set at once, as when a conversation is reopened: the time until all
     of it is shown (wall clock, and the GUI thread's CPU time), that per MB, and the longest
     event-loop stall meanwhile;
  2. stream: the same answer streamed into an assistant message the way the controller feeds
     it (2,000 chunks, painted every 40 ms), then finished: the longest stall.
Per kind it prints the ratio of CPU time per MB at the largest size to the smallest (linear:
≤ 1.5; CPU time, since wall time follows whatever else the machine runs) and, over everything,
the longest stall (target: ≤ 100 ms). A stall is the longest gap between beats of a 1 ms timer;
beside it, how much of it was the GUI thread's own CPU time.
Run: `python bench/render.py [--sizes 10000,100000] [--kinds code] [--json P]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QElapsedTimer, QEvent, QTimer
from PySide6.QtWidgets import QApplication

SIZES = (10_000, 100_000, 1_000_000, 5_000_000)
STREAM_CHUNKS = 2_000
LINEAR_TARGET = 1.5
STALL_TARGET_S = 0.1

PROSE = "the model weighs each step of its reasoning before it answers, **checking** the"
WORDS = [*PROSE.split(" "), "`constraints`", "and", "[sources](https://example.org)", "twice"]
CODE_LINE = "    total = compute(value, other_value) + 42  # keep the running total\n"


def paragraphs(size: int) -> str:
    rnd = random.Random(size)
    out, total = [], 0
    while total < size:
        out.append(" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(20, 120))))
        total += len(out[-1]) + 2
    return "\n\n".join(out)[:size]


def one_line(size: int) -> str:
    """A reply stuck in a loop: one line, no spaces (a hash, a dump, a row of dashes)."""
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


def words(size: int) -> str:
    """A paragraph that never ends: words, and no line break."""
    line = " ".join(WORDS) + " "
    return (line * (size // len(line) + 1))[:size]


def code(size: int) -> str:
    body = (CODE_LINE * (size // len(CODE_LINE) + 1))[: size - 20]
    return "```python\n" + body + "\n```\n"


KINDS: dict[str, Callable[[int], str]] = {
    "paragraphs": paragraphs,
    "one line": one_line,
    "words": words,
    "code": code,
}


class Stalls:
    """The longest gap between beats of a 1 ms timer while the block runs, and how much of it
    this thread spent on the CPU (the rest: the machine ran something else)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.longest_cpu = 0.0  # this thread's CPU time in the longest gap
        self._clock = QElapsedTimer()
        self._cpu = 0.0
        self._beat = QTimer()
        self._beat.setInterval(1)
        self._beat.timeout.connect(self._tick)

    def _tick(self) -> None:
        gap, cpu = self._clock.restart() / 1000, time.thread_time()
        if gap > self.longest:
            self.longest, self.longest_cpu = gap, cpu - self._cpu
        self._cpu = cpu

    @contextmanager
    def measuring(self) -> Iterator[Stalls]:
        self._clock.start()
        self._cpu = time.thread_time()
        self._beat.start()
        try:
            yield self
        finally:
            self._tick()
            self._beat.stop()


def fresh(app: QApplication, chat: Any) -> None:
    """An empty chat: the last answers are deleted for real (processEvents alone never does)."""
    chat.clear()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()


def busy(view: Any) -> bool:
    return bool(getattr(view, "rendering", False))


def wait(app: QApplication, done: Callable[[], bool]) -> None:
    while not done():
        app.processEvents()


def measure_render(app: QApplication, chat: Any, text: str) -> tuple[float, float, Stalls]:
    """Seconds until the whole answer is shown (wall, CPU), and the stalls meanwhile."""
    from desktop.chat.messages import AssistantMessage

    fresh(app, chat)
    message = AssistantMessage()
    chat.append(message)
    app.processEvents()
    view = message.answer_view
    view.show()
    with Stalls().measuring() as stalls:
        started, cpu = time.perf_counter(), time.thread_time()
        view.set_markdown(text)
        wait(app, lambda: not busy(view))
        app.processEvents()
        seconds, cpu = time.perf_counter() - started, time.thread_time() - cpu
    return seconds, cpu, stalls


def measure_stream(app: QApplication, chat: Any, text: str) -> tuple[float, float, Stalls]:
    """Seconds to stream and finish the answer, and the stalls meanwhile."""
    from desktop.chat.messages import AssistantMessage
    from model_runtime.chat.generation import Chunk, Finished, GenerationStats

    fresh(app, chat)
    message = AssistantMessage()
    chat.append(message)
    app.processEvents()
    message.model.start(1)
    message.resume()
    size = max(1, len(text) // STREAM_CHUNKS)
    starts = iter(range(0, len(text), size))
    feeder = QTimer()
    feeder.setInterval(0)

    def feed() -> None:
        start = next(starts, None)
        if start is None:
            feeder.stop()
            return
        piece = text[start : start + size]
        message.model.add(Chunk(1, "answer", piece))
        message.add_chunk("answer", piece)

    feeder.timeout.connect(feed)
    with Stalls().measuring() as stalls:
        started, cpu = time.perf_counter(), time.thread_time()
        feeder.start()
        wait(app, lambda: not feeder.isActive())
        message.model.add(Finished(1, GenerationStats(n_generated=STREAM_CHUNKS)))
        message.finish()
        wait(app, lambda: not busy(message.answer_view))
        app.processEvents()
        seconds, cpu = time.perf_counter() - started, time.thread_time() - cpu
    return seconds, cpu, stalls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--no-stream", action="store_true", help="only render at once")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from desktop.app import create_application
    from desktop.chat.view import ChatView

    app = create_application()
    chat = ChatView()
    chat.resize(1000, 800)
    chat.show()
    app.processEvents()

    for make in KINDS.values():  # first use loads lexers, fonts and styles
        measure_render(app, chat, make(5_000))
    rows: list[dict[str, Any]] = []
    print(f"{'kind':<11}{'size':>10}{'render s':>10}{'s/MB':>7}{'CPU s/MB':>10}", end="")
    print(f"{'stall ms':>12}{'stream s':>10}{'stall ms':>12}   (stall: wall/own CPU)")
    for kind in args.kinds.split(","):
        for size in sizes:
            rows.append(measure(app, chat, kind, size, stream=not args.no_stream))
    chat.close()

    verdicts = summary(rows)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, **verdicts}, indent=2))
    return 1 if args.strict and not verdicts["pass"] else 0


def measure(app: QApplication, chat: Any, kind: str, size: int, *, stream: bool) -> dict[str, Any]:
    """One row: render at once (and stream), printed as it comes."""
    text = KINDS[kind](size)
    render_s, cpu_s, stalls = measure_render(app, chat, text)
    mb = size / 1e6
    row = {"kind": kind, "size": size, "render_s": render_s, "render_cpu_s": cpu_s}
    row.update(render_s_per_mb=render_s / mb, render_cpu_s_per_mb=cpu_s / mb)
    row.update(render_stall_s=stalls.longest, render_stall_cpu_s=stalls.longest_cpu)
    line = f"{kind:<11}{size:>10,}{render_s:>10.2f}{render_s / mb:>7.2f}{cpu_s / mb:>10.2f}"
    line += f"{stalls.longest * 1000:>7.0f}/{stalls.longest_cpu * 1000:<4.0f}"
    if stream:
        stream_s, _, stalls = measure_stream(app, chat, text)
        row.update(stream_s=stream_s, stream_stall_s=stalls.longest)
        row.update(stream_stall_cpu_s=stalls.longest_cpu)
        line += f"{stream_s:>10.2f}{stalls.longest * 1000:>7.0f}/{stalls.longest_cpu * 1000:<4.0f}"
    print(line, flush=True)
    return row


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = {}
    print()
    for kind in dict.fromkeys(row["kind"] for row in rows):
        mine = sorted((r for r in rows if r["kind"] == kind), key=lambda r: r["size"])
        ratio = mine[-1]["render_cpu_s_per_mb"] / mine[0]["render_cpu_s_per_mb"]
        wall = mine[-1]["render_s_per_mb"] / mine[0]["render_s_per_mb"]
        ratios[kind] = ratio
        verdict = "PASS" if ratio <= LINEAR_TARGET else "FAIL"
        print(
            f"{kind}: CPU s/MB at {mine[-1]['size']:,} vs {mine[0]['size']:,}: {ratio:.2f} "
            f"(target ≤ {LINEAR_TARGET}) {verdict}   (wall clock: {wall:.2f})"
        )
    keys = ("render_stall_s", "stream_stall_s")
    longest = max(r[key] for r in rows for key in keys if key in r)
    cpu = max(r[key[:-2] + "_cpu_s"] for r in rows for key in keys if key in r)
    verdict = "PASS" if longest <= STALL_TARGET_S else "FAIL"
    target = STALL_TARGET_S * 1000
    print(f"longest stall: {longest * 1000:.0f} ms (target ≤ {target:.0f}) {verdict}")
    print(f"most CPU time this thread spent in one stall: {cpu * 1000:.0f} ms")
    passed = all(r <= LINEAR_TARGET for r in ratios.values()) and longest <= STALL_TARGET_S
    return {"ratios": ratios, "longest_stall_s": longest, "pass": passed}


if __name__ == "__main__":
    sys.exit(main())
