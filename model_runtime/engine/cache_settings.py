"""How much the KV state cache may keep: saved in config_dir()/state-cache.json.

The disk tier is capped by disk_bytes (0 turns it off); the memory tier is sized by the
planner from the memory the loaded model leaves spare. enabled=False turns both off.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from model_runtime.errors import PonderError
from model_runtime.paths import config_dir
from model_runtime.units import GIB

FILE_NAME = "state-cache.json"
DEFAULT_DISK_BYTES = 4 * GIB
MAX_DISK_BYTES = 1024 * GIB


@dataclass(frozen=True)
class CacheSettings:
    """Whether chats' KV states are kept, and how much of the disk they may take."""

    enabled: bool = True
    disk_bytes: int = DEFAULT_DISK_BYTES

    def __post_init__(self) -> None:
        if not 0 <= self.disk_bytes <= MAX_DISK_BYTES:
            raise PonderError(
                f"The cache can take from 0 to {MAX_DISK_BYTES // GIB:,} GiB of disk, "
                f"not {self.disk_bytes / GIB:g} GiB."
            )


def _path():
    return config_dir() / FILE_NAME


def load_cache_settings() -> CacheSettings:
    """The saved settings; the defaults when none are saved or the file is damaged."""
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
        enabled, disk = data["enabled"], data["disk_bytes"]
        if not isinstance(enabled, bool) or not isinstance(disk, int) or isinstance(disk, bool):
            return CacheSettings()
        return CacheSettings(enabled=enabled, disk_bytes=disk)
    except (OSError, ValueError, TypeError, KeyError, PonderError):
        return CacheSettings()


def save_cache_settings(settings: CacheSettings) -> None:
    """Save atomically; the engine reads them at its next model load."""
    path = _path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, **asdict(settings)}, indent=2) + "\n", "utf-8")
    os.replace(tmp, path)
