"""The planner's answer: LoadPlan (how to load, what it takes) and its Verdict (does it fit)."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field

from model_runtime.chat.generation import LoadRequest, Speculation
from model_runtime.gguf.profile import ModelProfile
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.planning.memory_estimate import MemoryEstimate

# The KV state cache may keep in RAM half of what a plan leaves spare, at most a quarter of RAM.
STATE_CACHE_SPARE_SHARE, STATE_CACHE_RAM_SHARE = 0.5, 0.25


def state_cache_budget(spare: int, ram_total: int) -> int:
    """Bytes of saved KV states the engine may keep in memory, given what the load leaves
    spare (its margin for other programs already set aside) and the machine's RAM."""
    budget = int(max(0, spare) * STATE_CACHE_SPARE_SHARE)
    return min(budget, int(ram_total * STATE_CACHE_RAM_SHARE)) if ram_total > 0 else budget


class Fit(str, enum.Enum):
    """Whether a plan fits this machine."""

    FITS = "fits"
    FITS_WITH_OFFLOAD = "fits with offload"
    DOES_NOT_FIT = "does not fit"


@dataclass(frozen=True)
class PlanOverrides:
    """What the user chose; None leaves it to the planner."""

    n_ctx: int | None = None
    n_gpu_layers: int | None = None
    cpu_expert_layers: int | None = None  # MoE: keep the experts of this many first layers in RAM
    flash_attn: bool | None = None
    type_k: str | None = None  # KV cache types: f16, q8_0, q4_0 …
    type_v: str | None = None
    n_threads: int | None = None
    n_batch: int | None = None
    use_mmap: bool | None = None
    use_mlock: bool | None = None
    use_gpu: bool = True
    force: bool = False  # load even though the verdict says it does not fit
    draft: str | None = None  # speculative decoding: a draft GGUF's path, "lookup" or "off"


@dataclass(frozen=True)
class Verdict:
    """Fits / fits with offload / does not fit, with the figures and what would fit instead."""

    fit: Fit
    reason: str
    host_needed: int
    host_available: int
    device_needed: int
    device_available: int
    max_ctx: int = 0  # the longest context (≤ the trained one) that fits; 0: none
    suggestions: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True unless the plan does not fit."""
        return self.fit is not Fit.DOES_NOT_FIT


@dataclass(frozen=True)
class DraftFile:
    """A model file that can draft for the planned model (same vocabulary), read."""

    path: str
    profile: ModelProfile = field(repr=False)
    natural: bool = False  # the catalog pairs them (R1-Distill-Qwen-1.5B for the Qwen distills)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


@dataclass(frozen=True)
class LoadPlan:
    """How to load a model on this machine, what it will take, and whether it fits."""

    model_path: str
    n_ctx: int
    n_batch: int
    n_threads: int
    n_threads_batch: int
    n_gpu_layers: int
    cpu_expert_layers: int
    flash_attn: bool
    type_k: str
    type_v: str
    use_mmap: bool
    use_mlock: bool
    tensor_overrides: tuple[str, ...]  # regexes of tensors kept in system memory
    estimate: MemoryEstimate
    verdict: Verdict
    forced: bool = False
    notes: tuple[str, ...] = ()
    rpc_workers: tuple[str, ...] = ()  # llama.cpp RPC workers whose devices take layers
    max_sequences: int = 1  # the most thoughts on one prompt at once (planning/votes.py)
    sequence_ctx: int = 0  # tokens of context planned for each of them
    profile: ModelProfile | None = field(default=None, repr=False, compare=False)
    hardware: HardwareInfo | None = field(default=None, repr=False, compare=False)
    speculation: Speculation = field(default_factory=Speculation)  # how the engine drafts
    draft_estimate: MemoryEstimate | None = None  # the draft model's memory, counted in verdict
    draft_profile: ModelProfile | None = field(default=None, repr=False, compare=False)
    # the models that could draft for it, for the load panel's choice (plan_load(candidates=…))
    draft_candidates: tuple[DraftFile, ...] = field(default=(), repr=False, compare=False)

    def to_load_request(self) -> LoadRequest:
        """The engine's request for this plan."""
        return LoadRequest(
            model_path=self.model_path,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            n_threads_batch=self.n_threads_batch,
            n_gpu_layers=self.n_gpu_layers,
            n_batch=self.n_batch,
            flash_attn=self.flash_attn,
            type_k=self.type_k,
            type_v=self.type_v,
            use_mmap=self.use_mmap,
            use_mlock=self.use_mlock,
            tensor_overrides=self.tensor_overrides,
            rpc_workers=self.rpc_workers,
            max_sequences=self.max_sequences,
            sequence_ctx=self.sequence_ctx,
            state_cache_ram=state_cache_budget(
                self.verdict.host_available - self.verdict.host_needed,
                self.hardware.ram_total if self.hardware is not None else 0,
            ),
            speculation=self.speculation,
        )
