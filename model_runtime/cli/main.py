"""`python -m model_runtime`: the parser, made of each command module's register(), and main()."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from model_runtime import __version__
from model_runtime.cli import chat, hardware, models, rpc, serve
from model_runtime.errors import EngineCrashed, PonderError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model_runtime",
        description="Ponder's model runtime: run local GGUF reasoning models from a terminal.",
    )
    parser.add_argument("--version", action="version", version=f"ponder {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (chat, hardware, models, serve, rpc):
        command.register(commands)
    return parser


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
