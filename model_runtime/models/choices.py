"""What can be chosen to chat with on this computer: the models used lately, then the store's
models, the starter and the files opened by path, each once, with its quantization and size.

A file that has gone (moved or deleted) is a choice marked missing: it is shown, never loaded,
and can be taken off the list.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from model_runtime.models.model_ref import (
    ModelRef,
    local_path,
    ref_for_path,
    ref_name,
    ref_quant,
    stored_model,
)
from model_runtime.models.references import model_references, recent_model_paths
from model_runtime.models.store import ModelStore

RECENT_SHOWN = 5


@dataclass(frozen=True)
class ModelChoice:
    """One model to offer: who it is, what it is, and the file to load (None: missing)."""

    ref: ModelRef
    name: str
    quant: str = ""
    size: int | None = None
    path: Path | None = None
    listed_as: Path | None = None  # its entry in the recent list (what removing takes off)

    @property
    def missing(self) -> bool:
        return self.path is None


def _file_size(path: Path) -> int | None:
    with contextlib.suppress(OSError):
        return path.stat().st_size
    return None


def choice_for(ref: ModelRef, store: ModelStore, listed_as: Path | None = None) -> ModelChoice:
    """A choice for an identity, as the store and the disk have it now."""
    path = local_path(ref, store)
    model = stored_model(ref, store) if path is not None else None
    size = model.manifest.total_size if model is not None else None
    if size is None and path is not None:
        size = _file_size(path)
    name = ref_name(ref, store) if ref.kind != "file" or listed_as is None else listed_as.name
    return ModelChoice(ref, name, ref_quant(ref, store), size, path, listed_as)


def recent_choices(store: ModelStore | None = None, limit: int = RECENT_SHOWN) -> list[ModelChoice]:
    """The models loaded lately, most recent first (missing ones too)."""
    store = store or ModelStore()
    return [choice_for(ref_for_path(p, store), store, p) for p in recent_model_paths()[:limit]]


def local_choices(
    store: ModelStore | None = None, leave_out: frozenset[ModelRef] = frozenset()
) -> list[ModelChoice]:
    """The store's complete models, the starter, the files opened by path: those not left out."""
    store = store or ModelStore()
    found: list[ModelChoice] = []
    for model in store.models():
        ref = ModelRef("store", model.model_id)
        if model.manifest.is_usable and ref not in leave_out:
            found.append(choice_for(ref, store))
    for reference in model_references(store.root):
        ref = ModelRef("starter") if reference.starter else ref_for_path(reference.path, store)
        if ref not in leave_out:
            found.append(choice_for(ref, store, None if reference.starter else reference.path))
    return found
