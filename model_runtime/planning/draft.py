"""The draft model in the plan: its memory beside the model's, and where it runs.

A draft model guesses tokens for the model to check (speculative decoding); it is loaded in
the same engine process, so the plan counts its weights, KV cache (the model's context, f16)
and compute buffer. It goes on the GPU only when the whole model is there and room is left:
a draft that pushed a layer of the model off the GPU would cost more than it saves. One that
does not fit beside the model is left out, and prompt lookup drafts instead.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Sequence

from model_runtime.chat.generation import Speculation
from model_runtime.errors import ModelFileError, PonderError
from model_runtime.gguf.profile import ModelProfile, profile_from_gguf, read_model
from model_runtime.gguf.reader import GgufInfo
from model_runtime.gguf.vocabulary import draft_problem
from model_runtime.llama.architectures import check_runnable
from model_runtime.models.catalog import load_catalog, natural_draft
from model_runtime.planning.memory_estimate import MemoryEstimate, estimate_memory
from model_runtime.planning.plan import DraftFile, LoadPlan
from model_runtime.units import size_text

LOOKUP, OFF = "lookup", "off"


def speculation_for(choice: str | None) -> Speculation:
    """The speculation a choice names without a file: None or "lookup", "off"."""
    if choice in (None, LOOKUP):
        return Speculation("lookup")
    if choice == OFF:
        return Speculation("off")
    raise PonderError(f"'{choice}' is not a drafting choice: give a GGUF file, lookup or off.")


def read_draft(path: str, model: GgufInfo) -> DraftFile:
    """Read a draft model's file; ModelFileError, in words, when it can't draft for `model`."""
    parts = read_model(path)
    check_runnable(parts)
    problem = draft_problem(model, parts[0])
    if problem is not None:
        raise ModelFileError(problem)
    natural = is_natural_pair(model, parts[0])
    return DraftFile(path, profile_from_gguf(parts), natural=natural)


def _names(info: GgufInfo) -> str:
    """A model's name and file name, lower case, words joined by '-' as the catalog's are."""
    return re.sub(r"[\s_]+", "-", f"{info.name or ''} {info.path.name}".lower())


def is_natural_pair(model: GgufInfo, draft: GgufInfo) -> bool:
    """Whether the catalog names this draft for this model (by their names)."""
    names = _names(model)
    for entry in load_catalog():
        pair = natural_draft(entry)
        if pair is not None and entry.name.lower() in names:
            return pair.name.lower() in _names(draft)
    return False


def draft_candidates(model: GgufInfo, file_size: int, paths: Iterable[str]) -> list[DraftFile]:
    """The models among paths that can draft for `model`: the same vocabulary, and smaller
    (the catalog's natural pair first). Files that can't be read are left out."""
    found = []
    for path in paths:
        if os.path.abspath(path) == os.path.abspath(model.path):
            continue
        try:
            draft = read_draft(path, model)
        except (ModelFileError, OSError):
            continue
        if draft.profile.file_size < file_size:
            found.append(draft)
    found.sort(key=lambda d: (not d.natural, d.profile.file_size))
    return found


def known_model_paths() -> list[str]:
    """Every model file Ponder knows of: the store's complete models, the starter model and
    the files opened by path (the load panel offers those that can draft)."""
    from model_runtime.models.references import model_references
    from model_runtime.models.store import ModelStore

    store = ModelStore()
    paths = [str(m.model_path) for m in store.models() if m.manifest.is_usable]
    paths += [str(r.path) for r in model_references(store.root) if r.exists]
    return paths


def chosen_draft(choice: str | None, candidates: Sequence[DraftFile]) -> DraftFile | None:
    """The candidate a choice names; None for lookup or off. A path among no candidates is a
    ValueError (the file must be read first: plan_load)."""
    if choice in (None, LOOKUP, OFF):
        return None
    for candidate in candidates:
        if candidate.path == choice:
            return candidate
    raise ValueError(f"{os.path.basename(str(choice))} can't draft for this model.")


def draft_estimate(plan: LoadPlan, draft: ModelProfile, on_gpu: bool) -> MemoryEstimate:
    """The draft's own memory at the plan's context (the engine process is counted once)."""
    n_gpus = len(plan.hardware.usable_gpus) if on_gpu and plan.hardware is not None else 0
    estimate = estimate_memory(
        draft,
        n_ctx=plan.n_ctx,
        n_gpu_layers=draft.n_layer + 1 if on_gpu else 0,
        n_gpus=max(1, n_gpus) if on_gpu else 0,
        flash_attn=plan.flash_attn,
        n_batch=plan.n_batch,
    )
    return dataclasses.replace(estimate, overhead_host=0)


def plan_with_draft(draft: DraftFile, plan_main: Callable[[int], LoadPlan]) -> LoadPlan:
    """The model's plan with room kept for the draft; plan_main(host bytes to keep free).

    The draft goes on the GPU when every layer of the model does and the rest of the GPU
    holds it; else in system memory. If the two don't fit together, the model alone."""
    alone = plan_main(0)
    on_cpu = draft_estimate(alone, draft.profile, on_gpu=False)
    both = plan_main(on_cpu.host_total)
    if not both.verdict.ok and alone.verdict.ok:
        note = (
            f"The draft model {draft.name} does not fit beside the model; "
            "prompt lookup drafts instead."
        )
        return dataclasses.replace(alone, notes=(*alone.notes, note))
    estimate, gpu_layers = on_cpu, 0
    all_on_gpu = both.profile is not None and both.n_gpu_layers > both.profile.n_layer
    if all_on_gpu:
        on_gpu = draft_estimate(both, draft.profile, on_gpu=True)
        verdict = both.verdict
        if verdict.device_needed + on_gpu.device_total <= verdict.device_available:
            estimate, gpu_layers = on_gpu, draft.profile.n_layer + 1
    where = "on the GPU" if gpu_layers else "in system memory"
    size = estimate.host_total + estimate.device_total
    verdict = dataclasses.replace(
        both.verdict,
        host_needed=both.verdict.host_needed + estimate.host_total,
        device_needed=both.verdict.device_needed + estimate.device_total,
    )
    return dataclasses.replace(
        both,
        verdict=verdict,
        speculation=Speculation("model", draft.path, draft_n_gpu_layers=gpu_layers),
        draft_estimate=estimate,
        draft_profile=draft.profile,
        notes=(*both.notes, f"Draft model {draft.name}: {size_text(size)} {where}."),
    )
