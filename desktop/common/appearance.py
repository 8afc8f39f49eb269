"""The look a person chose: the theme and the chat's text size, in config_dir()/appearance.json.

Written atomically like the other settings. A file that can't be read, or a value Ponder does not
know, gives the defaults (follow the system, 100 %) with a note in the log; nothing is lost but
the look. Qt-free.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from model_runtime.paths import config_dir

FILE_NAME = "appearance.json"
SYSTEM = "system"
THEME_CHOICES = (SYSTEM, "light", "dark")
ZOOM_STEPS = (50, 67, 75, 80, 90, 100, 110, 125, 150, 175, 200, 250, 300)  # percent
DEFAULT_ZOOM = 100

log = logging.getLogger("ponder.appearance")


@dataclass(frozen=True)
class Appearance:
    """The theme ("system", "light" or "dark") and the chat's text size in percent."""

    theme: str = SYSTEM
    zoom: int = DEFAULT_ZOOM


def _path() -> Path:
    return config_dir() / FILE_NAME


def valid_theme(name: object) -> str:
    """The theme choice, or "system" (with a note in the log) when it is not one Ponder has."""
    if isinstance(name, str) and name in THEME_CHOICES:
        return name
    log.warning("Unknown theme %r in the settings: following the system instead.", name)
    return SYSTEM


def valid_zoom(percent: object) -> int:
    """A zoom Ponder offers: the nearest step; the default when it is not a number."""
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        log.warning("Unknown text size %r in the settings: 100 %% instead.", percent)
        return DEFAULT_ZOOM
    return min(ZOOM_STEPS, key=lambda step: abs(step - percent))


def load_appearance() -> Appearance:
    """The saved look; the defaults when there is none, or it is damaged (said in the log)."""
    try:
        path = _path()
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Appearance()
    except OSError as exc:
        log.warning("Can't read the look's settings (%s): following the system's theme.", exc)
        return Appearance()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        log.warning("%s is damaged: following the system's theme.", path)
        return Appearance()
    theme = valid_theme(data.get("theme", SYSTEM))
    zoom = valid_zoom(data.get("zoom", DEFAULT_ZOOM))
    return Appearance(theme, zoom)


def save_appearance(appearance: Appearance) -> bool:
    """Remember the look for the next start; False (and a note in the log) when it can't be
    written: the look still changes now."""
    try:
        path = _path()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(appearance), indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("Can't save the look (%s); it applies until Ponder quits.", exc)
        return False
    return True


def step_zoom(percent: int, steps: int) -> int:
    """The zoom `steps` steps bigger (or smaller, when negative) than `percent`, within range."""
    index = ZOOM_STEPS.index(valid_zoom(percent)) + steps
    return ZOOM_STEPS[max(0, min(len(ZOOM_STEPS) - 1, index))]
