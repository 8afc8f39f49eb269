"""Model parameters Llama() does not expose: tensor placement overrides and no_alloc, via ctypes.

llama-cpp-python 0.3.36 leaves ``llama_model_params.tensor_buft_overrides`` unset and has no
``no_alloc`` argument. ``Llama.__init__`` builds its parameters with
``llama_cpp.llama_cpp.llama_model_default_params()``, so within ``model_params_patch`` that
function returns parameters that carry ours. With ``verbose=True`` llama.cpp logs
``tensor blk.1.ffn_up_exps.weight (…) buffer type overridden to CPU`` for every tensor a
pattern catches: the proof that an override was applied.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

# llama.cpp's --cpu-moe: the routed experts' weights (not the shared experts', *_shexp).
ALL_EXPERTS = r"\.ffn_(up|down|gate)_exps"

OVERRIDE_LOG = re.compile(r"tensor (\S+) \(.*\) buffer type overridden to (\S+)")


def experts_of_layers(layers: Sequence[int]) -> tuple[str, ...]:
    """Patterns that keep the routed experts of these layers in system memory (--n-cpu-moe)."""
    if not layers:
        return ()
    alternatives = "|".join(str(i) for i in sorted(set(layers)))
    return (rf"blk\.({alternatives})\.ffn_(up|down|gate)_exps",)


class _Override(ctypes.Structure):
    """struct llama_model_tensor_buft_override { const char *pattern; void *buft; }"""

    _fields_ = (("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p))


@dataclass
class ParamsPatch:
    """The C memory of an applied patch; keep it alive as long as the model it loaded."""

    overrides: Any = None
    patterns: tuple[bytes, ...] = ()


def cpu_buffer_type() -> int:
    """The address of ggml's CPU buffer type, in the ggml that libllama uses.

    A build with dynamically loaded backends names its CPU library per CPU variant; there
    the CPU device of ggml's registry gives the same buffer type.
    """
    from model_runtime.llama.build import ggml_library

    ggml = ggml_library()
    try:
        fn = ggml.ggml_backend_cpu_buffer_type
        fn.restype, fn.argtypes = ctypes.c_void_p, []
        address = fn()
    except AttributeError:
        ggml.ggml_backend_dev_by_type.restype = ctypes.c_void_p
        ggml.ggml_backend_dev_by_type.argtypes = [ctypes.c_int]
        ggml.ggml_backend_dev_buffer_type.restype = ctypes.c_void_p
        ggml.ggml_backend_dev_buffer_type.argtypes = [ctypes.c_void_p]
        device = ggml.ggml_backend_dev_by_type(0)  # GGML_BACKEND_DEVICE_TYPE_CPU
        address = ggml.ggml_backend_dev_buffer_type(device) if device else None
    if not address:
        raise RuntimeError("llama.cpp returned no CPU buffer type")
    return int(address)


def _override_array(patterns: Sequence[str]) -> tuple[Any, tuple[bytes, ...]]:
    """A NULL-terminated C array of {pattern, CPU buffer type}."""
    from llama_cpp import llama_cpp

    limit = int(llama_cpp.llama_max_tensor_buft_overrides())
    if len(patterns) >= limit:
        raise ValueError(f"llama.cpp takes at most {limit - 1} tensor overrides")
    for pattern in patterns:
        re.compile(pattern)  # llama.cpp would throw std::regex_error, which aborts
    encoded = tuple(p.encode("utf-8") for p in patterns)
    buft = cpu_buffer_type()
    array = (_Override * (len(encoded) + 1))()
    for slot, raw in zip(array, encoded, strict=False):
        slot.pattern = raw
        slot.buft = buft
    return array, encoded


@contextlib.contextmanager
def model_params_patch(
    cpu_tensors: Sequence[str] = (), *, no_alloc: bool = False
) -> Iterator[ParamsPatch]:
    """Within the block, Llama(...) keeps tensors matching cpu_tensors (regexes) in system memory.

    no_alloc makes llama.cpp read the metadata and only simulate allocations (it needs
    use_mmap=False); the buffer sizes it logs are then what a real load would take.
    """
    from llama_cpp import llama_cpp

    patch = ParamsPatch()
    if cpu_tensors:
        patch.overrides, patch.patterns = _override_array(cpu_tensors)
    if not cpu_tensors and not no_alloc:
        yield patch
        return
    original = llama_cpp.llama_model_default_params

    def patched() -> Any:
        params = original()
        if patch.overrides is not None:
            params.tensor_buft_overrides = ctypes.addressof(patch.overrides)
        if no_alloc:
            params.no_alloc = True
        return params

    llama_cpp.llama_model_default_params = patched
    try:
        yield patch
    finally:
        llama_cpp.llama_model_default_params = original


def overridden_tensors(log_text: str) -> dict[str, str]:
    """Tensor name -> buffer type, from llama.cpp's "buffer type overridden" log lines."""
    return {m.group(1): m.group(2) for m in OVERRIDE_LOG.finditer(log_text)}
