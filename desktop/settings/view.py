"""How chats are shown: saved in config_dir()/view.json (View → Render math).

A missing or damaged file means the defaults; the file is written whole, then moved into place.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from model_runtime.paths import config_dir

FILE_NAME = "view.json"


@dataclass(frozen=True)
class ViewSettings:
    math: bool = True  # LaTeX in answers and reasoning is drawn (else shown as its source)


def load_view_settings() -> ViewSettings:
    try:
        data = json.loads((config_dir() / FILE_NAME).read_text(encoding="utf-8"))
        return ViewSettings(math=data["math"] is not False)
    except (OSError, ValueError, TypeError, KeyError):
        return ViewSettings()


def save_view_settings(settings: ViewSettings) -> None:
    path = config_dir() / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, **asdict(settings)}, indent=2) + "\n", "utf-8")
    os.replace(tmp, path)
