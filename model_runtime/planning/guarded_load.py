"""Guardrails around a planned load: refuse what does not fit, retry once with a safer plan."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

from model_runtime.chat.generation import LoadRequest, ModelSummary
from model_runtime.errors import EngineCrashed, EngineError, InsufficientMemory
from model_runtime.planning import planner
from model_runtime.planning.plan import LoadPlan, PlanOverrides


class Loader(Protocol):
    """What load_planned needs of an engine client."""

    def load(self, request: LoadRequest) -> ModelSummary: ...


@dataclass(frozen=True)
class PlannedLoad:
    """A model loaded from a plan; when the first try failed, what was changed and why."""

    summary: ModelSummary
    plan: LoadPlan
    changes: tuple[str, ...] = ()  # empty unless the load was retried
    first_error: str = ""

    @property
    def retried(self) -> bool:
        """True when the first plan failed and the safer one loaded."""
        return bool(self.first_error)


def check_plan(plan: LoadPlan) -> None:
    """Raise InsufficientMemory for a plan that does not fit, unless the user forced it."""
    if plan.verdict.ok or plan.forced:
        return
    advice = " ".join(plan.verdict.suggestions)
    raise InsufficientMemory(f"{plan.verdict.reason} {advice}".strip())


def load_planned(client: Loader, plan: LoadPlan) -> PlannedLoad:
    """Load a plan that fits (or was forced); if llama.cpp still fails, retry once, safer."""
    check_plan(plan)
    try:
        return PlannedLoad(client.load(plan.to_load_request()), plan)
    except (InsufficientMemory, EngineCrashed, EngineError) as exc:
        safer = safer_plan(plan)
        if safer is None:
            raise
        first = str(exc)
    summary = client.load(safer.to_load_request())
    return PlannedLoad(summary, safer, plan_changes(plan, safer), first)


def safer_plan(previous: LoadPlan) -> LoadPlan | None:
    """A plan less likely to run out of memory than one that failed to load; None if none is."""
    p, hw = previous.profile, previous.hardware
    if p is None or hw is None:
        return None
    o = PlanOverrides(
        n_ctx=previous.n_ctx,
        n_gpu_layers=previous.n_gpu_layers,
        cpu_expert_layers=previous.cpu_expert_layers,
        flash_attn=previous.flash_attn,
        type_k=previous.type_k,
        type_v=previous.type_v,
        n_threads=previous.n_threads,
        n_batch=previous.n_batch,
        use_mmap=True,
        use_mlock=False,
        force=True,
    )
    if previous.n_gpu_layers and p.is_moe and previous.cpu_expert_layers < p.n_layer:
        step = max(1, p.n_layer // 4)
        o = dataclasses.replace(
            o, cpu_expert_layers=min(p.n_layer, previous.cpu_expert_layers + step)
        )
    elif previous.n_gpu_layers:
        o = dataclasses.replace(o, n_gpu_layers=previous.n_gpu_layers * 3 // 4)
    elif previous.n_ctx > 2048:
        o = dataclasses.replace(o, n_ctx=max(2048, previous.n_ctx // 2))
    elif previous.n_batch > 128 or previous.use_mlock:
        o = dataclasses.replace(o, n_batch=max(128, previous.n_batch // 2))
    else:
        return None
    safer = planner.plan(p, hw, o, model_path=previous.model_path)
    return dataclasses.replace(safer, forced=previous.forced, notes=previous.notes)


def plan_changes(old: LoadPlan, new: LoadPlan) -> tuple[str, ...]:
    """What differs between two plans, in words ("GPU layers 33 → 24")."""
    fields = (
        ("GPU layers", "n_gpu_layers"),
        ("layers with experts in RAM", "cpu_expert_layers"),
        ("context", "n_ctx"),
        ("batch", "n_batch"),
        ("flash attention", "flash_attn"),
        ("K cache", "type_k"),
        ("V cache", "type_v"),
        ("memory lock", "use_mlock"),
        ("memory map", "use_mmap"),
    )
    return tuple(
        f"{label} {getattr(old, name)} → {getattr(new, name)}"
        for label, name in fields
        if getattr(old, name) != getattr(new, name)
    )
