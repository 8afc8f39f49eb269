"""Will a model fit this computer? A badge from the planner, or from the file size before then.

The planner needs a model's GGUF header; a quant on the Hub has none here yet, so its badge
compares the download size (plus room for the context) with free RAM and GPU memory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from desktop.common.colours import current
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.planning.plan import Fit, LoadPlan
from model_runtime.planning.planner import (
    DEVICE_MARGIN,
    DEVICE_MARGIN_FLOOR,
    HOST_MARGIN,
    HOST_MARGIN_FLOOR,
)
from model_runtime.units import MIB, gib_text

TEXT = {
    Fit.FITS: "Fits",
    Fit.FITS_WITH_OFFLOAD: "Fits with offload",
    Fit.DOES_NOT_FIT: "Too big for this computer",
}
COLOUR = {Fit.FITS: "success", Fit.FITS_WITH_OFFLOAD: "warning", Fit.DOES_NOT_FIT: "error"}
# Room for the context (KV cache) and compute buffers beyond the weights, before a header says.
OVERHEAD_SHARE, OVERHEAD_FLOOR = 0.10, 512 * MIB


@dataclass(frozen=True)
class FitBadge:
    """What the badge says (fits / fits with offload / too big) and the figures behind it."""

    fit: Fit
    tooltip: str

    @property
    def text(self) -> str:
        return TEXT[self.fit]

    @property
    def color(self) -> str:
        """The badge's colour in the active theme."""
        return str(getattr(current(), COLOUR[self.fit]))


def assume_gpus_usable(hw: HardwareInfo) -> HardwareInfo:
    """Without the llama.cpp build's answer (with_build=False), count every GPU found."""
    if hw.build is not None:
        return hw
    return dataclasses.replace(hw, gpus=tuple(dataclasses.replace(g, usable=True) for g in hw.gpus))


def estimate_fit(size: int, hw: HardwareInfo) -> FitBadge:
    """The badge of a model file of `size` bytes, before its header is read."""
    need = size + max(OVERHEAD_FLOOR, int(OVERHEAD_SHARE * size))
    host = max(0, hw.ram_available - max(HOST_MARGIN_FLOOR, int(HOST_MARGIN * hw.ram_total)))
    gpus = assume_gpus_usable(hw).usable_gpus
    device = sum(
        max(0, g.memory_free - max(DEVICE_MARGIN_FLOOR, int(DEVICE_MARGIN * g.memory_total)))
        for g in gpus
    )
    unified = any(g.unified for g in gpus)
    names = " + ".join(g.name for g in gpus)
    if not gpus:
        fit = Fit.FITS if need <= host else Fit.DOES_NOT_FIT
    elif unified:
        fit = Fit.FITS if need <= host else Fit.DOES_NOT_FIT  # GPU memory is system memory
    elif need <= device:
        fit = Fit.FITS
    else:
        fit = Fit.FITS_WITH_OFFLOAD if need <= device + host else Fit.DOES_NOT_FIT
    have = f"{gib_text(host)} of RAM free"
    if gpus and not unified:
        have += f", {gib_text(device)} free on {names}"
    elif unified:
        have += f" (shared with {names})"
    where = {
        Fit.FITS: "on the GPU" if gpus and need <= device else "in system memory",
        Fit.FITS_WITH_OFFLOAD: "split between the GPU and system memory",
        Fit.DOES_NOT_FIT: "",
    }[fit]
    lines = [
        f"Needs about {gib_text(need)}: {gib_text(size)} of weights plus room for the context.",
        f"This computer: {have}.",
        f"It would run {where}." if where else "Choose a smaller quantization or model.",
        "An estimate from the file size; the exact plan is made from the model's header.",
    ]
    if gpus and hw.build is None:
        lines.append("GPU use assumes a llama.cpp build that supports this GPU.")
    return FitBadge(fit, "\n".join(lines))


def plan_fit(model_path: str | Path, hw: HardwareInfo) -> FitBadge:
    """The planner's badge for a model on disk (reads its header; call it off the GUI thread)."""
    from model_runtime.planning.planner import plan_load

    return badge_from_plan(plan_load(model_path, assume_gpus_usable(hw)))


def offload_target(plan: LoadPlan) -> str:
    """Where a plan's offloaded layers go: 'the GPU', 'RPC workers', or both."""
    hw = plan.hardware
    local = hw is not None and any(g.source != "rpc" for g in hw.usable_gpus)
    workers = "the RPC worker" if len(plan.rpc_workers) == 1 else "RPC workers"
    if plan.rpc_workers:
        return f"the GPU and {workers}" if local else workers
    return "the GPU"


def badge_from_plan(plan: LoadPlan) -> FitBadge:
    """The planner's verdict as a badge."""
    verdict = plan.verdict
    lines = [verdict.reason, *verdict.suggestions]
    lines.append(
        f"Context {plan.n_ctx:,} tokens, {plan.n_gpu_layers} layers on {offload_target(plan)}."
    )
    return FitBadge(verdict.fit, "\n".join(lines))
