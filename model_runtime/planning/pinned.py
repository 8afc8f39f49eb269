"""Load settings a person pinned for one model ("Remember for this model").

They live in config_dir()/model_overrides.json, keyed by the model file's absolute path, and
hold only what the person chose: context, GPU layers, experts kept in RAM, KV cache type,
drafting (a draft model whose file is gone is forgotten).
Forcing a load that does not fit is never remembered.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from model_runtime.paths import config_dir
from model_runtime.planning.memory_estimate import KV_TYPES
from model_runtime.planning.plan import PlanOverrides

FILE_NAME = "model_overrides.json"
INT_FIELDS = ("n_ctx", "n_gpu_layers", "cpu_expert_layers")
KV_FIELDS = ("type_k", "type_v")
PINNED_FIELDS = (*INT_FIELDS, *KV_FIELDS, "draft")


def model_key(model_path: str | Path) -> str:
    """The key a model's settings are stored under: its absolute path."""
    return str(Path(model_path).expanduser().resolve())


def _path() -> Path:
    return config_dir() / FILE_NAME


def _read_all() -> dict[str, Any]:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_all(data: dict[str, Any]) -> None:
    path = _path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _valid(name: str, value: Any) -> bool:
    if name in INT_FIELDS:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if name == "draft":  # "off", or a draft model's file that is still there
        return isinstance(value, str) and (value in ("lookup", "off") or Path(value).is_file())
    return isinstance(value, str) and value in KV_TYPES


def pinned_overrides(model_path: str | Path) -> PlanOverrides | None:
    """The settings pinned for this model, or None; values that make no sense are dropped."""
    entry = _read_all().get(model_key(model_path))
    if not isinstance(entry, dict):
        return None
    fields = {k: v for k, v in entry.items() if k in PINNED_FIELDS and _valid(k, v)}
    return PlanOverrides(**fields) if fields else None


def pin_overrides(model_path: str | Path, overrides: PlanOverrides) -> None:
    """Remember the chosen settings for this model (those left to the planner are not stored)."""
    chosen = {k: getattr(overrides, k) for k in PINNED_FIELDS if getattr(overrides, k) is not None}
    data = _read_all()
    if chosen:
        data[model_key(model_path)] = chosen
    else:
        data.pop(model_key(model_path), None)
    _write_all(data)


def unpin_overrides(model_path: str | Path) -> None:
    """Forget this model's pinned settings."""
    data = _read_all()
    if data.pop(model_key(model_path), None) is not None:
        _write_all(data)
