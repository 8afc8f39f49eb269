"""Command-line interface: proves the runtime works without the GUI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from model_runtime import __version__, cli_hardware, cli_models, cli_rpc, cli_serve
from model_runtime.errors import EngineCrashed, PonderError

DIM, RESET = "\x1b[2m", "\x1b[0m"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model_runtime",
        description="Ponder's model runtime: run local GGUF reasoning models from a terminal.",
    )
    parser.add_argument("--version", action="version", version=f"ponder {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="answer one prompt, streaming thinking and answer")
    chat.add_argument("model", help="path to a .gguf file, or 'starter' for the starter model")
    chat.add_argument("prompt", help="what to ask")
    chat.add_argument("--system", default=None, help="system prompt")
    chat.add_argument("--max-tokens", type=int, default=1024)
    chat.add_argument("--temperature", type=float, default=0.6)
    chat.add_argument("--top-p", type=float, default=0.95)
    chat.add_argument("--seed", type=int, default=None)
    chat.add_argument("--ctx", type=int, default=0, help="context length (default: automatic)")
    chat.add_argument("--threads", type=int, default=None)
    chat.add_argument("--gpu-layers", type=int, default=0)
    add_rpc_argument(chat)
    chat.add_argument("--grammar", default=None, help="a GBNF grammar file that constrains output")
    chat.set_defaults(handler=run_chat)

    info = commands.add_parser("info", help="print a GGUF file's metadata")
    info.add_argument("model", help="path to a .gguf file")
    info.set_defaults(handler=run_info)
    cli_hardware.register(commands)
    cli_models.register(commands)
    cli_serve.register(commands)
    cli_rpc.register(commands)
    return parser


def resolve_model(name: str) -> str:
    if name != "starter":
        return name
    from model_runtime.models.starter import INSTALL_HINT, starter_model_path

    path = starter_model_path()
    if path is None:
        raise PonderError(f"The starter model is not installed. Install it with: {INSTALL_HINT}")
    return str(path)


def add_rpc_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rpc",
        metavar="HOST:PORT,…",
        default="",
        help="llama.cpp RPC workers whose devices take --gpu-layers (see the rpc-worker command)",
    )


def load_with_progress(client: Any, model: str, args: argparse.Namespace) -> Any:
    """Load for a command with --ctx/--threads/--gpu-layers/--rpc, saying so on stderr."""
    from model_runtime.chat.generation import LoadRequest
    from model_runtime.llama.rpc import parse_endpoints

    print(f"Loading {model} …", file=sys.stderr)
    summary = client.load(
        LoadRequest(
            model_path=model,
            n_ctx=args.ctx,
            n_threads=args.threads,
            n_gpu_layers=args.gpu_layers,
            rpc_workers=parse_endpoints(args.rpc),
        )
    )
    print(f"Loaded {summary.name} in {summary.load_seconds:.1f} s", file=sys.stderr)
    return summary


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


def run_chat(args: argparse.Namespace) -> int:
    from model_runtime.chat.generation import Chunk, Finished, GenerationParams, Message
    from model_runtime.engine import EngineClient

    model = resolve_model(args.model)
    grammar = None
    if args.grammar:
        with open(args.grammar, encoding="utf-8") as grammar_file:
            grammar = grammar_file.read()
    tty = sys.stdout.isatty()
    client = EngineClient()
    try:
        load_with_progress(client, model, args)
        messages = [Message("system", args.system)] if args.system else []
        messages.append(Message("user", args.prompt))
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except EngineCrashed as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.stderr_tail:
            print(f"last lines of the engine log:\n{exc.stderr_tail}", file=sys.stderr)
        return 3
    except (PonderError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
