"""Measure what llama.cpp really allocates for a load: run it in a child process, parse its log.

``python -m model_runtime.planning.memory_probe '{"model_path": …}'`` is the child;
measure_load() the parent. With no_alloc llama.cpp only simulates the allocations, so even a
model larger than this machine's memory (or a header-only file) can be measured.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from model_runtime.errors import EngineError
from model_runtime.llama.tensor_overrides import overridden_tensors

_MIB = 1024 * 1024
_MODEL_BUFFER = re.compile(r"load_tensors:\s+(\S+) model buffer size =\s+([\d.]+) MiB")
_KV_TOTAL = re.compile(r"llama_kv_cache: size =\s+([\d.]+) MiB")
_KV_BUFFER = re.compile(r"llama_kv_cache:\s+(\S+) KV buffer size =\s+([\d.]+) MiB")
_COMPUTE = re.compile(r"sched_reserve:\s+(\S+) compute buffer size =\s+([\d.]+) MiB")
_OUTPUT = re.compile(r"llama_context:\s+(\S+)\s+output buffer size =\s+([\d.]+) MiB")
_RESULT_TAG = "PONDER_PROBE "


@dataclass(frozen=True)
class MeasuredMemory:
    """What llama.cpp reported allocating, in bytes, per buffer (CPU_Mapped, CUDA0, …)."""

    model_buffers: Mapping[str, int]
    kv_bytes: int
    kv_buffers: Mapping[str, int]
    compute_buffers: Mapping[str, int]
    output_bytes: int
    overridden: Mapping[str, str]  # tensor name -> the buffer type it was forced into
    weights_bytes: int = 0  # llama_model_size(): the tensors' bytes, also under no_alloc
    rss_bytes: int = 0  # the child's resident memory after loading
    log: str = field(default="", repr=False)

    @property
    def compute_bytes(self) -> int:
        """All compute buffers together."""
        return sum(self.compute_buffers.values())

    @property
    def total_bytes(self) -> int:
        """Weights, KV cache, compute and output buffers."""
        weights = self.weights_bytes or sum(self.model_buffers.values())
        return weights + self.kv_bytes + self.compute_bytes + self.output_bytes


def _mib(text: str) -> int:
    return round(float(text) * _MIB)


def _by_name(pattern: re.Pattern[str], log: str) -> dict[str, int]:
    """Buffer name -> bytes; a later line for the same buffer replaces an earlier one."""
    return {m.group(1): _mib(m.group(2)) for m in pattern.finditer(log)}


def parse_allocations(log: str) -> MeasuredMemory:
    """Read the buffer sizes out of a verbose llama.cpp load log."""
    outputs = _by_name(_OUTPUT, log)
    return MeasuredMemory(
        model_buffers=MappingProxyType(_by_name(_MODEL_BUFFER, log)),
        kv_bytes=sum(_mib(m.group(1)) for m in _KV_TOTAL.finditer(log)),
        kv_buffers=MappingProxyType(_by_name(_KV_BUFFER, log)),
        compute_buffers=MappingProxyType(_by_name(_COMPUTE, log)),
        output_bytes=sum(outputs.values()),
        overridden=MappingProxyType(overridden_tensors(log)),
        log=log,
    )


def measure_load(
    model_path: str,
    *,
    n_ctx: int,
    n_batch: int = 512,
    n_gpu_layers: int = 0,
    flash_attn: bool = False,
    type_k: int | None = None,
    type_v: int | None = None,
    cpu_tensors: Sequence[str] = (),
    no_alloc: bool = False,
    timeout: float = 300.0,
) -> MeasuredMemory:
    """Load a model in a child process with verbose logging and return what it allocated."""
    request = {
        "model_path": str(model_path),
        "n_ctx": n_ctx,
        "n_batch": n_batch,
        "n_gpu_layers": n_gpu_layers,
        "flash_attn": flash_attn,
        "type_k": type_k,
        "type_v": type_v,
        "cpu_tensors": list(cpu_tensors),
        "no_alloc": no_alloc,
    }
    done = subprocess.run(
        [sys.executable, "-m", "model_runtime.planning.memory_probe", json.dumps(request)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
    )
    result: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        if line.startswith(_RESULT_TAG):
            result = json.loads(line[len(_RESULT_TAG) :])
    if done.returncode != 0 or not result:
        tail = "\n".join(done.stderr.splitlines()[-15:])
        raise EngineError(
            f"llama.cpp could not load {model_path} (exit {done.returncode}):\n{tail}"
        )
    measured = parse_allocations(done.stderr)
    return MeasuredMemory(
        **{
            **measured.__dict__,
            "weights_bytes": int(result["model_size"]),
            "rss_bytes": int(result["rss"]),
        }
    )


def _child(request: dict[str, Any]) -> None:
    """Load the model as asked, then print its size and this process's RSS on stdout."""
    import llama_cpp
    import psutil

    from model_runtime.llama.tensor_overrides import model_params_patch

    kwargs = {
        "n_ctx": request["n_ctx"],
        "n_batch": request["n_batch"],
        "n_gpu_layers": request["n_gpu_layers"],
        "flash_attn": request["flash_attn"],
        "type_k": request["type_k"],
        "type_v": request["type_v"],
        "n_threads": 1,
    }
    if request["no_alloc"]:
        kwargs["use_mmap"] = False  # llama.cpp asserts no_alloc only without mmap
    with model_params_patch(request["cpu_tensors"], no_alloc=request["no_alloc"]):
        llm = llama_cpp.Llama(model_path=request["model_path"], verbose=True, **kwargs)
    size = llama_cpp.llama_cpp.llama_model_size(llm._model.model)
    rss = psutil.Process().memory_info().rss
    print(_RESULT_TAG + json.dumps({"model_size": int(size), "rss": int(rss)}), flush=True)
    llm.close()


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
