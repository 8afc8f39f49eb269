"""Which model: an identity that can be loaded again, written as one string.

A conversation records the model that last answered it this way, so that it can offer to switch
back to it. The forms:

* ``store:<model id>`` — a model in the store, found again wherever the store has moved;
* ``starter:`` — the starter model, wherever pip put it;
* ``file:<absolute path>`` — a file used where it lies (File → Open);
* ``remote:<endpoint name>`` — a saved remote engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from model_runtime.errors import PonderError
from model_runtime.gguf.quants import quant_label
from model_runtime.models.starter import STARTER_NAME, starter_model_path
from model_runtime.models.store import ModelStore, StoredModel

KINDS = ("store", "starter", "file", "remote")


@dataclass(frozen=True)
class ModelRef:
    """A model's identity: its kind and what finds it (a store id, a path, an endpoint)."""

    kind: str
    value: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def parse(cls, text: str) -> ModelRef | None:
        """The identity a string holds; None for "" or anything that is not one."""
        kind, colon, value = text.partition(":")
        if not colon or kind not in KINDS or (kind != "starter" and not value):
            return None
        return cls(kind, "" if kind == "starter" else value)

    @classmethod
    def remote(cls, endpoint_name: str) -> ModelRef:
        return cls("remote", endpoint_name)

    @property
    def is_remote(self) -> bool:
        return self.kind == "remote"


def ref_for_path(path: str | os.PathLike[str], store: ModelStore | None = None) -> ModelRef:
    """The identity of a local model file: the starter, a model of the store, or the file."""
    chosen = Path(os.path.abspath(path))
    starter = starter_model_path()
    if starter is not None and chosen == Path(os.path.abspath(starter)):
        return ModelRef("starter")
    root = Path(os.path.abspath((store or ModelStore()).root))
    if chosen.is_relative_to(root) and len(chosen.relative_to(root).parts) > 1:
        return ModelRef("store", chosen.relative_to(root).parts[0])
    return ModelRef("file", str(chosen))


def stored_model(ref: ModelRef, store: ModelStore | None = None) -> StoredModel | None:
    """The store's model a ``store:`` identity names, if it is there."""
    if ref.kind != "store":
        return None
    try:
        return (store or ModelStore()).find(ref.value)
    except (PonderError, OSError):  # a damaged manifest, a name the store refuses
        return None


def local_path(ref: ModelRef, store: ModelStore | None = None) -> Path | None:
    """The file to load for a local identity, if it is there and complete (None otherwise,
    and for a remote engine)."""
    if ref.kind == "starter":
        return starter_model_path()
    if ref.kind == "file":
        path = Path(ref.value)
        return path if path.is_file() else None
    model = stored_model(ref, store)
    if model is None or not model.manifest.is_usable or not model.model_path.is_file():
        return None
    return model.model_path


def ref_name(ref: ModelRef, store: ModelStore | None = None) -> str:
    """A model's name for people: the starter's, the store's, the file's, the endpoint's."""
    if ref.kind == "starter":
        return STARTER_NAME
    if ref.kind == "file":
        return Path(ref.value).name
    model = stored_model(ref, store)
    return model.manifest.name if model is not None else ref.value


def ref_quant(ref: ModelRef, store: ModelStore | None = None) -> str:
    """Its quantization as its name or manifest says (Q4_K_M), or ""."""
    model = stored_model(ref, store)
    if model is not None and model.manifest.quant:
        return model.manifest.quant
    path = local_path(ref, store) if ref.kind != "store" else None
    return (quant_label(path.name) or "") if path is not None else ""
