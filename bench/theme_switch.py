"""A theme switch on a long chat: the longest event-loop stall, all at once against in steps.

One run, same window, same machine: a 60- and a 600-message conversation (questions, reasoned
answers with a code block) open in the real window, offscreen, first as a chat opens (its last
30 messages built), then with every message built, as after scrolling up to the first question.
Light and dark take turns while a 1 ms timer measures the longest gap between event-loop turns,
from the switch until every message has the new theme and every answer is rendered again:

  old: Qt polishes every widget in one go (ThemeManager.set_theme(..., at_once=True), the way
       switches went before);
  new: each widget polished once, the messages on screen at once, the others one per step of
       the render queue (desktop/common/repolish.py, desktop/chat/view.py).

Prints, per size, the median over the rounds of each side's longest stall, old / new, and for
the new side the time the switch call itself takes and how long until all is restyled.
Target: new ≤ 100 ms (nothing holds the GUI thread longer). Run:
`python bench/theme_switch.py [--sizes 60,600] [--rounds 3] [--json PATH] [--strict]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QElapsedTimer, QEvent, QTimer

from bench.long_chat import fill

TARGET_S = 0.1
SETTLE_S = 0.3  # event-loop turns watched after the last message is restyled


def idle(app, window) -> bool:
    """Every message in the theme now, every answer rendered."""
    view = window.chat_view
    answers = [m.answer_view for m in view.messages if hasattr(m, "answer_view")]
    return not view.restyle_waiting and not any(a.rendering for a in answers)


def settle(app, window, seconds: float = SETTLE_S) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or not idle(app, window):
        app.processEvents()


def open_chat(app, window, conversation_id: int, *, every_message: bool) -> int:
    """Open the conversation (every_message: with all its messages built); returns how many
    messages are built."""
    window.open_conversation(conversation_id)
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # the last chat's messages go
    while every_message and window.chat_view.earlier_button.isVisible():
        window.controller.show_earlier()
    window.chat_view.scroll_to_end()
    settle(app, window, 1.0)
    return len(window.chat_view.messages)


def measure(app, window, choice: str, *, at_once: bool) -> dict[str, float]:
    """Switch to ``choice``; the longest stall until all is restyled, the switch call's own
    time, and the time until all is restyled."""
    theme = window.theme
    clock = QElapsedTimer()
    heartbeat = QTimer()
    heartbeat.setInterval(1)
    longest = 0.0

    def beat() -> None:
        nonlocal longest
        longest = max(longest, clock.restart() / 1000)

    call: list[float] = []

    def switch() -> None:
        started = time.perf_counter()
        theme.set_theme(choice, at_once=at_once)
        call.append(time.perf_counter() - started)

    heartbeat.timeout.connect(beat)
    clock.start()
    heartbeat.start()
    QTimer.singleShot(0, switch)
    started = time.perf_counter()
    while not call or not idle(app, window):
        app.processEvents()
    done = time.perf_counter() - started
    settle(app, window)
    heartbeat.stop()
    return {"stall_s": longest, "call_s": call[0], "done_s": done}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="60,600", help="messages in each chat")
    parser.add_argument("--rounds", type=int, default=3, help="switches each way, per side")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    os.environ["PONDER_HOME"] = tempfile.mkdtemp(prefix="ponder-bench-")

    from desktop.app import create_application
    from desktop.engines.bridge import EngineBridge
    from desktop.window.main_window import MainWindow
    from model_runtime.conversations.store import default_store

    app = create_application()
    store = default_store()
    chats = {size: fill(store, size) for size in sizes}
    window = MainWindow(EngineBridge(), store)
    window.resize(1180, 800)
    window.show()
    window.theme.install()
    window.theme.use_light()
    app.processEvents()

    results = []
    for size, every_message in [(size, every) for size in sizes for every in (False, True)]:
        built = open_chat(app, window, chats[size], every_message=every_message)
        runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
        for _ in range(args.rounds):  # each side switches to dark and back, taking turns
            for side in ("old", "new"):
                for choice in ("dark", "light"):
                    runs[side].append(measure(app, window, choice, at_once=side == "old"))
        med = {
            side: {key: statistics.median(r[key] for r in runs[side]) for key in runs[side][0]}
            for side in runs
        }
        results.append({"messages": size, "built": built, "median": med, "runs": runs})
        window.new_chat()
        settle(app, window)
    window.close()

    print(f"theme switch, longest event-loop stall (median of {2 * args.rounds} switches a side)")
    print(
        f"{'messages':>8} {'built':>6} {'old: at once':>13} {'new: in steps':>14} {'old/new':>8}"
        f" {'new: the call':>14} {'new: all done':>14}"
    )
    missed = False
    for result in results:
        old, new = result["median"]["old"], result["median"]["new"]
        ratio = old["stall_s"] / new["stall_s"]
        result["ratio"] = ratio
        verdict = "PASS" if new["stall_s"] <= TARGET_S else "FAIL"
        missed |= verdict == "FAIL"
        print(
            f"{result['messages']:>8} {result['built']:>6} {old['stall_s'] * 1000:>10.0f} ms"
            f" {new['stall_s'] * 1000:>11.0f} ms {ratio:>7.1f}x {new['call_s'] * 1000:>11.0f} ms"
            f" {new['done_s'] * 1000:>11.0f} ms   {verdict} (new ≤ {TARGET_S * 1000:.0f} ms)"
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
