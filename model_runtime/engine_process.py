"""Where the engine process starts: llama.cpp's libraries are loaded before anything else.

On an H200 with a CUDA build of llama-cpp-python 0.3.36, a worker that had imported numpy
(through Ponder's modules) before llama_cpp crashed in llama.cpp's first model load (SIGSEGV
while it read the vocabulary), and a process that imported llama_cpp first loaded and ran the
same model. This module sits outside model_runtime.engine, whose package imports numpy, so the
spawned process, which imports it to find `main`, loads nothing else before llama_cpp.
"""

from __future__ import annotations

import contextlib
from typing import Any


def main(*args: Any) -> None:
    """The worker's main (engine/worker.py), once llama_cpp is loaded."""
    with contextlib.suppress(Exception):  # a broken build: the load says why, in its words
        import llama_cpp  # noqa: F401  # first: its libraries before numpy's
    from model_runtime.engine.worker import main as serve

    serve(*args)
