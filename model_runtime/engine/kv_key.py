"""What a saved KV state is valid for, so that it is never applied to the wrong thing.

A key names the model files (path, size, modification time of every part), every load setting
that changes what the KV cache holds (context, K and V types, flash attention, RoPE and YaRN),
and the versions of the cache format, Ponder and llama.cpp. A state is restored only under an
equal key, and only for the tokens it was saved with (see kv_cache.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_runtime import __version__
from model_runtime.gguf.profile import split_parts

FORMAT = 1  # of the saved states and their files; a state of another format is never read
VERSION_FIELDS = ("format", "ponder", "llama_cpp", "build")


@dataclass(frozen=True)
class StateKey:
    """The conditions a KV state was saved under, as sorted (name, value) text pairs."""

    fields: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, values: dict[str, Any]) -> StateKey:
        return cls(tuple(sorted((str(k), str(v)) for k, v in values.items())))

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)

    @property
    def digest(self) -> str:
        """sha256 of the whole key (hex): file names and lookups use it."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def same_versions(self, other: StateKey) -> bool:
        """Whether both come from this cache format, Ponder and llama.cpp build."""
        mine, theirs = self.as_dict(), other.as_dict()
        return all(mine.get(name) == theirs.get(name) for name in VERSION_FIELDS)

    def model_files_unchanged(self) -> bool:
        """Whether the model files it names are still there, as they were when it was saved."""
        try:
            recorded = json.loads(self.as_dict().get("model", "[]"))
            return bool(recorded) and recorded == model_identity(recorded[0][0])
        except (ValueError, TypeError, IndexError, OSError):
            return False


def model_identity(path: str | os.PathLike[str]) -> list[list[Any]]:
    """[real path, size, modification time in ns] of every part of a model (OSError if one is
    missing): a file replaced or rewritten in place gets another identity."""
    identity: list[list[Any]] = []
    for part in split_parts(Path(path)):
        real = os.path.realpath(part)
        stat = os.stat(real)
        identity.append([real, stat.st_size, stat.st_mtime_ns])
    return identity


def versions(system_info: str) -> dict[str, str]:
    """The versions a state depends on beyond the model: this format, Ponder, llama.cpp and
    its build (the backends compiled in)."""
    import llama_cpp

    build = hashlib.sha256(system_info.encode("utf-8")).hexdigest()[:16]
    return {
        "format": str(FORMAT),
        "ponder": __version__,
        "llama_cpp": str(llama_cpp.__version__),
        "build": build,
    }


def state_key(llm: Any, model_path: str, system_info: str) -> StateKey:
    """The key of states saved from a loaded llama_cpp.Llama."""
    p = llm.context_params
    rope = (
        p.rope_scaling_type,
        p.rope_freq_base,
        p.rope_freq_scale,
        p.yarn_ext_factor,
        p.yarn_attn_factor,
        p.yarn_beta_fast,
        p.yarn_beta_slow,
        p.yarn_orig_ctx,
    )
    return StateKey.of(
        {
            **versions(system_info),
            "model": json.dumps(model_identity(model_path)),
            "n_ctx": llm.n_ctx(),
            "type_k": p.type_k,
            "type_v": p.type_v,
            "flash_attn": p.flash_attn_type,
            "rope": "/".join(f"{v:g}" if isinstance(v, float) else str(v) for v in rope),
        }
    )
