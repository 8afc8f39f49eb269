"""Coming back to a chat: time to the first token with the KV state cache against without it.

Run from the repository root:  .venv/bin/python bench/return_to_chat.py [--history 2000]

The real model (the SmolLM2 starter unless --model) answers a chat whose history is about
--history tokens; another chat then takes the engine's context, and the first chat asks again.
Three ways, each --rounds times, in one run:

N. no cache: the engine reads the whole history again (the cache turned off in its settings);
R. the memory tier: the history comes back from the engine's RAM;
D. the disk tier: the engine was restarted (a new worker process) before coming back, so the
   history comes from the cache file (the page cache may hold it: a restart, not a reboot).

It prints each time to first token, the medians, R/N (target <= 0.1) and D/N (target <= 0.25),
the saved state's size per 1,000 tokens, and the load average beside the figures: llama.cpp's
threads spin-wait, so other load on the cores changes the times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_runtime.chat.generation import (  # noqa: E402
    Finished,
    GenerationParams,
    GenerationStats,
    LoadRequest,
    Message,
)
from model_runtime.engine import EngineClient  # noqa: E402
from model_runtime.engine.cache_settings import CacheSettings, save_cache_settings  # noqa: E402

GREEDY = GenerationParams(max_tokens=32, temperature=0.0, seed=1)


def notes(tokens: int, seed: int) -> str:
    """A user message of about `tokens` tokens (SmolLM2's tokenizer: ~19 per sentence)."""
    sentences = [
        f"Item {i} of list {seed}: the box holds {i * 7 + seed} marbles."
        for i in range(tokens // 19)
    ]
    return "Here are my notes. " + " ".join(sentences) + " Which box holds the most marbles?"


def ask(client: EngineClient, messages: list[Message], tag: str) -> tuple[str, GenerationStats]:
    text, stats = [], None
    for event in client.generate(messages, replace(GREEDY, cache_tag=tag)):
        if isinstance(event, Finished):
            stats = event.stats
        elif getattr(event, "kind", "") == "answer":
            text.append(event.text)
    assert stats is not None
    return "".join(text), stats


def start(request: LoadRequest, enabled: bool) -> EngineClient:
    save_cache_settings(CacheSettings(enabled=enabled))
    client = EngineClient()
    client.load(request)
    return client


def one_round(request: LoadRequest, history: int, seed: int, way: str) -> dict[str, float]:
    """Build a chat, leave it for another, come back: the return's time to first token."""
    client = start(request, enabled=way != "N")
    first = [Message("user", notes(history, seed))]
    answer, built = ask(client, first, f"chat-{seed}")
    ask(client, [Message("user", f"Name {seed % 5 + 2} colours.")], f"other-{seed}")
    if way == "D":
        client.close()  # waits for the cache file
        client = start(request, enabled=True)
    again = [*first, Message("assistant", answer), Message("user", "And the fewest?")]
    _, back = ask(client, again, f"chat-{seed}")
    client.close()
    if way != "N" and back.restored_from != {"R": "memory", "D": "disk"}[way]:
        raise SystemExit(f"{way}: expected a restore, got {back}")
    return {
        "ttft": back.ttft_seconds,
        "history": built.n_prompt,
        "prompt": back.n_prompt,
        "restored": back.n_restored,
        "load": os.getloadavg()[0],
    }


def state_size_per_1000(folder: Path) -> float:
    """Bytes per 1,000 tokens of the saved states (from their headers)."""
    from model_runtime.engine.kv_files import SUFFIX, read_header

    sizes = []
    for path in folder.iterdir():
        if path.name.endswith(SUFFIX):
            with open(path, "rb") as f:
                header = read_header(f, path.stat().st_size)
            sizes.append(1000 * header.state_bytes / header.n_tokens)
    return statistics.median(sizes) if sizes else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a GGUF file (default: the SmolLM2 starter)")
    parser.add_argument("--history", type=int, default=2000, help="tokens of history")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    from model_runtime.models.starter import starter_model_path

    model = args.model or str(starter_model_path())
    request = LoadRequest(model_path=model, n_ctx=args.n_ctx, n_threads=args.threads)
    with tempfile.TemporaryDirectory(prefix="ponder-bench-") as home:
        os.environ["PONDER_HOME"] = home
        runs: dict[str, list[dict[str, float]]] = {"N": [], "R": [], "D": []}
        for r in range(args.rounds):
            for way in runs:
                runs[way].append(one_round(request, args.history, 10 * r + len(runs[way]), way))
                run = runs[way][-1]
                print(
                    f"round {r + 1} {way}: first token after {run['ttft']:6.3f} s  "
                    f"(history {run['history']:.0f} tokens, {run['restored']:.0f} restored, "
                    f"load {run['load']:.2f})",
                    flush=True,
                )
        per_1000 = state_size_per_1000(Path(home) / "cache" / "kv")
    ttft = {way: statistics.median(r["ttft"] for r in rs) for way, rs in runs.items()}
    ram, disk = ttft["R"] / ttft["N"], ttft["D"] / ttft["N"]
    history = statistics.median(r["history"] for r in runs["N"])
    print()
    print(f"  model {Path(model).name}, {args.threads} thread(s), history {history:.0f} tokens")
    for way, name in (("N", "no cache"), ("R", "memory tier"), ("D", "disk tier, restarted")):
        print(f"  {way}  {name:<22} first token after {ttft[way]:6.3f} s  (median)")
    print(f"  R/N  memory tier / no cache   {ram:5.3f}   target <= 0.1")
    print(f"  D/N  disk tier / no cache     {disk:5.3f}   target <= 0.25")
    print(f"  state size: {per_1000 / 1024**2:.1f} MiB per 1,000 tokens")
    loads = [r["load"] for rs in runs.values() for r in rs]
    print(f"  load average during the runs: {min(loads):.2f} to {max(loads):.2f}")
    passed = ram <= 0.1 and disk <= 0.25
    print(f"\n{'PASS' if passed else 'FAIL'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "runs": runs,
                    "ttft": ttft,
                    "ratio_ram": ram,
                    "ratio_disk": disk,
                    "bytes_per_1000_tokens": per_1000,
                },
                indent=2,
            )
        )
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
