"""`chat MODEL PROMPT --votes N`: N thoughts on the prompt at once, each one's answer, the tally.

While they run, stderr shows each thought's token count on one line (a terminal sees it
update in place); then stdout has every thought's answer in order and the vote over their
boxed answers (chat/vote.py). Ctrl+C works as for one answer: while any thought still
thinks, every thought answers now; a second Ctrl+C stops them all.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

PROGRESS_SECONDS = 0.5  # the live line on stderr is redrawn at most this often


def votes_count(text: str) -> int:
    """--votes: how many thoughts, 2 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a number of thoughts: give 2 or more (4 or 8 are typical)"
        )
    return value


def add_votes_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--votes",
        metavar="N",
        type=votes_count,
        default=None,
        help="think harder: N thoughts on the prompt at once, each one's answer, then a vote "
        "on their boxed answers (the plan says how many fit)",
    )


def print_thoughts(events: Any, n: int, ctrl_c: Any) -> Any:
    """Follow a run of n thoughts (the live counts on stderr), then print each answer and the
    tally; the Thoughts, for the caller."""
    from model_runtime.chat.generation import Chunk, Finished
    from model_runtime.chat.thinking import ThinkingEnded
    from model_runtime.chat.thoughts import Thoughts

    thoughts = Thoughts(n)
    live = Progress(n)
    for event in events:
        thoughts.add(event)
        if isinstance(event, Chunk):
            live.count(event.seq, event.kind == "thinking")
        elif isinstance(event, ThinkingEnded):
            live.notes[event.seq] = f"thinking ended: {event.describe()}"
        elif isinstance(event, Finished):
            live.thinking[event.seq] = False
        ctrl_c.thinking = any(live.thinking)
        live.show()
    live.end()
    for seq, answer in enumerate(thoughts.answers):
        figures = answer.figures
        head = f"── Thought {seq + 1} of {n}: {figures.n_generated:,} tokens"
        head += f", thought for {figures.reasoning_seconds:.1f} s" if answer.reasoning else ""
        print(f"{head}, {_ending(figures.finish_reason, figures.finish_note)} ──")
        print(answer.answer.strip() or "(no answer)")
        print()
    counted = thoughts.tally()
    print(f"Vote: {counted.describe()}" if counted.groups else "Vote: no answers to count")
    print(counted.verdict())
    sys.stdout.flush()
    if thoughts.run is not None:
        print_run(thoughts.run)
    return thoughts


def _ending(finish_reason: str, note: str) -> str:
    if finish_reason == "loop":
        return f"stopped: {note or 'it was repeating itself'}"
    return {"stop": "done", "length": "at the length limit", "cancelled": "stopped"}.get(
        finish_reason, finish_reason
    )


def print_run(run: Any) -> None:
    """The run's figures on stderr: the prompt read once, all the thoughts' speed together."""
    print(
        f"[{run.n_sequences} thoughts: {run.n_prompt} prompt tokens read once "
        f"({run.prompt_seconds:.2f} s), {run.n_generated} generated together at "
        f"{run.tokens_per_second:.1f} tokens/s, {run.total_seconds:.1f} s in all]",
        file=sys.stderr,
    )


class Progress:
    """One line on stderr: each thought's tokens so far, and whether it still thinks."""

    def __init__(self, n: int) -> None:
        self.tokens = [0] * n
        self.thinking = [False] * n
        self.notes = [""] * n
        self.tty = sys.stderr.isatty()
        self._shown = 0.0

    def count(self, seq: int, thinking: bool) -> None:
        self.tokens[seq] += 1
        self.thinking[seq] = thinking

    def line(self) -> str:
        marks = [
            f"{seq + 1}: {count}{'…' if thinking else ''}"
            for seq, (count, thinking) in enumerate(zip(self.tokens, self.thinking, strict=True))
        ]
        return "Thinking: " + " · ".join(marks)

    def show(self) -> None:
        now = time.monotonic()
        if self.tty and now - self._shown >= PROGRESS_SECONDS:
            self._shown = now
            sys.stderr.write("\r\x1b[2K" + self.line())
            sys.stderr.flush()

    def end(self) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[2K")
        for seq, note in enumerate(self.notes):
            if note:
                print(f"[Thought {seq + 1}: {note}]", file=sys.stderr)
        sys.stderr.flush()
