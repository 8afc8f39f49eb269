"""Math rendering: formulas drawn cold and warm, and what math costs an answer that streams.

1. formulas: each one (FILE, one per line; without it, BUILT_IN: typical R1 formulas) drawn
   cold, LaTeX to SVG (ziamath) to an image (QtSvg) in this process, then warm (the views'
   cache). Counts rendered / fell back (shown as source: malformed, unsupported, too long) /
   failed (an error that should not happen), the median and worst cold ms, the median warm ms.
   Targets: at least 95 % rendered on BUILT_IN; median cold at most 30 ms; warm at most 0.1 ms.
   The cold verdict is on the CPU time this thread spent (wall time, beside it, follows what
   else the machine runs, as in bench/render.py).
2. streaming: a 2,000-token answer with 80 formulas streamed into the chat column (offscreen)
   at TOKEN_MS a token, painted every 40 ms as the controller does, with math rendering on,
   then off, each watched for as long as the "on" run took to draw its last formula (each
   round's formulas are new to the renderer): the longest event-loop stall, the median over
   rounds side by side. Target: on / off at most 1.5. A stall is the longest gap between beats
   of a 1 ms timer; beside it, how much of it was the GUI thread's own CPU.
Run: `python bench/math_render.py [FILE] [--rounds 3] [--json P] [--strict]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from render import Stalls, busy, fresh  # bench/render.py: the same stall clock

RENDERED_TARGET = 0.95
COLD_TARGET_MS = 30.0
WARM_TARGET_MS = 0.1
STALL_RATIO_TARGET = 1.5
TOKENS = 2_000
TOKEN_MS = 5  # 200 tokens/s: a fast local model
FORMULAS_IN_ANSWER = 80

BUILT_IN = r"""
x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}
\sum_{k=1}^{n} k = \frac{n(n+1)}{2}
\sum_{k=1}^{n} k^2 = \frac{n(n+1)(2n+1)}{6}
\int_0^1 x^2 \, dx = \frac{1}{3}
\int_{-\infty}^{\infty} e^{-x^2} \, dx = \sqrt{\pi}
\lim_{x \to 0} \frac{\sin x}{x} = 1
\lim_{n \to \infty} \left(1 + \frac{1}{n}\right)^n = e
\boxed{42}
\boxed{x = 2 \text{ or } x = 3}
\boxed{\frac{3}{4}}
\boxed{\dfrac{\sqrt{5} - 1}{2}}
\frac{d}{dx} \left( x^3 \right) = 3x^2
f'(x) = 2x + 3
f(x) = \begin{cases} x^2 & \text{if } x \ge 0 \\ -x & \text{if } x < 0 \end{cases}
\begin{aligned} 2x + 3y &= 7 \\ x - y &= 1 \end{aligned}
\begin{aligned} (x+1)^2 &= x^2 + 2x + 1 \\ &= (x^2 + 1) + 2x \end{aligned}
\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}
\begin{bmatrix}a&b\\c&d\end{bmatrix}^{-1}=\frac{1}{ad-bc}\begin{bmatrix}d&-b\\-c&a\end{bmatrix}
\det \begin{vmatrix} a & b \\ c & d \end{vmatrix} = ad - bc
\binom{n}{k} = \frac{n!}{k!(n-k)!}
\binom{10}{3} = 120
P(A \mid B) = \frac{P(B \mid A) P(A)}{P(B)}
E[X] = \sum_{i} x_i \, P(X = x_i)
\mathbb{R}^n
\forall \epsilon > 0 \; \exists \delta > 0
a^2 + b^2 = c^2
\sqrt{2} \approx 1.41421
\sqrt[3]{27} = 3
x \equiv 3 \pmod{7}
2^{10} = 1024
\log_2 8 = 3
\ln(e^2) = 2
\sin^2 \theta + \cos^2 \theta = 1
\tan \theta = \frac{\sin \theta}{\cos \theta}
e^{i\pi} + 1 = 0
\angle ABC = 90^\circ
\triangle ABC \sim \triangle DEF
\overline{AB} \parallel \overline{CD}
\vec{v} \cdot \vec{w} = |\vec{v}| |\vec{w}| \cos \theta
\|\mathbf{v}\| = \sqrt{v_1^2 + v_2^2}
\gcd(48, 18) = 6
\operatorname{lcm}(4, 6) = 12
\lfloor 3.7 \rfloor = 3
\lceil 3.2 \rceil = 4
|x - 3| < 5
x \in [0, 1]
A \cup B = \{1, 2, 3\}
A \cap B = \emptyset
n! = n \cdot (n-1)!
\prod_{i=1}^{n} i = n!
\frac{a}{b} + \frac{c}{d} = \frac{ad + bc}{bd}
\left( \frac{1}{2} \right)^3 = \frac{1}{8}
3x + 5 = 20 \implies x = 5
x^2 - 5x + 6 = (x - 2)(x - 3)
\frac{x^2 - 1}{x - 1} = x + 1
a_n = a_1 + (n - 1)d
S_n = \frac{a_1 (1 - r^n)}{1 - r}
\sum_{n=0}^{\infty} \frac{x^n}{n!} = e^x
\int \frac{1}{x} \, dx = \ln |x| + C
\nabla f = \left( \frac{\partial f}{\partial x}, \frac{\partial f}{\partial y} \right)
\frac{\partial^2 u}{\partial t^2} = c^2 \frac{\partial^2 u}{\partial x^2}
O(n \log n)
1 + 2 + \cdots + n
a_1, a_2, \ldots, a_n
\text{Area} = \pi r^2 = 25\pi
\frac{1}{2} \times 6 \times 4 = 12
50\% \text{ of } 80 = 40
x_{1,2} = \frac{5 \pm 1}{2}
\Rightarrow x = 3
\therefore \quad y = 7
\underbrace{1 + 1 + \cdots + 1}_{n \text{ times}} = n
\mathcal{O}(1)
x \neq y \quad x \leq y \quad x \geq y
\dfrac{1}{1 - x} = \sum_{n \ge 0} x^n
a &= b + c \\ &= d
""".strip().splitlines()


def measure_formulas(lines: list[str]) -> dict[str, Any]:
    """Each formula cold (ziamath, then QtSvg) and warm (the store's image cache)."""
    from PySide6.QtGui import QColor
    from PySide6.QtSvg import QSvgRenderer

    from desktop.chat.formulas import FormulaStore, paint
    from model_runtime.chat.math import Formula
    from model_runtime.chat.math_render import REF_SIZE, render
    from model_runtime.errors import FormulaError

    started = time.perf_counter()
    render(Formula("x", False))  # import ziamath, load its font: once per process
    start_ms = (time.perf_counter() - started) * 1000
    store = FormulaStore()
    colour, pixels = QColor("#1b1f27"), 15.0
    cold, cold_cpu, warm, fell_back, failed = [], [], [], [], []
    for line in lines:
        formula = Formula(line, display=True)
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            drawing = render(formula)
            svg = QSvgRenderer(drawing.svg.encode())
            paint(svg, drawing, pixels / REF_SIZE, colour, 1.0)
        except FormulaError as exc:
            fell_back.append((line, str(exc)))
            continue
        except Exception as exc:  # a bug: counted, shown, never hidden
            failed.append((line, f"{type(exc).__name__}: {exc}"))
            continue
        cold.append((time.perf_counter() - began) * 1000)
        cold_cpu.append((time.thread_time() - cpu) * 1000)
        number = store.put(formula, drawing)
        store.image(number, pixels, colour, 1.0)
        began = time.perf_counter()
        store.image(number, pixels, colour, 1.0)
        warm.append((time.perf_counter() - began) * 1000)
    return {
        "count": len(lines),
        "rendered": len(cold),
        "fell_back": fell_back,
        "failed": failed,
        "start_ms": start_ms,
        "cold_median_ms": statistics.median(cold) if cold else 0.0,
        "cold_worst_ms": max(cold, default=0.0),
        "cold_cpu_median_ms": statistics.median(cold_cpu) if cold_cpu else 0.0,
        "cold_cpu_worst_ms": max(cold_cpu, default=0.0),
        "warm_median_ms": statistics.median(warm) if warm else 0.0,
    }


def math_answer(round_: int) -> str:
    """About 2,000 tokens of prose with 80 formulas: inline ($…$, \\(…\\)), display (\\[…\\]),
    aligned, and a boxed result at the end; new to the renderer in every round."""
    rnd = random.Random(round_)
    words = ("so", "the", "next", "step", "checks", "each", "term", "against", "the", "bound")
    pieces: list[str] = []
    for index in range(FORMULAS_IN_ANSWER - 1):
        formula = rnd.choice(BUILT_IN[:-1]) + f" + r_{{{round_}{index}}}"
        prose = " ".join(rnd.choice(words) for _ in range(rnd.randint(12, 22)))
        kind = index % 8
        if kind == 0:
            pieces.append(f"{prose}:\n\\[\n{formula}\n\\]\n")
        elif kind == 4:
            pieces.append(
                f"{prose}:\n\\begin{{aligned}}\na_{{{index}}} &= {formula} \\\\\n"
                f"&= b\n\\end{{aligned}}\n"
            )
        elif kind % 2:
            pieces.append(f"{prose} ${formula}$ {prose}.")
        else:
            pieces.append(f"{prose} \\({formula}\\) {prose}.")
        if index % 5 == 4:
            pieces.append("\n\n")
    pieces.append(f"\n\nSo the answer is $\\boxed{{x = {round_}}}$.\n")
    return " ".join(pieces)


def wait(app: Any, done: Any) -> None:
    """Let the event loop run until done(), sleeping between events as the app does (a loop
    that spins would compete for the CPU with the renderer process, which the app never does)."""
    from PySide6.QtCore import QEventLoop

    while not done():
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)


def measure_stream(
    app: Any, chat: Any, text: str, math: bool, window: float = 0.0
) -> tuple[float, float, float]:
    """Stream the answer into a message, TOKENS chunks, then finish; wait for every formula,
    and watch for at least ``window`` seconds in all. Returns (seconds until the answer and its
    formulas were shown, longest stall, the GUI thread's CPU in it)."""
    from PySide6.QtCore import QTimer

    from desktop.chat.formulas import shared_formulas
    from desktop.chat.messages import AssistantMessage
    from model_runtime.chat.generation import Chunk, Finished, GenerationStats

    store = shared_formulas()
    store.set_enabled(math)
    fresh(app, chat)
    message = AssistantMessage()
    chat.append(message)
    app.processEvents()
    message.model.start(1)
    message.resume()
    size = max(1, len(text) // TOKENS)
    starts = iter(range(0, len(text), size))
    feeder = QTimer()
    feeder.setInterval(TOKEN_MS)

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
        started = time.perf_counter()
        feeder.start()
        wait(app, lambda: not feeder.isActive())
        message.model.add(Finished(1, GenerationStats(n_generated=TOKENS)))
        message.finish()
        wait(app, lambda: not busy(message.answer_view) and not store.pending)
        app.processEvents()
        seconds = time.perf_counter() - started
        wait(app, lambda: time.perf_counter() - started >= window)
    return seconds, stalls.longest, stalls.longest_cpu


def streaming(rounds: int) -> dict[str, Any]:
    from desktop.app import create_application
    from desktop.chat.formulas import shared_formulas
    from desktop.chat.view import ChatView

    app = create_application()
    chat = ChatView()
    chat.resize(1000, 800)
    chat.show()
    app.processEvents()
    measure_stream(app, chat, math_answer(999), True)  # warm: fonts, the renderer process
    measure_stream(app, chat, math_answer(999), False)
    rows: dict[str, list[tuple[float, float, float]]] = {"on": [], "off": []}
    for round_ in range(rounds):
        rows["on"].append(measure_stream(app, chat, math_answer(round_), True))
        window = rows["on"][-1][0]  # off is watched as long as on took
        rows["off"].append(measure_stream(app, chat, math_answer(round_), False, window))
        for mode in ("on", "off"):
            seconds, stall, cpu = rows[mode][-1]
            print(
                f"  round {round_ + 1} math {mode:<3}  shown in {seconds:6.2f} s   longest "
                f"stall {stall * 1000:5.0f} ms (own CPU {cpu * 1000:3.0f} ms)",
                flush=True,
            )
    shared_formulas().set_enabled(True)
    chat.close()
    on = statistics.median(stall for _, stall, _ in rows["on"])
    off = statistics.median(stall for _, stall, _ in rows["off"])
    on_cpu = statistics.median(cpu for _, _, cpu in rows["on"])
    off_cpu = statistics.median(cpu for _, _, cpu in rows["off"])
    return {
        "rounds": rows,
        "stall_on_s": on,
        "stall_off_s": off,
        "ratio": on / off,
        "cpu_ratio": on_cpu / max(off_cpu, 1e-3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, help="formulas, one per line")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-stream", action="store_true", help="only the formulas")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    lines = args.file.read_text().splitlines() if args.file else BUILT_IN
    lines = [line.strip() for line in lines if line.strip()]

    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])
    result = measure_formulas(lines)
    share = result["rendered"] / max(1, result["count"])
    print(f"formulas: {result['count']} ({'built-in' if not args.file else args.file})")
    print(f"  renderer start (import, font): {result['start_ms']:.0f} ms")
    print(
        f"  rendered {result['rendered']}  fell back {len(result['fell_back'])}  "
        f"failed {len(result['failed'])}   ({share:.0%} rendered)"
    )
    print(
        f"  cold: median {result['cold_cpu_median_ms']:.1f} ms CPU "
        f"({result['cold_median_ms']:.1f} ms wall), worst {result['cold_cpu_worst_ms']:.1f} ms "
        f"CPU ({result['cold_worst_ms']:.1f} ms wall)   "
        f"warm (cache hit): median {result['warm_median_ms'] * 1000:.1f} µs"
    )
    for line, why in result["fell_back"] + result["failed"]:
        print(f"    not rendered: {line[:60]!r}: {why}")
    verdicts = {
        "rendered": share >= RENDERED_TARGET or bool(args.file),
        "cold": result["cold_cpu_median_ms"] <= COLD_TARGET_MS,
        "warm": result["warm_median_ms"] <= WARM_TARGET_MS,
    }
    stream: dict[str, Any] = {}
    if not args.no_stream:
        print(f"streaming: {TOKENS:,} tokens, {FORMULAS_IN_ANSWER} formulas, {args.rounds} rounds")
        stream = streaming(args.rounds)
        verdicts["stream"] = stream["ratio"] <= STALL_RATIO_TARGET
        on, off = stream["stall_on_s"] * 1000, stream["stall_off_s"] * 1000
        print(
            f"  longest stall, median: math on {on:.0f} ms, off {off:.0f} ms: on / off "
            f"{stream['ratio']:.2f} (own CPU in it: {stream['cpu_ratio']:.2f})"
        )
    print()
    print(
        f"rendered {share:.0%} (target ≥ {RENDERED_TARGET:.0%}) "
        f"{'PASS' if verdicts['rendered'] else 'FAIL'}"
    )
    print(
        f"median cold {result['cold_cpu_median_ms']:.1f} ms CPU "
        f"(target ≤ {COLD_TARGET_MS:.0f}) {'PASS' if verdicts['cold'] else 'FAIL'}"
    )
    print(
        f"median warm {result['warm_median_ms']:.4f} ms (target ≤ {WARM_TARGET_MS}) "
        f"{'PASS' if verdicts['warm'] else 'FAIL'}"
    )
    if stream:
        print(
            f"stall on / off {stream['ratio']:.2f} (target ≤ {STALL_RATIO_TARGET}) "
            f"{'PASS' if verdicts['stream'] else 'FAIL'}"
        )
    if args.json:
        args.json.write_text(json.dumps({"formulas": result, "stream": stream, **verdicts}))
    return 1 if args.strict and not all(verdicts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
