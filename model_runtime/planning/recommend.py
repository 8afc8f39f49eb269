"""Which catalog model suits this machine, judged from memory and cores before any download.

The planner needs a model's GGUF header, which a first run does not have yet; this rough
rule needs only the catalog's parameter counts and typical bits per weight.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from model_runtime.hardware.detect import HardwareInfo
from model_runtime.models.catalog import CatalogModel, load_catalog
from model_runtime.units import GIB

BITS_PER_WEIGHT = {"Q8_0": 8.5, "Q6_K": 6.6, "Q5_K_M": 5.7, "Q4_K_M": 4.9, "Q3_K_M": 3.9}
OVERHEAD = 1.2  # KV cache for a reasoning-length context, compute buffers
EXTRA = 1 * GIB
RAM_SHARE = 0.6  # of all system memory: leave the rest to the desktop and other programs
VRAM_SHARE = 0.9
# Without a GPU, reasoning (thousands of tokens per answer) is slow; bigger models, slower.
CPU_MAX_PARAMS = 8.5e9
FEW_CORES = 4  # physical cores below which only the smallest model answers at reading speed
FEW_CORES_MAX_PARAMS = 2e9


@dataclass(frozen=True)
class Recommendation:
    """A model to download, in which quantization, about how big, and why."""

    model: CatalogModel
    quant: str
    size: int  # approximate bytes of the weights
    reason: str

    @property
    def text(self) -> str:
        return f"{self.model.name} ({self.quant}, about {self.size / GIB:.1f} GiB)"


def parameter_count(model: CatalogModel) -> float:
    """'7B' -> 7e9; '671B (37B active)' -> 671e9."""
    match = re.match(r"\s*([\d.]+)\s*([BM])", model.parameters)
    if not match:
        return 0.0
    return float(match.group(1)) * (1e9 if match.group(2) == "B" else 1e6)


def approx_size(model: CatalogModel, quant: str) -> int:
    """The weights' size in bytes at a quantization (typical bits per weight)."""
    return int(parameter_count(model) * BITS_PER_WEIGHT.get(quant, 4.9) / 8)


def _need(model: CatalogModel, quant: str) -> int:
    return int(approx_size(model, quant) * OVERHEAD) + EXTRA


def _quants_from_recommended(model: CatalogModel) -> list[str]:
    """The catalog's recommended quantization, then the smaller ones it offers, largest first."""
    known = [q for q in model.quants if q in BITS_PER_WEIGHT]
    known.sort(key=lambda q: BITS_PER_WEIGHT[q], reverse=True)
    top = BITS_PER_WEIGHT.get(model.recommended_quant, max(BITS_PER_WEIGHT.values()))
    return [q for q in known if BITS_PER_WEIGHT[q] <= top]


def _pick(
    models: Sequence[CatalogModel], budget: int, cap: float
) -> tuple[CatalogModel, str] | None:
    """The largest model (and its best quantization) within the memory budget and size cap."""
    best: tuple[CatalogModel, str] | None = None
    for model in models:  # smallest first: a later one that fits is at least as large
        if parameter_count(model) > cap:
            continue
        quant = next(
            (q for q in _quants_from_recommended(model) if _need(model, q) <= budget), None
        )
        if quant is not None:
            best = (model, quant)
    return best


def recommend(
    hw: HardwareInfo, catalog: Sequence[CatalogModel] | None = None
) -> Recommendation | None:
    """The largest dense model that runs well here, or None if even the smallest does not fit."""
    models = [m for m in (catalog if catalog is not None else load_catalog()) if not m.is_moe]
    models.sort(key=parameter_count)  # stable: of equal sizes the later (newer) entry wins
    gpus = hw.usable_gpus
    vram = sum(g.memory_total for g in gpus)
    picked = None
    if gpus and any(g.unified for g in gpus):
        budget = int(min(vram or hw.ram_total, hw.ram_total) * RAM_SHARE)
        picked = _pick(models, budget, float("inf"))
        reason = f"It fits in {hw.ram_total / GIB:.0f} GiB of unified memory."
    elif gpus:
        picked = _pick(models, int(vram * VRAM_SHARE), float("inf"))
        reason = f"It fits in {vram / GIB:.0f} GiB of GPU memory ({gpus[0].name})."
    if picked is None:  # no usable GPU, or none that holds even the smallest model
        few = hw.cpu.physical_cores < FEW_CORES
        picked = _pick(
            models,
            int(hw.ram_total * RAM_SHARE),
            FEW_CORES_MAX_PARAMS if few else CPU_MAX_PARAMS,
        )
        reason = f"It fits in {hw.ram_total / GIB:.0f} GiB of memory and runs on the CPU."
        if few:
            reason += (
                f" On {hw.cpu.physical_cores} CPU cores, larger models think too slowly to enjoy."
            )
        else:
            reason += " Without a GPU, larger models think slowly."
    if picked is None:
        return None
    model, quant = picked
    return Recommendation(model, quant, approx_size(model, quant), reason)
