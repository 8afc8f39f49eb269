"""How much Ponder reads: the largest file it takes, and how long a reader may be silent.

Saved in config_dir()/attachments.json ({"max_megabytes": 50}); the defaults when none is saved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from model_runtime.paths import config_dir

FILE_NAME = "attachments.json"
DEFAULT_MAX_MEGABYTES = 50
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """max_bytes: the largest file attached; stall_seconds: how long a PDF or Word reader may
    go without finishing a page before it is stopped (a damaged file can make it loop)."""

    max_bytes: int = DEFAULT_MAX_MEGABYTES * MEGABYTE
    stall_seconds: float = 60.0


def load_limits() -> Limits:
    """The saved limits; the defaults when none are saved or the file can't be used."""
    try:
        data = json.loads((config_dir() / FILE_NAME).read_text(encoding="utf-8"))
        megabytes = float(data["max_megabytes"])
    except (OSError, ValueError, KeyError, TypeError):
        return Limits()
    if megabytes <= 0:
        return Limits()
    return Limits(max_bytes=int(megabytes * MEGABYTE))


def save_limits(limits: Limits) -> None:
    data = {"max_megabytes": limits.max_bytes / MEGABYTE}
    (config_dir() / FILE_NAME).write_text(json.dumps(data), encoding="utf-8")
