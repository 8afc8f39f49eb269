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


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """--ctx, --threads, --gpu-layers (the planner's choice unless given), --rpc, --force."""
    parser.add_argument("--ctx", type=int, default=None, help="context length (default: planned)")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: cores)")
    parser.add_argument(
        "--gpu-layers", type=int, default=None, help="layers on the GPU (default: planned)"
    )
    add_rpc_argument(parser)
    parser.add_argument(
        "--draft",
        metavar="MODEL|lookup|off",
        default=None,
        help="speculative decoding: guess tokens by prompt lookup (the default; only while it "
        "pays), with a draft model (a GGUF with the model's vocabulary, or 'starter'), or off",
    )
    parser.add_argument(
        "--force", action="store_true", help="load even though the plan says it does not fit"
    )


def draft_choice(value: str | None) -> str | None:
    """--draft as the planner takes it: None (lookup), 'lookup', 'off', or a model's path."""
    if value is None or value.lower() in ("lookup", "off"):
        return value.lower() if value else None
    return resolve_model(value)


def plan_for(model: str, args: argparse.Namespace) -> Any:
    """The load plan for this machine, --ctx/--threads/--gpu-layers as overrides; a plan that
    does not fit is refused (InsufficientMemory, with the reason and what would fit) unless
    --force."""
    from model_runtime.errors import InsufficientMemory
    from model_runtime.hardware.detect import detect_hardware
    from model_runtime.llama.rpc import parse_endpoints
    from model_runtime.planning.plan import PlanOverrides
    from model_runtime.planning.planner import plan_load

    hardware = detect_hardware(rpc_workers=tuple(parse_endpoints(args.rpc)))
    overrides = PlanOverrides(
        n_ctx=args.ctx or None,
        n_threads=args.threads,
        n_gpu_layers=args.gpu_layers,
        force=args.force,
        draft=draft_choice(args.draft),
    )
    plan = plan_load(model, hardware, overrides)
    if not plan.verdict.ok and not plan.forced:
        lines = [plan.verdict.reason, *(f"  {tip}" for tip in plan.verdict.suggestions)]
        lines.append("Nothing was loaded. --force loads it anyway (expect swapping or a crash).")
        raise InsufficientMemory("\n".join(lines))
    return plan


def load_with_progress(client: Any, model: str, args: argparse.Namespace) -> Any:
    """Plan, then load, for a command with the load arguments, saying so on stderr; the
    PlannedLoad (its plan is what a reload must load)."""
    from model_runtime.planning.guarded_load import load_planned

    plan = plan_for(model, args)
    threads = f"{plan.n_threads} thread{'s' if plan.n_threads != 1 else ''}"
    gpu = f", {plan.n_gpu_layers} layers on the GPU" if plan.n_gpu_layers else ""
    print(f"Loading {model} (context {plan.n_ctx:,}, {threads}{gpu}) …", file=sys.stderr)
    for note in plan.notes:
        print(f"Note: {note}", file=sys.stderr)
    done = load_planned(client, plan)
    if done.retried:
        print(
            f"The first try failed ({done.first_error}); loaded with {', '.join(done.changes)}.",
            file=sys.stderr,
        )
    summary = done.summary
    print(
        f"Loaded {summary.name} in {summary.load_seconds:.1f} s (drafting: {summary.speculation})",
        file=sys.stderr,
    )
    if summary.speculation_note:
        print(f"Note: {summary.speculation_note}", file=sys.stderr)
    return done
