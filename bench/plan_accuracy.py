"""The planner's memory estimate against what llama.cpp really allocates, model by model.

Run from the repository root:  .venv/bin/python bench/plan_accuracy.py [--strict]

For each catalog model (DeepSeek-R1 distills, R1-0528-Qwen3-8B, R1 671B at UD-IQ1_S and
Q4_K_M) a header-only GGUF with the real architecture's tensor table is written into a temp
folder and extended sparsely to its full size (a few MiB on disk). llama.cpp "loads" it with
no_alloc, which computes every buffer without allocating it, and logs the sizes: model
weights, KV cache, compute buffer, output buffer. The SmolLM2 starter model and tiny
generated models of each architecture are measured the same way, and SmolLM2 once for real
(with --real) so its resident memory is compared too.

Printed per model, context and flash-attention setting: llama.cpp's figures, Ponder's
estimate (memory_estimate.estimate_memory, from the GGUF metadata alone) and the error of
the total. The last line is the worst error; --strict exits 1 when it exceeds --target.
Everything runs on the CPU backend unless --gpu: then every layer and the output head are
offloaded (n_gpu_layers 999, one GPU). Under no_alloc llama.cpp (0.3.36) logs the compute
buffers per device (CUDA0, and CUDA_Host: pinned system memory) but not the weights' or the
KV cache's, so the compute buffers are compared per device, and the rest by the totals.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_runtime.gguf.profile import profile_from_gguf, read_model  # noqa: E402
from model_runtime.models.starter import starter_model_path  # noqa: E402
from model_runtime.planning.memory_estimate import estimate_memory  # noqa: E402
from model_runtime.planning.memory_probe import measure_load  # noqa: E402
from tests.gguf_factory import write_tiny_model  # noqa: E402
from tests.model_shapes import CATALOG, SHAPES, write_header_only  # noqa: E402

MIB = 1024 * 1024
TINY_DENSE = {"n_vocab": 2000, "n_embd": 256, "n_head": 8, "n_head_kv": 2, "n_ff": 512}
TINY = {
    "tiny-llama": {"arch": "llama", **TINY_DENSE},
    "tiny-qwen2": {"arch": "qwen2", **TINY_DENSE},
    "tiny-qwen3": {"arch": "qwen3", **TINY_DENSE},
    "tiny-deepseek2": {"arch": "deepseek2", "n_layer": 3, "n_expert": 4, "n_expert_used": 2},
}


def models(folder: Path, only: list[str]) -> list[tuple[str, Path]]:
    """(label, path) of every model to measure, written into folder."""
    out = []
    for key, quant in CATALOG:
        label = f"{SHAPES[key].name} {quant}"
        if not only or any(o.lower() in label.lower() for o in only):
            out.append((label, write_header_only(folder / f"{key}-{quant}.gguf", key, quant)))
    starter = starter_model_path()
    if starter is not None and (not only or any("smol" in o.lower() for o in only)):
        out.append(("SmolLM2-135M Q4_1 (starter)", Path(starter)))
    for label, spec in TINY.items():
        if not only or any(o.lower() in label for o in only):
            path = write_tiny_model(folder / f"{label}.gguf", context_length=32768, **spec)
            out.append((label, path))
    return out


def on_device(buffers: dict[str, int]) -> int:
    """The bytes of the buffers in GPU memory (CUDA0, Vulkan0, …; not CPU or pinned host)."""
    return sum(
        n for name, n in buffers.items() if not name.startswith("CPU") and "Host" not in name
    )


def row(
    label: str, path: Path, n_ctx: int, flash_attn: bool, real: bool, gpu: bool = False
) -> dict:
    """Measure one load and estimate it."""
    started = time.perf_counter()
    layers = 999 if gpu else 0
    m = measure_load(
        str(path), n_ctx=n_ctx, flash_attn=flash_attn, no_alloc=not real, n_gpu_layers=layers
    )
    e = estimate_memory(
        profile_from_gguf(read_model(path)),
        n_ctx=n_ctx,
        flash_attn=flash_attn,
        n_gpu_layers=layers,
        n_gpus=1 if gpu else 0,
    )
    measured, estimated = m.total_bytes, e.buffers_total
    result = {
        "model": label,
        "n_ctx": n_ctx,
        "flash_attn": flash_attn,
        "real": real,
        "measured": {
            "weights": m.weights_bytes,
            "kv": m.kv_bytes,
            "compute": m.compute_bytes,
            "output": m.output_bytes,
            "total": measured,
            "rss": m.rss_bytes if real else None,
        },
        "estimated": {
            "weights": e.weights_host + e.weights_device,
            "kv": e.kv_bytes,
            "compute": e.compute_host + e.compute_device,
            "output": e.output_host,
            "total": estimated,
            "host_total": e.host_total,
        },
        "error": estimated / measured - 1,
        "seconds": time.perf_counter() - started,
    }
    if gpu:  # under no_alloc llama.cpp logs the compute buffers per device, not the others
        device = on_device(dict(m.compute_buffers))
        result["measured"]["gpu_compute"] = device
        result["measured"]["host_compute"] = m.compute_bytes - device
        result["estimated"]["gpu_compute"] = e.compute_device
        result["estimated"]["host_compute"] = e.compute_host
        result["device_error"] = e.compute_device / device - 1 if device else float("nan")
    return result


def mib(n: float) -> str:
    return f"{n / MIB:10.1f}"


def print_row(r: dict) -> None:
    m, e = r["measured"], r["estimated"]
    fa = "FA" if r["flash_attn"] else "--"
    extra = ""
    if r["real"]:
        extra = f"  rss {m['rss'] / MIB:.0f} MiB ≤ estimate {e['host_total'] / MIB:.0f} MiB"
    if "gpu_compute" in m:
        extra += (
            f"  GPU compute{mib(m['gpu_compute'])}{mib(e['gpu_compute'])} "
            f"{r['device_error']:+7.2%}  pinned{mib(m['host_compute'])}{mib(e['host_compute'])}"
        )
    print(
        f"{r['model'][:34]:34} {r['n_ctx']:>6} {fa} "
        f"{mib(m['kv'])}{mib(e['kv'])} {mib(m['compute'])}{mib(e['compute'])} "
        f"{mib(m['total'])}{mib(e['total'])} {r['error']:+8.2%}{extra}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", default="512,2048,8192,32768")
    parser.add_argument("--models", nargs="*", default=[], help="substrings of model labels")
    parser.add_argument("--no-flash-attn-only", action="store_true", help="skip the FA rows")
    parser.add_argument("--real", action="store_true", help="also load SmolLM2 for real")
    parser.add_argument("--target", type=float, default=0.10, help="worst error allowed")
    parser.add_argument("--strict", action="store_true", help="exit 1 above --target")
    parser.add_argument("--json", type=Path, default=None, help="save every row here")
    parser.add_argument("--gpu", action="store_true", help="offload everything to one GPU")
    args = parser.parse_args(argv)
    contexts = [int(c) for c in args.contexts.split(",")]
    settings = [False] if args.no_flash_attn_only else [False, True]

    rows = []
    with tempfile.TemporaryDirectory(prefix="ponder-plan-") as tmp:
        print(
            f"{'model':34} {'n_ctx':>6} FA {'KV meas':>10}{'KV est':>10} "
            f"{'comp meas':>10}{'comp est':>10} {'total meas':>10}{'total est':>10} "
            f"{'error':>8}   (MiB)"
        )
        for label, path in models(Path(tmp), args.models):
            for n_ctx in contexts:
                for flash_attn in settings:
                    r = row(label, path, n_ctx, flash_attn, real=False, gpu=args.gpu)
                    rows.append(r)
                    print_row(r)
            if args.real and "starter" in label:
                r = row(label, path, 8192, False, real=True)
                rows.append(r)
                print_row(r)
    if args.gpu:
        logged = [r for r in rows if r["measured"]["gpu_compute"]]
        if not logged:
            print("\nno GPU buffer in llama.cpp's log: this llama.cpp build has no GPU backend")
        else:
            on_gpu = max(logged, key=lambda r: abs(r["device_error"]))
            print(
                f"\nworst GPU compute buffer error: {on_gpu['device_error']:+.2%} "
                f"({on_gpu['model']}, n_ctx {on_gpu['n_ctx']}, "
                f"flash attention {'on' if on_gpu['flash_attn'] else 'off'})"
            )
    worst = max(rows, key=lambda r: abs(r["error"]))
    ok = abs(worst["error"]) <= args.target
    print(
        f"\nworst error: {worst['error']:+.2%} ({worst['model']}, n_ctx {worst['n_ctx']}, "
        f"flash attention {'on' if worst['flash_attn'] else 'off'}); "
        f"target ±{args.target:.0%}: {'PASS' if ok else 'FAIL'}"
    )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "worst": worst}, indent=1))
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
