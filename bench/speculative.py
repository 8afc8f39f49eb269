"""Speculative decoding: tokens/s with prompt lookup against without, and a draft model.

Run from the repository root:  .venv/bin/python bench/speculative.py [--rounds 3]

Three engines (EngineClient, the worker process) load the same GGUF (the SmolLM2 starter
unless --model) with the same context, thread count (fixed: no adaptation, so that threads
don't move the figures) and flash attention, which drafting needs:

* off: no drafting (Ponder's decode loop, one token a step);
* lookup: prompt lookup as Ponder ships it (it drafts only while its guesses pay);
* draft: a draft model (--draft, by default the model itself: the only model here);
* "every step" sides draft MAX_DRAFT tokens at every step, paying or not: how often the
  guesses are right.

After the rounds, the price of checking guesses is measured on the model itself (llama.cpp in
this process, the same threads and flash attention): a one-token step and a batch of
MAX_DRAFT + 1 tokens, at the code edit's context length. With that price and how many tokens
"lookup, every step" took from its guesses, it prints the most any gate could make of prompt
lookup's guesses: drafting exactly the ones that are right, and nothing else.

Two prompts, greedy, each round's system message tagged so no side finds it in its cache:

(a) code edit: an 80-line function, "change one line and write the whole function again" —
    the answer repeats the prompt, prompt lookup's best case (target lookup/off >= 1.3);
(b) plain question: an essay, where guesses are rarely right and drafting must switch itself
    off (target lookup/off >= 0.97).

Sides take turns in each round (off, lookup, draft, then the next prompt); medians of the
worker's decode tokens/s are printed with the per-round ratios' median, the drafted and kept
tokens, and the load average beside each figure (other engineers' work on a shared machine
moves everything). Greedy answers must be the same on every side: it prints whether they are.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from decode import wait_idle

from model_runtime.chat.generation import (
    Chunk,
    Finished,
    GenerationParams,
    LoadRequest,
    Message,
    Speculation,
)
from model_runtime.engine import EngineClient
from model_runtime.engine.speculative import MAX_DRAFT
from model_runtime.models.starter import starter_model_path

FUNCTION = "\n".join(
    f"    value_{i} = transform(value_{i - 1}, weight={i}, bias=offsets[{i % 7}])  # stage {i}"
    for i in range(1, 79)
)
CODE_EDIT = (
    "Here is a function:\n\n```python\ndef pipeline(value_0, offsets):\n"
    f"{FUNCTION}\n    return value_78\n```\n\n"
    "Change stage 40 so that it uses weight=400. Write out the whole function again, "
    "unchanged except for that line."
)
QUESTION = (
    "Write a long, detailed essay on the history of the printing press, from woodblock "
    "printing in China to modern offset printing. Use many paragraphs and give examples."
)
PROMPTS = {"code edit": CODE_EDIT, "plain question": QUESTION}
DRAFT_NOTE = (
    "A draft model pays when its guess costs a small part of a step of the model and the model\n"
    "checks a batch of guesses for about the price of one token: on a GPU, R1-Distill-Qwen-1.5B\n"
    "drafting for the 32B costs about a tenth of its step, and a batch of 8 about one step.\n"
    "Drafting for itself (the default here) a guess costs a whole step, so the gate turns it\n"
    "off ('draft'); 'draft, every step' shows how often its guesses are taken all the same."
)
TARGETS = {"code edit": 1.3, "plain question": 0.97}


@dataclass
class Result:
    tokens_per_second: float
    n_generated: int
    n_drafted: int
    n_accepted: int
    load: float  # the 1-minute load average when the answer ended
    text: str


def answer(client: EngineClient, prompt: str, tag: str, max_tokens: int) -> Result:
    messages = [Message("system", f"[{tag}] You are a careful assistant."), Message("user", prompt)]
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
    pieces, stats = [], None
    for event in client.generate(messages, params):
        if isinstance(event, Chunk):
            pieces.append(event.text)
        elif isinstance(event, Finished):
            stats = event.stats
    assert stats is not None
    return Result(
        stats.tokens_per_second,
        stats.n_generated,
        stats.n_drafted,
        stats.n_accepted,
        os.getloadavg()[0],
        "".join(pieces),
    )


def load(model: str, args: argparse.Namespace, spec: Speculation, logs: Path) -> EngineClient:
    client = EngineClient(log_dir=logs)
    client.load(
        LoadRequest(
            model_path=model,
            n_ctx=args.ctx,
            n_threads=args.threads,
            n_gpu_layers=args.gpu_layers,
            flash_attn=True,
            adapt_threads=False,
            speculation=spec,
        )
    )
    return client


def figures(results: list[Result]) -> str:
    rate = statistics.median(r.tokens_per_second for r in results)
    drafted = sum(r.n_drafted for r in results)
    kept = sum(r.n_accepted for r in results)
    loads = ", ".join(f"{r.load:.1f}" for r in results)
    drafts = f", kept {kept:,} of {drafted:,} drafted ({kept / drafted:.0%})" if drafted else ""
    return f"{rate:7.1f} tok/s{drafts}  [load {loads}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF file (default: the SmolLM2 starter)")
    parser.add_argument("--draft", help="draft model GGUF (default: the model itself)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gpu-layers", type=int, default=0, help="layers offloaded (999: all)")
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--no-draft-model", action="store_true", help="skip the draft model")
    parser.add_argument("--strict", action="store_true", help="exit 1 below a target")
    args = parser.parse_args(argv)
    model = args.model or str(starter_model_path())
    draft = args.draft or model
    sides = {
        "off": Speculation("off"),
        "lookup": Speculation("lookup"),
        "lookup, every step": Speculation("lookup", always=True),
    }
    if not args.no_draft_model:
        sides["draft"] = Speculation("model", draft)
        sides["draft, every step"] = Speculation("model", draft, always=True)
    logs = Path(tempfile.mkdtemp(prefix="ponder-bench-"))
    clients = {name: load(model, args, spec, logs) for name, spec in sides.items()}
    results: dict[str, dict[str, list[Result]]] = {p: {s: [] for s in sides} for p in PROMPTS}
    print(f"model {Path(model).name}, draft {Path(draft).name}, {args.threads} thread(s), "
          f"{args.max_tokens} tokens, greedy, flash attention on")  # fmt: skip
    try:
        for round_no in range(-1, args.rounds):  # round -1 warms every side up, uncounted
            for prompt_name, prompt in PROMPTS.items():
                for side, client in clients.items():
                    wait_idle(args.wait_idle)
                    result = answer(client, prompt, f"r{round_no}", args.max_tokens)
                    if round_no >= 0:
                        results[prompt_name][side].append(result)
                        print(f"round {round_no + 1} {prompt_name:>14} {side:>17}: "
                              f"{figures([result])}", flush=True)  # fmt: skip
    finally:
        for client in clients.values():
            client.close()
    verdict = summary(results, args.strict)
    ceiling(model, args, results["code edit"])
    return verdict


def batch_price(model: str, args: argparse.Namespace) -> tuple[int, float]:
    """A batch of MAX_DRAFT + 1 tokens' time over a one-token step's, halfway through the
    code edit's answer; and how many tokens in that is."""
    import llama_cpp

    llm = llama_cpp.Llama(
        model, n_ctx=args.ctx, n_threads=args.threads, n_threads_batch=args.threads,
        n_gpu_layers=args.gpu_layers, flash_attn=True, verbose=False,
    )  # fmt: skip
    prompt = llm.tokenize(CODE_EDIT.encode())
    context = len(prompt) + args.max_tokens // 2
    tokens = (prompt * 8)[: context + MAX_DRAFT + 1]
    llm.eval(tokens[:context])
    times: dict[int, list[float]] = {1: [], MAX_DRAFT + 1: []}
    for _ in range(7):
        for n in times:
            llm._ctx.kv_cache_seq_rm(-1, context, -1)
            llm._batch.set_batch(tokens[context : context + n], context, logits_all=n > 1)
            start = time.perf_counter()
            llm._ctx.decode(llm._batch)
            times[n].append(time.perf_counter() - start)
    llm.close()
    return context, statistics.median(times[MAX_DRAFT + 1]) / statistics.median(times[1])


def ceiling(model: str, args: argparse.Namespace, sides: dict[str, list[Result]]) -> None:
    """What the best possible gate could make of prompt lookup's guesses on the code edit."""
    every = sides["lookup, every step"]
    generated = sum(r.n_generated for r in every)
    taken = sum(r.n_accepted for r in every)
    context, price = batch_price(model, args)
    alpha = (price - 1) / MAX_DRAFT  # what each extra token of a batch costs, in steps
    best = generated / (generated - taken + alpha * taken)
    print(
        f"\nprice of checking guesses, {context:,} tokens in, {args.threads} thread(s), "
        f"{args.gpu_layers} layers on the GPU: a batch "
        f"of {MAX_DRAFT + 1} costs {price:.1f} one-token steps ({alpha:.2f} a guess)\n"
        f"code edit: {taken:,} of {generated:,} tokens could come from lookup's guesses; "
        f"drafting exactly those and nothing else, lookup/off would be at most {best:.2f}"
    )


def summary(results: dict[str, dict[str, list[Result]]], strict: bool) -> int:
    print("\nmedians (tokens/s on the worker's clock)")
    passed = True
    for prompt_name, sides in results.items():
        off = sides["off"]
        print(f"{prompt_name}:")
        for side, runs in sides.items():
            pairs = zip(runs, off, strict=True)
            ratio = statistics.median(r.tokens_per_second / o.tokens_per_second for r, o in pairs)
            line = f"  {side:>17}: {figures(runs)}"
            if side != "off":
                line += f"  {side}/off {ratio:.2f}"
            if side == "lookup":
                target = TARGETS[prompt_name]
                ok = ratio >= target
                passed &= ok
                line += f" ({'PASS' if ok else 'FAIL'}, target >= {target})"
            same = all(r.text == o.text for r, o in zip(runs, off, strict=True))
            print(line + ("" if same else "  DIFFERENT TEXT"))
    if "draft" in next(iter(results.values())):
        print(DRAFT_NOTE)
    return 0 if passed or not strict else 1


if __name__ == "__main__":
    sys.exit(main())
