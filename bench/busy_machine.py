"""Threads that adapt: decode speed with a core kept busy, adaptive against fixed counts.

Run from the repository root:  .venv/bin/python bench/busy_machine.py [--rounds 3]

The same 256-token greedy answer, again and again, from Ponder's engine (EngineClient and its
worker process) on the SmolLM2 starter unless --model, speculation off so that only threads
move the figures:

* busy: a CPU-bound process of the benchmark's own, pinned to one core and bounded in time,
  runs meanwhile. Sides: every fixed thread count from 1 to the physical cores (no
  adaptation), and Ponder's adaptive threads starting from the planner's count (the physical
  cores). It prints adaptive / the best fixed count (target >= 0.8), and adaptive / the
  planner's count without adaptation: the collapse adaptation avoids.
* idle: no such process; the planner's count fixed against adaptive (target >= 0.97).

Each request has its own prompt prefix (no side finds it in its KV cache); sides take turns
in every round, medians of the worker's decode tokens/s are printed with the load average
beside each figure: on a machine other people share, their work is in every figure too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_runtime.chat.generation import (
    Finished,
    GenerationParams,
    LoadRequest,
    Message,
    Speculation,
)
from model_runtime.engine import EngineClient
from model_runtime.hardware.detect import detect_cpu
from model_runtime.models.starter import starter_model_path

QUESTION = "Write a long story about a lighthouse keeper who finds a message in a bottle."
HOG = (
    "import os, sys, time\n"
    "os.sched_setaffinity(0, {int(sys.argv[1])})\n"
    "end = time.time() + float(sys.argv[2])\n"
    "while time.time() < end: pass\n"
)


def answer(client: EngineClient, tag: str, max_tokens: int) -> tuple[float, int, float]:
    """(decode tokens/s, the thread count that decoded most of it, the load average)."""
    messages = [Message("system", f"[{tag}] You write at length."), Message("user", QUESTION)]
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
    for event in client.generate(messages, params):
        if isinstance(event, Finished):
            stats = event.stats
            return stats.tokens_per_second, stats.n_threads, os.getloadavg()[0]
    raise RuntimeError("the engine ended without Finished")


def start(model: str, threads: int, adapt: bool, ctx: int, logs: Path) -> EngineClient:
    client = EngineClient(log_dir=logs)
    client.load(
        LoadRequest(
            model_path=model,
            n_ctx=ctx,
            n_threads=threads,
            flash_attn=True,
            adapt_threads=adapt,
            speculation=Speculation("off"),
        )
    )
    return client


def run_phase(
    name: str, sides: dict[str, EngineClient], args: argparse.Namespace, busy_cpu: int | None
) -> dict[str, list[tuple[float, int, float]]]:
    """Every side in turn, for --rounds rounds (and one warm-up), a hog running if busy_cpu."""
    seconds = 60.0 + 30.0 * args.rounds * len(sides)  # a bound, should the benchmark die
    hog = None
    if busy_cpu is not None:
        hog = subprocess.Popen([sys.executable, "-c", HOG, str(busy_cpu), str(seconds)])
    results: dict[str, list[tuple[float, int, float]]] = {side: [] for side in sides}
    try:
        for round_no in range(-1, args.rounds):
            for side, client in sides.items():
                figures = answer(client, f"{name}{round_no}", args.max_tokens)
                if round_no >= 0:
                    results[side].append(figures)
                    rate, used, load = figures
                    print(f"{name} round {round_no + 1} {side:>12}: {rate:6.1f} tok/s "
                          f"({used} thread{'s' if used != 1 else ''}) [load {load:.1f}]",
                          flush=True)  # fmt: skip
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return results


def median(runs: list[tuple[float, int, float]]) -> float:
    return statistics.median(r[0] for r in runs)


def paired(a: list[tuple[float, int, float]], b: list[tuple[float, int, float]]) -> float:
    """The median of the per-round ratios a/b."""
    return statistics.median(x[0] / y[0] for x, y in zip(a, b, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF file (default: the SmolLM2 starter)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy-cpu", type=int, default=None, help="the core to keep busy")
    parser.add_argument("--strict", action="store_true", help="exit 1 below a target")
    args = parser.parse_args(argv)
    model = args.model or str(starter_model_path())
    cores = detect_cpu().physical_cores
    cpus = sorted(os.sched_getaffinity(0))
    busy_cpu = args.busy_cpu if args.busy_cpu is not None else cpus[-1]
    logs = Path(tempfile.mkdtemp(prefix="ponder-bench-"))
    print(f"model {Path(model).name}, {cores} physical cores (the planner's count), CPUs "
          f"{cpus}, {args.max_tokens} tokens, greedy, speculation off")  # fmt: skip
    sides = {f"fixed {n}": start(model, n, False, args.ctx, logs) for n in range(1, cores + 1)}
    sides["adaptive"] = start(model, cores, True, args.ctx, logs)
    try:
        busy = run_phase("busy", sides, args, busy_cpu)
        idle_sides = {k: sides[k] for k in (f"fixed {cores}", "adaptive")}
        idle = run_phase("idle", idle_sides, args, None)
    finally:
        for client in sides.values():
            client.close()

    print(f"\nbusy: one core (CPU {busy_cpu}) kept busy by another process")
    for side, runs in busy.items():
        print(f"  {side:>10}: {median(runs):6.1f} tok/s")
    best = max((s for s in busy if s != "adaptive"), key=lambda s: median(busy[s]))
    vs_best = paired(busy["adaptive"], busy[best])
    vs_planned = paired(busy["adaptive"], busy[f"fixed {cores}"])
    ok_busy = vs_best >= 0.8
    print(f"  adaptive / best fixed ({best}): {vs_best:.2f} "
          f"({'PASS' if ok_busy else 'FAIL'}, target >= 0.8)")  # fmt: skip
    print(f"  adaptive / the planner's {cores} without adaptation: {vs_planned:.2f}")
    print("idle:")
    for side, runs in idle.items():
        print(f"  {side:>10}: {median(runs):6.1f} tok/s")
    vs_fixed = paired(idle["adaptive"], idle[f"fixed {cores}"])
    ok_idle = vs_fixed >= 0.97
    print(f"  adaptive / fixed {cores}: {vs_fixed:.2f} "
          f"({'PASS' if ok_idle else 'FAIL'}, target >= 0.97)")  # fmt: skip
    return 0 if (ok_busy and ok_idle) or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
