"""Think harder's speed: N thoughts decoded together against the same N answers one at a time.

Run from the repository root:  .venv/bin/python bench/parallel_thoughts.py [--threads 2]

One engine (the SmolLM2 starter unless --model) answers the same prompt three ways in each
round, with the same sampling (temperature --temperature, seeds --seed + i):

* **1**: the N answers one after another, ``EngineClient.generate`` with seed + i each.
* **N = 4** and **N = 8**: ``EngineClient.generate_parallel``: the prompt read once, the
  thoughts decoded in one batch per step (engine/parallel.py).

Thought i of a run is token for token the single answer with seed + i (the engine's tests
check it), so both sides write exactly the same tokens and the comparison is fair:

* total tokens/s: every token generated ÷ the time spent decoding them (the run's
  ``ThoughtsFinished.tokens_per_second``; for single answers, their tokens ÷ the sum of
  their decode times). The ratio N ÷ 1 is the gain of the batch (targets: ≥ 2.0 for N = 4,
  ≥ 3.5 for N = 8).
* time to the last of the N answers ÷ the time of the N single answers one after another
  (target ≤ 0.5): what a person waits for a vote against asking N times.

Each round has its own prompt prefix, the same on every side, so no side finds the prompt in
its KV cache. Medians over --rounds are printed, with the load average before and after:
llama.cpp's threads spin at barriers, and other work on the cores lowers every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_runtime.chat.generation import Finished, GenerationParams, LoadRequest, Message
from model_runtime.chat.thoughts import ThoughtsFinished
from model_runtime.engine import EngineClient
from model_runtime.models.starter import starter_model_path

PROMPT = (
    "Write a long, detailed essay on the history of the printing press, from woodblock "
    "printing in China to modern offset printing. Use many paragraphs and give examples."
)
TARGETS = {4: ("tokens/s ratio", 2.0), 8: ("tokens/s ratio", 3.5)}
WAIT_TARGET = 0.5


def singles(client: EngineClient, messages: list[Message], params: GenerationParams, n: int):
    """N answers one after another: (tokens, decode seconds, wall seconds)."""
    tokens = decode = 0.0
    started = time.perf_counter()
    for i in range(n):
        seeded = GenerationParams(**{**params.__dict__, "seed": (params.seed or 0) + i})
        finished = next(e for e in client.generate(messages, seeded) if isinstance(e, Finished))
        stats = finished.stats
        tokens += stats.n_generated
        decode += stats.total_seconds - stats.ttft_seconds
    return tokens, decode, time.perf_counter() - started


def together(client: EngineClient, messages: list[Message], params: GenerationParams, n: int):
    """N thoughts at once: (tokens, total tokens/s, wall seconds, prompt tokens evaluated)."""
    started = time.perf_counter()
    run = None
    for event in client.generate_parallel(messages, params, n):
        if isinstance(event, ThoughtsFinished):
            run = event
    assert run is not None
    return run.n_generated, run.tokens_per_second, time.perf_counter() - started, run.n_evaluated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="a .gguf file (default: SmolLM2 starter)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--sizes", default="4,8", help="thoughts at once, comma-separated")
    parser.add_argument("--json", default=None, help="save the settings and every figure here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    model = args.model or str(starter_model_path())
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    client = EngineClient()
    room = args.max_tokens + 256
    client.load(
        LoadRequest(
            model,
            n_ctx=room,
            n_threads=args.threads,
            max_sequences=max(sizes),
            sequence_ctx=room,
        )
    )
    params = GenerationParams(
        max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed
    )
    rows: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    try:
        for round_ in range(args.rounds + 1):  # round 0 warms up
            for n in sizes:
                tag = f"[round {round_}, {n} thoughts] "
                messages = [Message("user", tag + PROMPT)]
                tokens_1, decode_1, wall_1 = singles(client, messages, params, n)
                tokens_n, rate_n, wall_n, evaluated = together(client, messages, params, n)
                if round_ == 0:
                    continue
                row = {
                    "n": n,
                    "tokens": tokens_n,
                    "same_tokens": tokens_n == tokens_1,
                    "single_tps": tokens_1 / decode_1,
                    "together_tps": rate_n,
                    "tps_ratio": rate_n / (tokens_1 / decode_1),
                    "single_wall": wall_1,
                    "together_wall": wall_n,
                    "wait_ratio": wall_n / wall_1,
                    "prompt_evaluated": evaluated,
                }
                rows[n].append(row)
                print(
                    f"round {round_} N={n}: {tokens_n:.0f} tokens "
                    f"({'same' if row['same_tokens'] else 'DIFFERENT'} as one by one) · "
                    f"one by one {row['single_tps']:.1f} tokens/s, {wall_1:.1f} s · together "
                    f"{rate_n:.1f} tokens/s, {wall_n:.1f} s · ratio {row['tps_ratio']:.2f}, "
                    f"wait {row['wait_ratio']:.2f}",
                    flush=True,
                )
    finally:
        client.close()
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print(f"{'N':>3} {'1: tok/s':>9} {'N: tok/s':>9} {'N/1':>6} {'target':>7} "
          f"{'wait N/(N×1)':>13} {'target':>7}")  # fmt: skip
    ok = True
    summary = {}
    for n in sizes:
        median = {key: statistics.median(r[key] for r in rows[n]) for key in rows[n][0]}
        target = TARGETS.get(n, ("", 0.0))[1]
        passed = median["tps_ratio"] >= target and median["wait_ratio"] <= WAIT_TARGET
        ok &= passed
        summary[n] = median
        print(
            f"{n:>3} {median['single_tps']:>9.1f} {median['together_tps']:>9.1f} "
            f"{median['tps_ratio']:>6.2f} {'≥ ' + format(target, '.1f'):>7} "
            f"{median['wait_ratio']:>13.2f} {'≤ 0.5':>7}  {'PASS' if passed else 'FAIL'}"
        )
    if args.json:
        data = {"settings": vars(args), "load": [load_before, load_after], "rounds": rows}
        Path(args.json).write_text(json.dumps({**data, "medians": summary}, indent=2))
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
