"""`chat MODEL PROMPT` streams one answer (thinking, then the answer); `info MODEL` reads a GGUF.
With --votes N it thinks harder: N thoughts at once, then each one's answer and a vote (votes.py).

chat has the window's reasoning controls: a thinking budget (--think-budget), the loop breaker
(--loop), and Ctrl+C while the model thinks to make it answer now (a second Ctrl+C stops).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from model_runtime.cli.attach import add_attach_arguments, question_with_files, read_files
from model_runtime.cli.common import add_load_arguments, load_with_progress, resolve_model
from model_runtime.cli.votes import add_votes_argument, print_thoughts

DIM, RESET = "\x1b[2m", "\x1b[0m"


def register(commands: Any) -> None:
    """Add the chat and info commands to the CLI's subparsers."""
    chat = commands.add_parser("chat", help="answer one prompt, streaming thinking and answer")
    chat.add_argument("model", help="path to a .gguf file, or 'starter' for the starter model")
    chat.add_argument("prompt", help="what to ask")
    chat.add_argument("--system", default=None, help="system prompt")
    chat.add_argument("--max-tokens", type=int, default=1024)
    chat.add_argument("--temperature", type=float, default=0.6)
    chat.add_argument("--top-p", type=float, default=0.95)
    chat.add_argument("--seed", type=int, default=None)
    add_load_arguments(chat)
    chat.add_argument("--grammar", default=None, help="a GBNF grammar file that constrains output")
    chat.add_argument(
        "--think-budget",
        metavar="TOKENS|SECONDSs",
        type=think_budget,
        default=(None, None),
        help="end the thinking after this many tokens (500) or seconds (30s), counted from "
        "its first token; the model then answers",
    )
    chat.add_argument(
        "--loop",
        choices=("answer", "stop", "off"),
        default="answer",
        help="when the reasoning repeats itself: end it and answer (default), stop, or do "
        "nothing; an answer that repeats itself is stopped unless 'off'",
    )
    add_attach_arguments(chat)
    add_votes_argument(chat)
    chat.set_defaults(handler=run_chat)

    info = commands.add_parser("info", help="print a GGUF file's metadata")
    info.add_argument("model", help="path to a .gguf file")
    info.set_defaults(handler=run_info)


def run_info(args: argparse.Namespace) -> int:
    from model_runtime.gguf.reader import read_gguf_info

    info = read_gguf_info(resolve_model(args.model))
    rows = [
        ("name", info.name),
        ("architecture", info.architecture),
        ("parameters", f"{info.parameter_count:,}"),
        ("quantization", info.quantization),
        ("context length", info.context_length),
        ("layers", info.block_count),
        ("vocabulary", info.vocab_size),
        ("experts", info.expert_count),
        ("chat template", "yes" if info.chat_template else "no"),
        ("split", f"part {info.split_index + 1} of {info.split_count}" if info.is_split else "no"),
    ]
    for key, value in rows:
        print(f"{key:>15}: {value if value is not None else '-'}")
    return 0


def think_budget(text: str) -> tuple[int | None, float | None]:
    """--think-budget: "500" is tokens, "30s" seconds; (tokens, seconds)."""
    value = text.strip().lower()
    try:
        if value.endswith("s"):
            seconds = float(value[:-1])
            if seconds > 0 and seconds != float("inf"):
                return None, seconds
        elif int(value) > 0:
            return int(value), None
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"'{text}' is not a thinking budget: give tokens (500) or seconds (30s), more than 0"
    )


class CtrlC:
    """Ctrl+C during a generation: while the model thinks, answer now; else, or a second
    time, stop. The engine's flags are raised from a thread: the handler runs on the main
    thread, which may hold the client's lock at that moment."""

    def __init__(self, client: Any, gen_id: int) -> None:
        self.client = client
        self.gen_id = gen_id
        self.thinking = False  # the last text streamed was reasoning
        self.asked = False  # answer now was asked for
        self.stopped = False

    def __enter__(self) -> CtrlC:
        self._previous = signal.signal(signal.SIGINT, self._pressed)
        return self

    def __exit__(self, *_: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _pressed(self, _signum: int, _frame: object) -> None:
        if self.thinking and not self.asked:
            self.asked, act = True, self.client.answer_now
        else:
            self.stopped, act = True, self.client.cancel
        threading.Thread(target=act, args=(self.gen_id,), daemon=True).start()


def read_grammar(path: str) -> str:
    """A GBNF file's text, refused before any model loads if it can't be a grammar."""
    from model_runtime.engine.grammar import grammar_problem
    from model_runtime.errors import GrammarError

    try:
        with open(path, encoding="utf-8") as grammar_file:
            grammar = grammar_file.read()
    except UnicodeDecodeError:
        raise GrammarError(f"{path} is not a text file (UTF-8).") from None
    problem = grammar_problem(grammar)
    if problem is not None:
        raise GrammarError(f"{path}: {problem}")
    return grammar


def run_chat(args: argparse.Namespace) -> int:
    from model_runtime.chat.generation import GenerationParams, Message
    from model_runtime.chat.thinking import ThinkingPolicy
    from model_runtime.engine import EngineClient

    model = resolve_model(args.model)
    grammar = read_grammar(args.grammar) if args.grammar else None
    files = read_files(args)  # a file that can't be attached stops here, before the load
    tokens, seconds = args.think_budget
    client = EngineClient()
    try:
        loaded = load_with_progress(client, model, args)
        n_ctx = loaded.summary.n_ctx
        if args.votes:
            most = loaded.plan.max_sequences
            print(f"Think harder: this plan has room for {most} thoughts at once.", file=sys.stderr)
        messages = [Message("system", args.system)] if args.system else []
        question = question_with_files(client, args.prompt, files, n_ctx, args.max_tokens)
        messages.append(Message("user", question))
        params = GenerationParams(
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            seed=args.seed,
            grammar=grammar,
            thinking=ThinkingPolicy(tokens, seconds, args.loop),
        )
        gen_id = client.new_generation_id()
        with CtrlC(client, gen_id) as ctrl_c:
            if args.votes:
                thoughts = client.generate_parallel(messages, params, args.votes, gen_id=gen_id)
                print_thoughts(thoughts, args.votes, ctrl_c)
            else:
                stream_answer(client.generate(messages, params, gen_id=gen_id), ctrl_c)
    finally:
        client.close()
    return 130 if ctrl_c.stopped else 0  # stopped by Ctrl+C: as a shell expects


def stream_answer(events: Any, ctrl_c: CtrlC) -> None:
    """Write thinking (dim on a terminal) and answer to stdout; notes and figures to stderr."""
    from model_runtime.chat.generation import Chunk, Finished
    from model_runtime.chat.thinking import ThinkingEnded

    tty = sys.stdout.isatty()
    kind = None
    for event in events:
        if isinstance(event, Chunk):
            if event.kind != kind:
                if kind is not None:
                    sys.stdout.write(RESET if tty and kind == "thinking" else "")
                    sys.stdout.write("\n\n")
                if not tty:
                    sys.stdout.write("Thinking:\n" if event.kind == "thinking" else "Answer:\n")
                elif event.kind == "thinking":
                    sys.stdout.write(DIM)
                kind = event.kind
            ctrl_c.thinking = kind == "thinking"
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, ThinkingEnded):
            print(f"[Thinking ended: {event.describe()}]", file=sys.stderr, flush=True)
        elif isinstance(event, Finished):
            ctrl_c.thinking = False
            if tty and kind == "thinking":
                sys.stdout.write(RESET)
            sys.stdout.write("\n")
            sys.stdout.flush()
            print_figures(event.stats)


def print_figures(stats: Any) -> None:
    """The run's figures on stderr, after how it ended when Ponder or Ctrl+C stopped it."""
    if stats.finish_note:
        print(f"[Stopped: {stats.finish_note}]", file=sys.stderr)
    elif stats.finish_reason == "cancelled":
        print("[Stopped]", file=sys.stderr)
    if stats.speculation_note:
        print(f"[{stats.speculation_note}]", file=sys.stderr)
    n_restored, tier = stats.n_restored, stats.restored_from
    restored = f", {n_restored} restored from {tier}" if n_restored else ""
    print(
        f"[{stats.n_prompt} prompt tokens ({stats.n_cached} cached{restored}), "
        f"{stats.n_generated} generated ({stats.n_thinking} thinking), "
        f"first token {stats.ttft_seconds:.2f} s, "
        f"{stats.tokens_per_second:.1f} tokens/s{speed_notes(stats)}, {stats.finish_reason}]",
        file=sys.stderr,
    )


def speed_notes(stats: Any) -> str:
    """', 1 of 2 threads (the CPU was busy), 96 of 120 drafted tokens kept'; '' when the
    planned threads decoded it and nothing was drafted."""
    notes = ""
    if stats.n_threads and stats.n_threads != stats.n_threads_planned:
        notes += f", {stats.n_threads} of {stats.n_threads_planned} threads (the CPU was busy)"
    if stats.n_drafted:
        notes += f", {stats.n_accepted} of {stats.n_drafted} drafted tokens kept"
    return notes
