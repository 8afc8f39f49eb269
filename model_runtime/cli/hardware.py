"""`python -m model_runtime hardware` and `… plan MODEL`: what the GUI shows, as text."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from model_runtime.units import gib_text


def register(commands: Any) -> None:
    """Add the hardware and plan commands to the CLI's subparsers."""
    hardware = commands.add_parser("hardware", help="show CPU, memory, GPUs, llama.cpp build")
    hardware.set_defaults(handler=run_hardware)

    plan = commands.add_parser("plan", help="plan how a model would load here, and whether it fits")
    plan.add_argument("model", help="path to a .gguf file (any part of a split one), or 'starter'")
    plan.add_argument("--ctx", type=int, default=None, help="context length (default: automatic)")
    plan.add_argument("--gpu-layers", type=int, default=None, help="layers on the GPU")
    plan.add_argument(
        "--cpu-moe", type=int, default=None, help="MoE: keep the experts of N first layers in RAM"
    )
    plan.add_argument("--kv-type", default=None, help="KV cache type: f16, q8_0, q4_0 …")
    plan.add_argument("--no-flash-attn", action="store_true", help="plan without flash attention")
    plan.add_argument("--cpu-only", action="store_true", help="plan without any GPU")
    plan.add_argument("--threads", type=int, default=None)
    plan.set_defaults(handler=run_plan)


def run_hardware(args: argparse.Namespace) -> int:
    from model_runtime.hardware.detect import describe_hardware, detect_hardware

    for line in describe_hardware(detect_hardware()):
        print(line)
    return 0


def describe_plan(plan: Any) -> list[str]:
    """A LoadPlan as lines of text: verdict, settings, the memory table, notes."""
    e, v, p = plan.estimate, plan.verdict, plan.profile
    lines = []
    if p is not None:
        lines.append(
            f"Model: {p.name} ({p.architecture}, {p.quantization}, "
            f"{p.n_params / 1e9:.1f} B parameters, {gib_text(p.file_size)}, "
            f"{p.n_layer} layers{', MoE' if p.is_moe else ''})"
        )
    lines.append(f"Verdict: {v.fit.value} — {v.reason}")
    lines += [f"  Instead: {s}" for s in v.suggestions]
    if v.max_ctx:
        lines.append(f"  Longest context that fits: {v.max_ctx:,} tokens")
    kv = f"{plan.type_k}/{plan.type_v}"
    lines.append(
        f"Plan: context {plan.n_ctx:,}, GPU layers {plan.n_gpu_layers}, batch {plan.n_batch}, "
        f"threads {plan.n_threads}, flash attention {'on' if plan.flash_attn else 'off'}, "
        f"KV cache {kv}, mmap {'on' if plan.use_mmap else 'off'}"
        + (", mlock on" if plan.use_mlock else "")
    )
    if plan.tensor_overrides:
        lines.append(f"  Kept in system memory: {', '.join(plan.tensor_overrides)}")
    lines.append(f"{'':14}{'system RAM':>12}{'GPU':>12}")
    rows = (
        ("weights", e.weights_host, e.weights_device),
        ("KV cache", e.kv_host, e.kv_device),
        ("compute", e.compute_host + e.output_host, e.compute_device),
        ("overhead", e.overhead_host, e.overhead_device),
        ("total", e.host_total, e.device_total),
    )
    lines += [f"{name:14}{gib_text(host, 2):>12}{gib_text(dev, 2):>12}" for name, host, dev in rows]
    lines.append(
        f"{'available':14}{gib_text(v.host_available, 2):>12}{gib_text(v.device_available, 2):>12}"
    )
    lines += [f"Note: {note}" for note in plan.notes]
    return lines


def run_plan(args: argparse.Namespace) -> int:
    from model_runtime.cli.common import resolve_model
    from model_runtime.errors import ModelFileError
    from model_runtime.planning.planner import PlanOverrides, plan_load

    overrides = PlanOverrides(
        n_ctx=args.ctx,
        n_gpu_layers=args.gpu_layers,
        cpu_expert_layers=args.cpu_moe,
        flash_attn=False if args.no_flash_attn else None,
        type_k=args.kv_type,
        type_v=args.kv_type,
        n_threads=args.threads,
        use_gpu=not args.cpu_only,
    )
    try:
        plan = plan_load(resolve_model(args.model), overrides=overrides)
    except ModelFileError as exc:  # llama.cpp would refuse it: it fits nowhere
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in describe_plan(plan):
        print(line)
    return 0 if plan.verdict.ok else 1
