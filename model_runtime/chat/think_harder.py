"""How many thoughts Think harder asks for by default: saved in config_dir()/think_harder.json
({"votes": 8}); 8 when none is saved or the file can't be used."""

from __future__ import annotations

import json

from model_runtime.paths import config_dir

FILE_NAME = "think_harder.json"
CHOICES = (4, 8)  # what the window offers: four or eight thoughts at once
DEFAULT_VOTES = 8


def load_default_votes() -> int:
    """The saved default; DEFAULT_VOTES when none is saved or it isn't one of CHOICES."""
    try:
        votes = json.loads((config_dir() / FILE_NAME).read_text(encoding="utf-8"))["votes"]
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_VOTES
    return votes if votes in CHOICES and not isinstance(votes, bool) else DEFAULT_VOTES


def save_default_votes(votes: int) -> None:
    """Remember the default; ValueError for a number the window does not offer."""
    if votes not in CHOICES:
        raise ValueError(f"Think harder offers {' or '.join(map(str, CHOICES))} thoughts")
    (config_dir() / FILE_NAME).write_text(json.dumps({"votes": votes}), encoding="utf-8")
