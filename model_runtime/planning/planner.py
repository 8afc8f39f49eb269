"""The offload planner: (model profile, hardware, user overrides) -> LoadPlan with a fit verdict.

plan() is a pure function; plan_load() reads the model file and detects the hardware first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from model_runtime.gguf.profile import ModelProfile, profile_from_gguf, read_model
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.llama.tensor_overrides import ALL_EXPERTS, experts_of_layers
from model_runtime.planning.memory_estimate import (
    KV_TYPES,
    MemoryEstimate,
    estimate_memory,
    kv_type_usable,
    padded_ctx,
)
from model_runtime.planning.plan import Fit, LoadPlan, PlanOverrides, Verdict
from model_runtime.units import MIB, gib_text

DEFAULT_CTX = 8192
LONGER_CTX = (32768, 16384)  # chosen instead of DEFAULT_CTX when they cost no GPU layer
LONGER_CTX_HOST_SHARE = 0.8  # … and leave a fifth of the available RAM to other programs
MIN_AUTO_CTX = 2048  # shortest context chosen automatically: R1's thinking needs room
MIN_CTX = 512
# Kept free for the desktop and other programs: this share of memory, and at least the floor.
HOST_MARGIN, HOST_MARGIN_FLOOR = 0.05, 512 * MIB
DEVICE_MARGIN, DEVICE_MARGIN_FLOOR = 0.03, 256 * MIB
# Typical bits per weight of llama.cpp quantizations, largest first (for "what would fit").
QUANT_BITS = (
    ("Q8_0", 8.5),
    ("Q6_K", 6.6),
    ("Q5_K_M", 5.7),
    ("Q4_K_M", 4.9),
    ("IQ4_XS", 4.3),
    ("Q3_K_M", 3.9),
    ("IQ3_XXS", 3.1),
    ("Q2_K", 2.7),
    ("IQ2_XXS", 2.1),
    ("IQ1_S", 1.6),
)


@dataclass(frozen=True)
class _Budget:
    """Memory a plan may use: system RAM, and the usable GPUs together."""

    host: int
    device: int
    n_gpus: int
    unified: bool  # the GPU memory is system memory (Apple Silicon)
    gpu_names: str


def _budget(hw: HardwareInfo, use_gpu: bool) -> _Budget:
    host = hw.ram_available - max(HOST_MARGIN_FLOOR, int(HOST_MARGIN * hw.ram_total))
    gpus = hw.usable_gpus if use_gpu else ()
    device = sum(
        max(0, g.memory_free - max(DEVICE_MARGIN_FLOOR, int(DEVICE_MARGIN * g.memory_total)))
        for g in gpus
    )
    unified = any(g.unified for g in gpus)
    if unified:
        device = min(device, host)
    names = " + ".join(g.name for g in gpus)
    return _Budget(max(0, host), device, len(gpus), unified, names)


@dataclass(frozen=True)
class _Settings:
    n_ctx: int
    flash_attn: bool
    type_k: str
    type_v: str
    n_batch: int


def _estimate(p: ModelProfile, b: _Budget, s: _Settings, ngl: int, cel: int) -> MemoryEstimate:
    return estimate_memory(
        p,
        n_ctx=s.n_ctx,
        n_gpu_layers=ngl,
        cpu_expert_layers=cel,
        n_gpus=b.n_gpus,
        flash_attn=s.flash_attn,
        type_k=s.type_k,
        type_v=s.type_v,
        n_batch=s.n_batch,
    )


def _host_need(e: MemoryEstimate, b: _Budget) -> int:
    """System memory used, counting the GPU's share where it is system memory."""
    return e.host_total + (e.device_total if b.unified else 0)


def _host_ok(e: MemoryEstimate, b: _Budget) -> bool:
    return _host_need(e, b) <= b.host


def _device_ok(e: MemoryEstimate, b: _Budget) -> bool:
    return e.device_total <= b.device


def _lowest(lo: int, hi: int, good: Callable[[int], bool]) -> int | None:
    """The smallest n in [lo, hi] with good(n), for a good that stays true once true."""
    if not good(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if good(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _placement(
    p: ModelProfile, b: _Budget, s: _Settings, o: PlanOverrides
) -> tuple[int, int, MemoryEstimate, Fit]:
    """GPU layers and RAM-kept expert layers: as much on the GPU as fits, experts leaving first."""
    n = p.n_layer
    if b.n_gpus == 0 or o.n_gpu_layers == 0:
        e = _estimate(p, b, s, 0, 0)
        return 0, 0, e, Fit.FITS if _host_ok(e, b) else Fit.DOES_NOT_FIT
    if o.n_gpu_layers is not None or o.cpu_expert_layers is not None:
        ngl = n + 1 if o.n_gpu_layers is None else min(o.n_gpu_layers, n + 1)
        cel = min(o.cpu_expert_layers or 0, n) if p.is_moe else 0
        e = _estimate(p, b, s, ngl, cel)
        if not (_host_ok(e, b) and _device_ok(e, b)):
            return ngl, cel, e, Fit.DOES_NOT_FIT
        return ngl, cel, e, Fit.FITS if ngl > n and cel == 0 else Fit.FITS_WITH_OFFLOAD

    def on_device(ngl: int, cel: int) -> bool:
        return _device_ok(_estimate(p, b, s, ngl, cel), b)

    if on_device(n + 1, 0):
        e = _estimate(p, b, s, n + 1, 0)
        return n + 1, 0, e, Fit.FITS if _host_ok(e, b) else Fit.DOES_NOT_FIT
    cel = 0
    if p.is_moe:  # move experts to RAM, first layers first, before moving any layer
        found = _lowest(1, n, lambda c: on_device(n + 1, c))
        if found is not None:
            e = _estimate(p, b, s, n + 1, found)
            return n + 1, found, e, Fit.FITS_WITH_OFFLOAD if _host_ok(e, b) else Fit.DOES_NOT_FIT
        cel = n
    # the fewest layers kept in RAM: the lowest k with the last n + 1 - k layers on the GPU
    kept = _lowest(1, n + 1, lambda k: on_device(n + 1 - k, cel)) or n + 1
    ngl = n + 1 - kept
    cel = cel if ngl else 0
    e = _estimate(p, b, s, ngl, cel)
    if not _host_ok(e, b):
        return ngl, cel, e, Fit.DOES_NOT_FIT
    return ngl, cel, e, Fit.FITS_WITH_OFFLOAD if ngl else Fit.FITS


def _max_ctx(p: ModelProfile, b: _Budget, s: _Settings, o: PlanOverrides, limit: int) -> int:
    """The longest context up to limit that fits (0 if not even MIN_CTX does)."""

    def fits(steps: int) -> bool:
        ctx = MIN_CTX + steps * 256
        return _placement(p, b, dataclasses.replace(s, n_ctx=ctx), o)[3] is not Fit.DOES_NOT_FIT

    top = max(0, (padded_ctx(limit) - MIN_CTX) // 256)
    # fits() is true up to some step and false above: find the last true one
    if not fits(0):
        return 0
    lo, hi = 0, top
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return MIN_CTX + lo * 256


def _reason(p: ModelProfile, b: _Budget, e: MemoryEstimate, fit: Fit, ngl: int, cel: int) -> str:
    ram = f"{gib_text(_host_need(e, b))} of {gib_text(b.host)} of system memory"
    gpu = f"{gib_text(e.device_total)} of {gib_text(b.device)} on {b.gpu_names}"
    if fit is Fit.DOES_NOT_FIT:
        have = b.host if b.unified else b.host + b.device
        need = e.buffers_total + e.overhead_host + e.overhead_device
        if need <= have:  # the total would fit, but not split this way
            side = ram if not _host_ok(e, b) else gpu
            return f"Does not fit with {min(ngl, p.n_layer)} layers on the GPU: needs {side}."
        return (
            f"Needs about {gib_text(need)} of memory; this machine has {gib_text(have)} available"
            + (
                f" ({gib_text(b.host)} RAM + {gib_text(b.device)} GPU)."
                if b.device and not b.unified
                else "."
            )
        )
    if ngl == 0:
        where = "on the CPU" + (" (no usable GPU)" if not b.n_gpus else "")
        return f"Fits in system memory, {where}: {ram}."
    if fit is Fit.FITS:
        return f"Fits entirely on the GPU: {gpu}" + (f"; {ram}." if b.unified else ".")
    layers = min(ngl, p.n_layer)
    if cel:
        return (
            f"Fits with offload: all {layers} layers on the GPU except the experts of "
            f"{cel} layers, which stay in system memory: {gpu}; {ram}."
        )
    return (
        f"Fits with offload: {layers} of {p.n_layer} layers on the GPU, the rest in "
        f"system memory: {gpu}; {ram}."
    )


def _suggestions(
    p: ModelProfile, b: _Budget, s: _Settings, o: PlanOverrides, e: MemoryEstimate, max_ctx: int
) -> tuple[str, ...]:
    """What would fit instead of a plan that does not."""
    out = []
    if max_ctx:
        out.append(f"A context of {max_ctx:,} tokens fits (instead of {s.n_ctx:,}).")
    q8_ok = kv_type_usable(p, "q8_0")
    if s.type_k == "f16" and q8_ok and (s.flash_attn or o.flash_attn is None):
        q8 = dataclasses.replace(s, type_k="q8_0", type_v="q8_0", flash_attn=True)
        if _placement(p, b, q8, o)[3] is not Fit.DOES_NOT_FIT:
            out.append("An 8-bit KV cache (q8_0) fits at this context.")
    if o.n_gpu_layers is not None or o.cpu_expert_layers is not None:
        auto = dataclasses.replace(o, n_gpu_layers=None, cpu_expert_layers=None)
        ngl, _, _, fit = _placement(p, b, s, auto)
        if fit is not Fit.DOES_NOT_FIT:
            out.append(f"The automatic placement fits ({ngl} layers on the GPU).")
    have = b.host if b.unified else b.host + b.device
    rest = e.buffers_total + e.overhead_host + e.overhead_device - p.weights_bytes
    room = have - rest
    bits = 8 * room / max(1, p.n_params)
    smaller = [name for name, bpw in QUANT_BITS if bpw <= bits and bpw < p.bits_per_weight]
    if smaller:
        out.append(
            f"A smaller quantization fits: about {bits:.1f} bits per weight or less "
            f"(this file has {p.bits_per_weight:.1f}), e.g. {smaller[0]}."
        )
    elif not max_ctx:
        out.append("No quantization of this model fits this machine; choose a smaller model.")
    return tuple(out)


def _choose_ctx(
    p: ModelProfile, b: _Budget, s: _Settings, o: PlanOverrides, max_ctx: int
) -> tuple[_Settings, str | None]:
    """The automatic context: DEFAULT_CTX, longer if that costs no GPU layer, shorter to fit."""
    base = _placement(p, b, s, o)
    if base[3] is Fit.DOES_NOT_FIT:
        if max_ctx >= MIN_AUTO_CTX:
            ctx = max(MIN_AUTO_CTX, max_ctx // 1024 * 1024)
            return dataclasses.replace(s, n_ctx=ctx), f"Context lowered to {ctx:,} tokens to fit."
        return s, None
    for ctx in LONGER_CTX:
        if s.n_ctx < ctx <= p.n_ctx_train:
            longer = dataclasses.replace(s, n_ctx=ctx)
            ngl, cel, e, fit = _placement(p, b, longer, o)
            roomy = _host_need(e, b) <= LONGER_CTX_HOST_SHARE * b.host
            if (ngl, cel, fit) == (base[0], base[1], base[3]) and roomy:
                return longer, None
    return s, None


def plan(
    profile: ModelProfile,
    hardware: HardwareInfo,
    overrides: PlanOverrides | None = None,
    *,
    model_path: str = "",
) -> LoadPlan:
    """Choose how to load the model on this hardware and judge whether it fits."""
    o = overrides or PlanOverrides()
    p = profile
    notes = list(hardware.notes())
    type_k, type_v = o.type_k or "f16", o.type_v or "f16"
    if p.mla:  # V is read out of the K cache: llama.cpp refuses different types
        type_v = type_k
    for name in (type_k, type_v):
        if name not in KV_TYPES:
            raise ValueError(f"unknown KV cache type {name!r}; choose from {sorted(KV_TYPES)}")
        if not kv_type_usable(p, name):
            raise ValueError(f"this model's attention heads do not fit a {name} KV cache")
    if o.flash_attn is False and type_v not in ("f16", "f32", "bf16") and not p.mla:
        raise ValueError("a quantized V cache needs flash attention")
    s = _Settings(
        n_ctx=padded_ctx(o.n_ctx or min(p.n_ctx_train, DEFAULT_CTX)),
        flash_attn=True if o.flash_attn is None else o.flash_attn,
        type_k=type_k,
        type_v=type_v,
        n_batch=o.n_batch or 512,
    )
    b = _budget(hardware, o.use_gpu)
    max_ctx = _max_ctx(p, b, s, o, p.n_ctx_train)
    if o.n_ctx is None:
        s, note = _choose_ctx(p, b, s, o, max_ctx)
        if note:
            notes.append(note)
    elif s.n_ctx > p.n_ctx_train:
        notes.append(
            f"The model was trained on {p.n_ctx_train:,} tokens of context; more may degrade."
        )
    ngl, cel, e, fit = _placement(p, b, s, o)
    suggestions = _suggestions(p, b, s, o, e, max_ctx) if fit is Fit.DOES_NOT_FIT else ()
    verdict = Verdict(
        fit=fit,
        reason=_reason(p, b, e, fit, ngl, cel),
        host_needed=_host_need(e, b),
        host_available=b.host,
        device_needed=e.device_total,
        device_available=b.device,
        max_ctx=max_ctx,
        suggestions=suggestions,
    )
    forced = o.force and fit is Fit.DOES_NOT_FIT
    if forced:
        notes.append("Loading although it does not fit, as asked: expect swapping or a crash.")
    threads = o.n_threads or hardware.cpu.physical_cores
    if not ngl:
        patterns: tuple[str, ...] = ()
    elif cel >= p.n_layer:
        patterns = (ALL_EXPERTS,)
    else:
        patterns = experts_of_layers(range(cel))
    return LoadPlan(
        model_path=model_path,
        n_ctx=s.n_ctx,
        n_batch=s.n_batch,
        n_threads=threads,
        n_threads_batch=threads,
        n_gpu_layers=ngl,
        cpu_expert_layers=cel if ngl else 0,
        flash_attn=s.flash_attn,
        type_k=type_k,
        type_v=type_v,
        use_mmap=True if o.use_mmap is None else o.use_mmap,
        use_mlock=bool(o.use_mlock),
        tensor_overrides=patterns,
        estimate=e,
        verdict=verdict,
        forced=forced,
        notes=tuple(notes),
        rpc_workers=hardware.rpc_workers if ngl and o.use_gpu else (),
        profile=p,
        hardware=hardware,
    )


def plan_load(
    model_path: str | Path,
    hardware: HardwareInfo | None = None,
    overrides: PlanOverrides | None = None,
) -> LoadPlan:
    """Read the model's metadata (all parts), detect the hardware if not given, and plan."""
    from model_runtime.hardware.detect import detect_hardware

    profile = profile_from_gguf(read_model(model_path))
    hw = hardware if hardware is not None else detect_hardware()
    return plan(profile, hw, overrides, model_path=str(model_path))
