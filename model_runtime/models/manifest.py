"""A stored model's manifest: where it came from, its files with sha256, and its state."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from model_runtime.errors import PonderError
from model_runtime.gguf.quants import first_part

MANIFEST_NAME = "ponder-model.json"
PARTIAL_SUFFIX = ".incomplete"

DOWNLOADING = "downloading"
PAUSED = "paused"
FAILED = "failed"
COMPLETE = "complete-verified"
STATES = (DOWNLOADING, PAUSED, FAILED, COMPLETE)


def now() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ModelFile:
    """One file of a model: its path in the model folder (as in the repo), size and sha256."""

    path: str
    size: int
    sha256: str | None  # what it must hash to: the Hub's LFS sha256, or measured at import
    verified: bool = False  # its bytes on disk were hashed and matched


@dataclass
class Manifest:
    """Everything Ponder records about one stored model (ponder-model.json in its folder)."""

    model_id: str
    name: str
    source: str  # "hub", "import" or "hf-cache"
    files: list[ModelFile]
    state: str = DOWNLOADING
    repo_id: str | None = None
    revision: str | None = None  # the commit sha every file came from
    quant: str | None = None
    architecture: str | None = None
    parameter_count: int | None = None
    license: str | None = None
    catalog_id: str | None = None
    error: str | None = None  # why the state is failed, in words
    created: str = field(default_factory=now)
    updated: str = field(default_factory=now)

    @property
    def total_size(self) -> int:
        """Bytes of all its files when complete."""
        return sum(f.size for f in self.files)

    @property
    def is_usable(self) -> bool:
        """True when every file is on disk and verified."""
        return self.state == COMPLETE

    @property
    def first_file(self) -> str:
        """The file llama.cpp opens (part 1 of a split model)."""
        return first_part(f.path for f in self.files if f.path.lower().endswith(".gguf"))

    def file(self, path: str) -> ModelFile:
        """The entry of one file."""
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(path)

    def to_json(self) -> str:
        """The manifest as pretty JSON."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """A manifest from its JSON data; unknown keys are ignored."""
        files = [
            ModelFile(**{k: f[k] for k in ("path", "size", "sha256", "verified")})
            for f in data["files"]
        ]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "files"}
        manifest = cls(files=files, **known)
        if manifest.state not in STATES:
            raise ValueError(f"unknown state {manifest.state!r}")
        return manifest


def read_manifest(folder: Path) -> Manifest:
    """The manifest in a model folder; PonderError when it is missing or damaged."""
    path = folder / MANIFEST_NAME
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise PonderError(f"{folder} holds no Ponder model (no {MANIFEST_NAME}).") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PonderError(f"The manifest {path} is damaged: {exc}") from None


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Save the manifest atomically (a crash leaves the old or the new one, never half)."""
    manifest.updated = now()
    path = folder / MANIFEST_NAME
    tmp = path.with_name(MANIFEST_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(manifest.to_json())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
