"""Whether Ponder has welcomed this user yet: a flag file in the config folder."""

from __future__ import annotations

import time

from model_runtime import __version__, paths

FLAG_FILE = "welcomed"


def is_first_run() -> bool:
    """True until mark_welcomed() has been called for this profile (PONDER_HOME moves it)."""
    return not (paths.config_dir() / FLAG_FILE).exists()


def mark_welcomed() -> None:
    """Remember that the welcome was shown (the version and date, for whoever looks)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    (paths.config_dir() / FLAG_FILE).write_text(f"{__version__} {stamp}\n", encoding="utf-8")
