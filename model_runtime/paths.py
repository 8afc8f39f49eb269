"""Where Ponder keeps its data; PONDER_HOME moves all of it (tests, portable installs)."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "Ponder"


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
