"""Where Ponder keeps its data; PONDER_HOME moves all of it (tests, portable installs).

Also whether this profile has been welcomed yet: a flag file in its config folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from model_runtime import __version__

APP_NAME = "Ponder"


def resources_dir() -> Path:
    """The resources folder shipped beside the two packages (themes, icons, the catalog)."""
    return Path(__file__).resolve().parent.parent / "resources"


def home() -> Path | None:
    """The PONDER_HOME override, if set."""
    value = os.environ.get("PONDER_HOME")
    return Path(value).expanduser() if value else None


def _folder(kind: str) -> Path:
    """PONDER_HOME/<kind>, or the platform's user folder of that kind; created if missing."""
    override = home()
    if override is not None:
        path = override / kind
    else:
        import platformdirs

        finder = platformdirs.user_data_dir if kind == "data" else platformdirs.user_config_dir
        path = Path(finder(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Models, conversations and logs."""
    return _folder("data")


def config_dir() -> Path:
    """Settings."""
    return _folder("config")


def logs_dir() -> Path:
    """Engine logs (llama.cpp's stderr) and crash reports."""
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


FLAG_FILE = "welcomed"


def is_first_run() -> bool:
    """True until mark_welcomed() has been called for this profile (PONDER_HOME moves it)."""
    return not (config_dir() / FLAG_FILE).exists()


def mark_welcomed() -> None:
    """Remember that the welcome was shown (the version and date, for whoever looks)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    (config_dir() / FLAG_FILE).write_text(f"{__version__} {stamp}\n", encoding="utf-8")
