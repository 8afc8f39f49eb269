"""Where Ponder keeps its data; PONDER_HOME moves all of it (tests, portable installs)."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "Ponder"


def home() -> Path | None:
    """The PONDER_HOME override, if set."""
    value = os.environ.get("PONDER_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Models, conversations and logs."""
    override = home()
    if override is not None:
        path = override / "data"
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Settings."""
    override = home()
    if override is not None:
        path = override / "config"
    else:
        import platformdirs

        path = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    """Engine logs (llama.cpp's stderr) and crash reports."""
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
