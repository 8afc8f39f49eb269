"""What the CLI's commands share: naming a model, --rpc, loading with words on stderr."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from model_runtime.errors import PonderError
from model_runtime.models.starter import INSTALL_HINT, starter_model_path


def resolve_model(name: str) -> str:
    """A model argument as a path: 'starter' names the starter model, anything else is a path."""
    if name != "starter":
        return name
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
