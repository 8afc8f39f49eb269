"""What llama.cpp RPC costs: the engine with every layer on a loopback RPC worker (B) against
the same engine on this computer's CPU (A), side by side.

Run from the repository root:  .venv/bin/python bench/rpc.py [--rounds 3] [--threads 1]

Both sides are Ponder's EngineClient on the same GGUF (the SmolLM2 starter unless --model)
with the same context, threads and greedy settings. B loads with --gpu-layers all and the
worker `python -m model_runtime rpc-worker` on 127.0.0.1 (same thread count), so every
layer's weights, KV cache and compute live behind the RPC protocol: what is measured is the
protocol's overhead with no network latency. On a real network add one round trip per
device boundary per token. The two sides alternate for --rounds after a warm-up; the verdict
is the median of the per-round B/A ratios of decode tokens/s (and of time to first token).
Needs a llama.cpp build with -DGGML_RPC=ON.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_runtime.chat.generation import Finished, GenerationParams, LoadRequest, Message
from model_runtime.engine import EngineClient
from model_runtime.llama import rpc
from model_runtime.models.starter import starter_model_path
from tests.rpc_worker import start_rpc_worker


def run(client: EngineClient, round_no: int, max_tokens: int) -> tuple[float, float]:
    """One answer: (decode tokens/s, time to first token in s), from the engine's stats."""
    messages = [
        Message("system", f"Round {round_no}. You are a helpful assistant."),
        Message("user", "Write a long story about a lighthouse keeper and a storm."),
    ]
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0, seed=1)
    finished = [e for e in client.generate(messages, params) if isinstance(e, Finished)][-1]
    return finished.stats.tokens_per_second, finished.stats.ttft_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    if not rpc.supported():
        print("This llama.cpp build has no RPC backend (-DGGML_RPC=ON).", file=sys.stderr)
        return 1
    model = args.model or str(starter_model_path())
    home = Path(tempfile.mkdtemp(prefix="ponder-bench-rpc-"))
    workers = start_rpc_worker(home)
    endpoint = next(workers)
    base = LoadRequest(model_path=model, n_ctx=2048, n_threads=args.threads)
    local, remote = EngineClient(log_dir=home), EngineClient(log_dir=home)
    try:
        local.load(base)
        remote.load(replace(base, n_gpu_layers=999, rpc_workers=(endpoint,)))
        run(local, 0, 16)
        run(remote, 0, 16)
        speed, ttft = [], []
        for n in range(1, args.rounds + 1):
            a_tps, a_ttft = run(local, n, args.max_tokens)
            b_tps, b_ttft = run(remote, n, args.max_tokens)
            speed.append(b_tps / a_tps)
            ttft.append(b_ttft / a_ttft)
            print(f"round {n}: A local {a_tps:6.1f} tok/s, TTFT {a_ttft * 1000:5.0f} ms | "
                  f"B RPC {b_tps:6.1f} tok/s, TTFT {b_ttft * 1000:5.0f} ms")  # fmt: skip
        print(f"B/A decode tokens/s (median of rounds): {statistics.median(speed):.3f}")
        print(f"B/A time to first token (median of rounds): {statistics.median(ttft):.3f}")
    finally:
        local.close()
        remote.close()
        workers.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
