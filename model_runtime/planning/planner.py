"""The offload planner: (model profile, hardware, user overrides) -> LoadPlan with a fit verdict.

plan() is a pure function; plan_load() reads the model file and detects the hardware first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from model_runtime.gguf.profile import ModelProfile, profile_from_gguf, read_model
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.llama.architectures import check_runnable
from model_runtime.llama.tensor_overrides import ALL_EXPERTS, experts_of_layers
from model_runtime.planning.draft import (
    LOOKUP,
    OFF,
    chosen_draft,
    draft_candidates,
    plan_with_draft,
    read_draft,
    speculation_for,
)
from model_runtime.planning.memory_estimate import (
    KV_TYPES,
    MemoryEstimate,
    estimate_memory,
    kv_type_usable,
    padded_ctx,
)
from model_runtime.planning.plan import DraftFile, Fit, LoadPlan, PlanOverrides, Verdict
from model_runtime.planning.votes import max_thoughts, thought_ctx
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


def _budget(hardware: HardwareInfo, use_gpu: bool) -> _Budget:
    host = hardware.ram_available - max(HOST_MARGIN_FLOOR, int(HOST_MARGIN * hardware.ram_total))
    gpus = hardware.usable_gpus if use_gpu else ()
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


def _estimate(
    profile: ModelProfile, budget: _Budget, settings: _Settings, gpu_layers: int, expert_layers: int
) -> MemoryEstimate:
    return estimate_memory(
        profile,
        n_ctx=settings.n_ctx,
        n_gpu_layers=gpu_layers,
        cpu_expert_layers=expert_layers,
        n_gpus=budget.n_gpus,
        flash_attn=settings.flash_attn,
        type_k=settings.type_k,
        type_v=settings.type_v,
        n_batch=settings.n_batch,
    )


def _host_need(estimate: MemoryEstimate, budget: _Budget) -> int:
    """System memory used, counting the GPU's share where it is system memory."""
    return estimate.host_total + (estimate.device_total if budget.unified else 0)


def _host_ok(estimate: MemoryEstimate, budget: _Budget) -> bool:
    return _host_need(estimate, budget) <= budget.host


def _device_ok(estimate: MemoryEstimate, budget: _Budget) -> bool:
    return estimate.device_total <= budget.device


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


class _Placement(NamedTuple):
    """Where the layers go: how many on the GPU, how many layers' experts stay in RAM."""

    gpu_layers: int
    expert_layers: int
    estimate: MemoryEstimate
    fit: Fit


def _placement(
    profile: ModelProfile, budget: _Budget, settings: _Settings, overrides: PlanOverrides
) -> _Placement:
    """GPU layers and RAM-kept expert layers: as much on the GPU as fits, experts leaving first."""
    n_layer = profile.n_layer
    if budget.n_gpus == 0 or overrides.n_gpu_layers == 0:
        estimate = _estimate(profile, budget, settings, 0, 0)
        return _Placement(
            0, 0, estimate, Fit.FITS if _host_ok(estimate, budget) else Fit.DOES_NOT_FIT
        )
    if overrides.n_gpu_layers is not None or overrides.cpu_expert_layers is not None:
        gpu_layers = (
            n_layer + 1
            if overrides.n_gpu_layers is None
            else min(overrides.n_gpu_layers, n_layer + 1)
        )
        expert_layers = min(overrides.cpu_expert_layers or 0, n_layer) if profile.is_moe else 0
        estimate = _estimate(profile, budget, settings, gpu_layers, expert_layers)
        if not (_host_ok(estimate, budget) and _device_ok(estimate, budget)):
            return _Placement(gpu_layers, expert_layers, estimate, Fit.DOES_NOT_FIT)
        return _Placement(
            gpu_layers,
            expert_layers,
            estimate,
            Fit.FITS if gpu_layers > n_layer and expert_layers == 0 else Fit.FITS_WITH_OFFLOAD,
        )

    def on_device(gpu_layers: int, expert_layers: int) -> bool:
        return _device_ok(_estimate(profile, budget, settings, gpu_layers, expert_layers), budget)

    if on_device(n_layer + 1, 0):
        estimate = _estimate(profile, budget, settings, n_layer + 1, 0)
        return _Placement(
            n_layer + 1, 0, estimate, Fit.FITS if _host_ok(estimate, budget) else Fit.DOES_NOT_FIT
        )
    expert_layers = 0
    if profile.is_moe:  # move experts to RAM, first layers first, before moving any layer
        found = _lowest(1, n_layer, lambda c: on_device(n_layer + 1, c))
        if found is not None:
            estimate = _estimate(profile, budget, settings, n_layer + 1, found)
            return _Placement(
                n_layer + 1,
                found,
                estimate,
                Fit.FITS_WITH_OFFLOAD if _host_ok(estimate, budget) else Fit.DOES_NOT_FIT,
            )
        expert_layers = n_layer
    # the fewest layers kept in RAM: the lowest k with the last n + 1 - k layers on the GPU
    kept = (
        _lowest(1, n_layer + 1, lambda k: on_device(n_layer + 1 - k, expert_layers)) or n_layer + 1
    )
    gpu_layers = n_layer + 1 - kept
    expert_layers = expert_layers if gpu_layers else 0
    estimate = _estimate(profile, budget, settings, gpu_layers, expert_layers)
    if not _host_ok(estimate, budget):
        return _Placement(gpu_layers, expert_layers, estimate, Fit.DOES_NOT_FIT)
    return _Placement(
        gpu_layers, expert_layers, estimate, Fit.FITS_WITH_OFFLOAD if gpu_layers else Fit.FITS
    )


def _max_ctx(
    profile: ModelProfile,
    budget: _Budget,
    settings: _Settings,
    overrides: PlanOverrides,
    limit: int,
) -> int:
    """The longest context up to limit that fits (0 if not even MIN_CTX does)."""

    def fits(steps: int) -> bool:
        ctx = MIN_CTX + steps * 256
        return (
            _placement(profile, budget, dataclasses.replace(settings, n_ctx=ctx), overrides).fit
            is not Fit.DOES_NOT_FIT
        )

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


def _reason(
    profile: ModelProfile,
    budget: _Budget,
    estimate: MemoryEstimate,
    fit: Fit,
    gpu_layers: int,
    expert_layers: int,
) -> str:
    ram = f"{gib_text(_host_need(estimate, budget))} of {gib_text(budget.host)} of system memory"
    gpu = f"{gib_text(estimate.device_total)} of {gib_text(budget.device)} on {budget.gpu_names}"
    if fit is Fit.DOES_NOT_FIT:
        have = budget.host if budget.unified else budget.host + budget.device
        need = estimate.buffers_total + estimate.overhead_host + estimate.overhead_device
        if need <= have:  # the total would fit, but not split this way
            side = ram if not _host_ok(estimate, budget) else gpu
            layers = min(gpu_layers, profile.n_layer)
            return f"Does not fit with {layers} layers on the GPU: needs {side}."
        return (
            f"Needs about {gib_text(need)} of memory; this machine has {gib_text(have)} available"
            + (
                f" ({gib_text(budget.host)} RAM + {gib_text(budget.device)} GPU)."
                if budget.device and not budget.unified
                else "."
            )
        )
    if gpu_layers == 0:
        where = "on the CPU" + (" (no usable GPU)" if not budget.n_gpus else "")
        return f"Fits in system memory, {where}: {ram}."
    if fit is Fit.FITS:
        return f"Fits entirely on the GPU: {gpu}" + (f"; {ram}." if budget.unified else ".")
    layers = min(gpu_layers, profile.n_layer)
    if expert_layers:
        return (
            f"Fits with offload: all {layers} layers on the GPU except the experts of "
            f"{expert_layers} layers, which stay in system memory: {gpu}; {ram}."
        )
    return (
        f"Fits with offload: {layers} of {profile.n_layer} layers on the GPU, the rest in "
        f"system memory: {gpu}; {ram}."
    )


def _suggestions(
    profile: ModelProfile,
    budget: _Budget,
    settings: _Settings,
    overrides: PlanOverrides,
    estimate: MemoryEstimate,
    max_ctx: int,
) -> tuple[str, ...]:
    """What would fit instead of a plan that does not."""
    out = []
    if max_ctx:
        out.append(f"A context of {max_ctx:,} tokens fits (instead of {settings.n_ctx:,}).")
    q8_ok = kv_type_usable(profile, "q8_0")
    if settings.type_k == "f16" and q8_ok and (settings.flash_attn or overrides.flash_attn is None):
        q8 = dataclasses.replace(settings, type_k="q8_0", type_v="q8_0", flash_attn=True)
        if _placement(profile, budget, q8, overrides).fit is not Fit.DOES_NOT_FIT:
            out.append("An 8-bit KV cache (q8_0) fits at this context.")
    if overrides.n_gpu_layers is not None or overrides.cpu_expert_layers is not None:
        auto = dataclasses.replace(overrides, n_gpu_layers=None, cpu_expert_layers=None)
        gpu_layers, _, _, fit = _placement(profile, budget, settings, auto)
        if fit is not Fit.DOES_NOT_FIT:
            out.append(f"The automatic placement fits ({gpu_layers} layers on the GPU).")
    have = budget.host if budget.unified else budget.host + budget.device
    rest = (
        estimate.buffers_total
        + estimate.overhead_host
        + estimate.overhead_device
        - profile.weights_bytes
    )
    room = have - rest
    bits = 8 * room / max(1, profile.n_params)
    smaller = [name for name, bpw in QUANT_BITS if bpw <= bits and bpw < profile.bits_per_weight]
    if smaller:
        out.append(
            f"A smaller quantization fits: about {bits:.1f} bits per weight or less "
            f"(this file has {profile.bits_per_weight:.1f}), e.g. {smaller[0]}."
        )
    elif not max_ctx:
        out.append("No quantization of this model fits this machine; choose a smaller model.")
    return tuple(out)


def _choose_ctx(
    profile: ModelProfile,
    budget: _Budget,
    settings: _Settings,
    overrides: PlanOverrides,
    max_ctx: int,
) -> tuple[_Settings, str | None]:
    """The automatic context: DEFAULT_CTX, longer if that costs no GPU layer, shorter to fit."""
    base = _placement(profile, budget, settings, overrides)
    if base.fit is Fit.DOES_NOT_FIT:
        if max_ctx >= MIN_AUTO_CTX:
            ctx = max(MIN_AUTO_CTX, max_ctx // 1024 * 1024)
            return dataclasses.replace(
                settings, n_ctx=ctx
            ), f"Context lowered to {ctx:,} tokens to fit."
        return settings, None
    for ctx in LONGER_CTX:
        if settings.n_ctx < ctx <= profile.n_ctx_train:
            longer = dataclasses.replace(settings, n_ctx=ctx)
            placed = _placement(profile, budget, longer, overrides)
            roomy = _host_need(placed.estimate, budget) <= LONGER_CTX_HOST_SHARE * budget.host
            same = (placed.gpu_layers, placed.expert_layers, placed.fit)
            if same == (base.gpu_layers, base.expert_layers, base.fit) and roomy:
                return longer, None
    return settings, None


def _kv_types(profile: ModelProfile, overrides: PlanOverrides) -> tuple[str, str]:
    """The KV cache's K and V types; ValueError for a type this model or llama.cpp refuses."""
    type_k, type_v = overrides.type_k or "f16", overrides.type_v or "f16"
    if profile.mla:  # V is read out of the K cache: llama.cpp refuses different types
        type_v = type_k
    for name in (type_k, type_v):
        if name not in KV_TYPES:
            raise ValueError(f"unknown KV cache type {name!r}; choose from {sorted(KV_TYPES)}")
        if not kv_type_usable(profile, name):
            raise ValueError(f"this model's attention heads do not fit a {name} KV cache")
    if overrides.flash_attn is False and type_v not in ("f16", "f32", "bf16") and not profile.mla:
        raise ValueError("a quantized V cache needs flash attention")
    return type_k, type_v


def _kept_in_ram(profile: ModelProfile, gpu_layers: int, expert_layers: int) -> tuple[str, ...]:
    """Tensor overrides: the experts of the first expert_layers layers stay in system memory."""
    if not gpu_layers:
        return ()
    if expert_layers >= profile.n_layer:
        return (ALL_EXPERTS,)
    return experts_of_layers(range(expert_layers))


def plan(
    profile: ModelProfile,
    hardware: HardwareInfo,
    overrides: PlanOverrides | None = None,
    *,
    model_path: str = "",
    draft_candidates: Sequence[DraftFile] = (),
) -> LoadPlan:
    """Choose how to load the model (and its draft model) on this hardware and judge whether
    it fits. A draft model named in overrides.draft must be among draft_candidates (read)."""
    overrides = overrides or PlanOverrides()
    draft = chosen_draft(overrides.draft, draft_candidates)
    if draft is not None:
        chosen = plan_with_draft(
            draft, lambda reserve: _plan(profile, hardware, overrides, model_path, reserve)
        )
    else:
        chosen = dataclasses.replace(
            _plan(profile, hardware, overrides, model_path, 0),
            speculation=speculation_for(overrides.draft),
        )
    return dataclasses.replace(chosen, draft_candidates=tuple(draft_candidates))


def _plan(
    profile: ModelProfile,
    hardware: HardwareInfo,
    overrides: PlanOverrides,
    model_path: str,
    reserve: int,
) -> LoadPlan:
    """The plan for the model alone, with `reserve` bytes of system memory kept for a draft."""
    notes = list(hardware.notes())
    type_k, type_v = _kv_types(profile, overrides)
    settings = _Settings(
        n_ctx=padded_ctx(overrides.n_ctx or min(profile.n_ctx_train, DEFAULT_CTX)),
        flash_attn=True if overrides.flash_attn is None else overrides.flash_attn,
        type_k=type_k,
        type_v=type_v,
        n_batch=overrides.n_batch or 512,
    )
    budget = _budget(hardware, overrides.use_gpu)
    budget = dataclasses.replace(budget, host=max(0, budget.host - reserve))
    max_ctx = _max_ctx(profile, budget, settings, overrides, profile.n_ctx_train)
    if overrides.n_ctx is None:
        settings, note = _choose_ctx(profile, budget, settings, overrides, max_ctx)
        if note:
            notes.append(note)
    elif settings.n_ctx > profile.n_ctx_train:
        notes.append(
            f"The model was trained on {profile.n_ctx_train:,} tokens of context; more may degrade."
        )
    gpu_layers, expert_layers, estimate, fit = _placement(profile, budget, settings, overrides)
    suggestions = (
        _suggestions(profile, budget, settings, overrides, estimate, max_ctx)
        if fit is Fit.DOES_NOT_FIT
        else ()
    )
    verdict = Verdict(
        fit=fit,
        reason=_reason(profile, budget, estimate, fit, gpu_layers, expert_layers),
        host_needed=_host_need(estimate, budget),
        host_available=budget.host,
        device_needed=estimate.device_total,
        device_available=budget.device,
        max_ctx=max_ctx,
        suggestions=suggestions,
    )
    forced = overrides.force and fit is Fit.DOES_NOT_FIT
    if forced:
        notes.append("Loading although it does not fit, as asked: expect swapping or a crash.")
    threads = overrides.n_threads or hardware.cpu.physical_cores
    planned = LoadPlan(
        model_path=model_path,
        n_ctx=settings.n_ctx,
        n_batch=settings.n_batch,
        n_threads=threads,
        n_threads_batch=threads,
        n_gpu_layers=gpu_layers,
        cpu_expert_layers=expert_layers if gpu_layers else 0,
        flash_attn=settings.flash_attn,
        type_k=type_k,
        type_v=type_v,
        use_mmap=True if overrides.use_mmap is None else overrides.use_mmap,
        use_mlock=bool(overrides.use_mlock),
        tensor_overrides=_kept_in_ram(profile, gpu_layers, expert_layers),
        estimate=estimate,
        verdict=verdict,
        forced=forced,
        notes=tuple(notes),
        rpc_workers=hardware.rpc_workers if gpu_layers and overrides.use_gpu else (),
        profile=profile,
        hardware=hardware,
    )
    return dataclasses.replace(
        planned, max_sequences=max_thoughts(planned), sequence_ctx=thought_ctx(planned)
    )


def plan_load(
    model_path: str | Path,
    hardware: HardwareInfo | None = None,
    overrides: PlanOverrides | None = None,
    *,
    candidates: Iterable[str] = (),
) -> LoadPlan:
    """Read the model's metadata (all parts) and its draft model's, check that llama.cpp would
    load them and that the draft shares the model's vocabulary (else ModelFileError), detect
    the hardware if not given, and plan. `candidates` are files (the store's) that may draft
    for it: those that can are read into the plan, for the load panel's choice."""
    from model_runtime.hardware.detect import detect_hardware

    parts = read_model(model_path)
    check_runnable(parts)
    profile = profile_from_gguf(parts)
    found = draft_candidates(parts[0], profile.file_size, candidates)
    choice = overrides.draft if overrides is not None else None
    if choice not in (None, LOOKUP, OFF) and all(c.path != choice for c in found):
        found.append(read_draft(str(choice), parts[0]))  # can't draft: ModelFileError, in words
    hardware = hardware if hardware is not None else detect_hardware()
    return plan(profile, hardware, overrides, model_path=str(model_path), draft_candidates=found)
