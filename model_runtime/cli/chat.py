"""`chat MODEL PROMPT` streams one answer (thinking, then the answer); `info MODEL` reads a GGUF."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from model_runtime.cli.attach import add_attach_arguments, question_with_files, read_files
from model_runtime.cli.common import add_load_arguments, load_with_progress, resolve_model

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
    add_attach_arguments(chat)
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
    from model_runtime.chat.generation import Chunk, Finished, GenerationParams, Message
    from model_runtime.engine import EngineClient

    model = resolve_model(args.model)
    grammar = read_grammar(args.grammar) if args.grammar else None
    files = read_files(args)  # a file that can't be attached stops here, before the load
    tty = sys.stdout.isatty()
    client = EngineClient()
    try:
        n_ctx = load_with_progress(client, model, args).summary.n_ctx
        messages = [Message("system", args.system)] if args.system else []
        question = question_with_files(client, args.prompt, files, n_ctx, args.max_tokens)
        messages.append(Message("user", question))
        params = GenerationParams(
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            seed=args.seed,
            grammar=grammar,
        )
        kind = None
        for event in client.generate(messages, params):
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
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, Finished):
                if tty and kind == "thinking":
                    sys.stdout.write(RESET)
                stats = event.stats
                sys.stdout.write("\n")
                print(
                    f"[{stats.n_prompt} prompt tokens ({stats.n_cached} cached), "
                    f"{stats.n_generated} generated ({stats.n_thinking} thinking), "
                    f"first token {stats.ttft_seconds:.2f} s, "
                    f"{stats.tokens_per_second:.1f} tokens/s, {stats.finish_reason}]",
                    file=sys.stderr,
                )
    finally:
        client.close()
    return 0
