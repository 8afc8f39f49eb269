"""Models used in place, not kept in the store: the starter model where pip put it, and the
files opened by path (File → Open…), remembered in config_dir()/recent-models.json so that the
model manager lists them beside the store. Ponder never copies, moves or deletes them.

The same list, most recent first, holds every model loaded (the store's too): the chat's model
picker offers them as its recent models (model_runtime/models/choices.py)."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from model_runtime.models.starter import STARTER_NAME, starter_model_path
from model_runtime.paths import config_dir

FILE_NAME = "recent-models.json"
MAX_RECENT = 12


@dataclass(frozen=True)
class ModelReference:
    """A model file used where it lies: the starter model, or one opened by path."""

    path: Path
    starter: bool = False

    @property
    def name(self) -> str:
        return STARTER_NAME if self.starter else self.path.name

    @property
    def exists(self) -> bool:
        return self.path.is_file()


def _file() -> Path:
    return config_dir() / FILE_NAME


def recent_model_paths() -> list[Path]:
    """The model files opened by path, most recent first (none when the list is damaged)."""
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
        paths = data["paths"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [Path(p) for p in paths if isinstance(p, str) and p] if isinstance(paths, list) else []


def _save(paths: list[Path]) -> None:
    path = _file()
    tmp = path.with_suffix(".tmp")
    with contextlib.suppress(OSError):  # a convenience: losing it loses only the list
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "paths": [str(p) for p in paths[:MAX_RECENT]]}
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def add_recent_model(path: str | os.PathLike[str]) -> None:
    """Remember a model file opened by path, first in the list."""
    chosen = Path(os.path.abspath(path))
    _save([chosen, *(p for p in recent_model_paths() if p != chosen)])


def forget_recent_model(path: str | os.PathLike[str]) -> None:
    """Take a file off the list (the file itself is left alone)."""
    gone = Path(os.path.abspath(path))
    _save([p for p in recent_model_paths() if p != gone])


def model_references(store_root: Path) -> list[ModelReference]:
    """The starter model, then the files opened by path, leaving out the store's own files."""
    found: list[ModelReference] = []
    starter = starter_model_path()
    if starter is not None:
        found.append(ModelReference(starter, starter=True))
    for path in recent_model_paths():
        if path.is_relative_to(store_root) or (starter is not None and path == starter):
            continue
        found.append(ModelReference(path))
    return found
