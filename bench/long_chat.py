"""Long chats stay smooth: open time and event-loop stalls, short vs long conversation.

One run, same window, same machine:
  1. time to open (build and lay out) a 20-message and a 2,000-message conversation
     (target: ratio ≤ 3);
  2. the longest event-loop stall while 2,000 tokens stream into the long conversation vs
     into an empty one (target: ratio ≤ 2).

The tokens come from a scripted token feeder (named so): it emits the engine bridge's own
chunk signal on a fast timer, so the GUI does all the work it does with a real model, but
the timing does not depend on the model. Run: `python bench/long_chat.py [--json PATH]`.
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

from PySide6.QtCore import QElapsedTimer, QTimer

from model_runtime.chat.answer import AnswerFigures

REASONING = (
    "Let me think about this step by step. First, consider the constraints and what is "
    "being asked; then check each case carefully before answering.\n\n"
) * 6
ANSWER = (
    "Here is the answer, with **emphasis**, a list:\n\n- one\n- two\n\n"
    "```python\nprint('hello')\n```\n\nAnd a closing paragraph of ordinary text.\n"
)


def fill(store, messages: int) -> int:
    """A conversation with `messages` messages (questions and reasoned answers)."""
    conversation = store.create_conversation(model="bench")
    for turn in range(messages // 2):
        store.add_message(conversation.id, "user", f"Question number {turn}: why?")
        store.add_message(
            conversation.id,
            "assistant",
            ANSWER,
            reasoning=REASONING,
            figures=AnswerFigures(
                reasoning_seconds=4.2,
                reasoning_tokens=120,
                n_generated=300,
                tokens_per_second=25.0,
                finish_reason="stop",
            ),
        )
    return conversation.id


class ScriptedTokenFeeder:
    """Emits `count` chunks (thinking first, then answer) through the bridge, one per tick."""

    def __init__(self, window, count: int) -> None:
        self.window, self.count, self.sent = window, count, 0
        self.timer = QTimer()
        self.timer.setInterval(0)
        self.timer.timeout.connect(self.tick)

    def tick(self) -> None:
        controller = self.window.controller
        kind = "thinking" if self.sent < self.count // 2 else "answer"
        words = ["step ", "then ", "check ", "**bold** ", "word\n\n", "`code` "]
        controller.bridge.chunk.emit(controller._gen_id, kind, words[self.sent % len(words)])
        self.sent += 1
        if self.sent >= self.count:
            self.timer.stop()


def measure_open(app, window, conversation_id: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        window.new_chat()
        app.processEvents()
        started = time.perf_counter()
        window.open_conversation(conversation_id)
        app.processEvents()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_stall(app, window, conversation_id: int | None, tokens: int) -> float:
    """Longest gap between event-loop turns while `tokens` chunks stream into a new answer."""
    from model_runtime.chat.generation import GenerationStats

    if conversation_id is None:
        window.new_chat()
    else:
        window.open_conversation(conversation_id)
    app.processEvents()
    controller = window.controller
    # start an answer as the controller does, but with the scripted feeder as its engine
    controller.bridge.generate = lambda _messages, _params: 10_000 + tokens
    controller.send("Stream something long.")
    settle = time.perf_counter() + 0.5  # let the new messages' first layout finish
    while time.perf_counter() < settle:
        app.processEvents()
    feeder = ScriptedTokenFeeder(window, tokens)
    longest = 0.0
    clock = QElapsedTimer()
    clock.start()
    heartbeat = QTimer()
    heartbeat.setInterval(1)

    def beat() -> None:
        nonlocal longest
        longest = max(longest, clock.restart() / 1000)

    heartbeat.timeout.connect(beat)
    heartbeat.start()
    feeder.timer.start()
    while feeder.timer.isActive():
        app.processEvents()
    heartbeat.stop()
    controller.bridge.finished.emit(controller._gen_id, GenerationStats(n_generated=tokens))
    app.processEvents()
    return longest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", type=int, default=2000, help="messages in the long chat")
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ["PONDER_HOME"] = tempfile.mkdtemp(prefix="ponder-bench-")

    from desktop.app import create_application
    from desktop.engines.bridge import EngineBridge
    from desktop.window.main_window import MainWindow
    from model_runtime.conversations.store import default_store

    app = create_application()
    store = default_store()
    short_id, long_id = fill(store, 20), fill(store, args.long)
    window = MainWindow(EngineBridge(), store)
    window.resize(1180, 800)
    window.show()
    app.processEvents()

    open_short = measure_open(app, window, short_id, args.rounds)
    open_long = measure_open(app, window, long_id, args.rounds)
    empty_runs, long_runs = [], []
    for _ in range(args.rounds):  # alternate, and take medians: stalls are noisy
        empty_runs.append(measure_stall(app, window, None, args.tokens))
        long_runs.append(measure_stall(app, window, long_id, args.tokens))
    stall_empty, stall_long = statistics.median(empty_runs), statistics.median(long_runs)
    window.close()

    results = {
        "open_short_s": open_short,
        "open_long_s": open_long,
        "open_ratio": open_long / open_short,
        "stall_empty_s": stall_empty,
        "stall_long_s": stall_long,
        "stall_ratio": stall_long / stall_empty,
    }
    print(f"open  20 messages: {open_short * 1000:8.1f} ms")
    print(
        f"open {args.long} messages: {open_long * 1000:8.1f} ms   "
        f"ratio {results['open_ratio']:.2f} (target ≤ 3) "
        f"{'PASS' if results['open_ratio'] <= 3 else 'FAIL'}"
    )
    print(f"(median of {args.rounds} rounds, alternating)")
    print(f"longest stall streaming {args.tokens} tokens, empty chat: {stall_empty * 1000:6.1f} ms")
    print(
        f"longest stall streaming {args.tokens} tokens, long chat:  {stall_long * 1000:6.1f} ms"
        f"   ratio {results['stall_ratio']:.2f} (target ≤ 2) "
        f"{'PASS' if results['stall_ratio'] <= 2 else 'FAIL'}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
