"""The sizes the Hub last gave for each catalog model's quantizations, and when: a small JSON
file in data_dir(), so that the Recommended list still shows sizes offline."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone

from model_runtime.paths import data_dir

FILE_NAME = "hub-sizes.json"


@dataclass(frozen=True)
class SeenSizes:
    """One catalog model's quantizations as the Hub listed them: repository, sizes and date."""

    repo_id: str
    checked: str  # when the Hub answered (UTC, ISO 8601)
    quants: dict[str, tuple[int, int]]  # an offered quantization -> (total bytes, parts)

    @property
    def date_text(self) -> str:
        """The day the Hub answered, in this computer's time zone: '3 May 2025'."""
        try:
            when = datetime.fromisoformat(self.checked).astimezone()
        except ValueError:
            return self.checked
        return f"{when.day} {when:%B %Y}"


def now_text() -> str:
    """The time to stamp a fresh answer with."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _parse(data: object) -> SeenSizes | None:
    if not isinstance(data, dict):
        return None
    try:
        quants = {
            str(name): (int(size), int(parts)) for name, (size, parts) in data["quants"].items()
        }
        return SeenSizes(str(data["repo_id"]), str(data["checked"]), quants)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def load_seen_sizes() -> dict[str, SeenSizes]:
    """The saved sizes by catalog model id; none when never saved or the file is damaged."""
    try:
        data = json.loads((data_dir() / FILE_NAME).read_text(encoding="utf-8"))
        models = data["models"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(models, dict):
        return {}
    seen = {str(k): _parse(v) for k, v in models.items()}
    return {k: v for k, v in seen.items() if v is not None}


def save_seen_sizes(fresh: dict[str, SeenSizes]) -> None:
    """Keep these answers, replacing older ones of the same models (others stay)."""
    if not fresh:
        return
    seen = {**load_seen_sizes(), **fresh}
    models = {
        model_id: {
            "repo_id": s.repo_id,
            "checked": s.checked,
            "quants": {name: list(pair) for name, pair in s.quants.items()},
        }
        for model_id, s in sorted(seen.items())
    }
    path = data_dir() / FILE_NAME
    tmp = path.with_suffix(".tmp")
    with contextlib.suppress(OSError):  # a cache: losing it costs only offline sizes
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"version": 1, "models": models}, indent=1) + "\n", "utf-8")
        os.replace(tmp, path)
