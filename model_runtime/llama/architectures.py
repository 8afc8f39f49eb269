"""The model architectures this llama.cpp build can run, and the check of a model against them.

llama.cpp names its architectures in llm_arch_name(), which libllama exports (a C++ symbol).
Asking loads llama.cpp, so a process that has not loaded it (the GUI) asks in a spawned child,
once per build: the answer is kept in memory and in a small file beside the models.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.util
import json
import multiprocessing
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model_runtime.gguf.checks import check_model
from model_runtime.gguf.reader import GgufInfo
from model_runtime.paths import data_dir

TIMEOUT_SECONDS = 60.0
CACHE_NAME = "llama-architectures.json"
_ARCH_NAME = "_Z13llm_arch_name8llm_arch"  # const char * llm_arch_name(llm_arch)
_NOT_NAMES = (b"unknown", b"(unknown)")  # an enum value without a name; LLM_ARCH_UNKNOWN
_MAX_ARCHS = 4096

_known: dict[str, frozenset[str] | None] = {}  # build key -> names


def check_runnable(parts: GgufInfo | Sequence[GgufInfo]) -> None:
    """ModelFileError, saying why, for a model this llama.cpp build would refuse or abort on."""
    check_model(parts, architectures=known_architectures())


def ask_llama() -> frozenset[str] | None:
    """The architecture names, asked of llama.cpp in this process; None if it can't say."""
    from llama_cpp import llama_cpp

    try:
        arch_name = getattr(llama_cpp._lib, _ARCH_NAME)
    except AttributeError:  # a build that does not export it (Windows)
        return None
    arch_name.restype = ctypes.c_char_p
    arch_name.argtypes = [ctypes.c_int]
    names = set()
    for value in range(_MAX_ARCHS):
        name = arch_name(value)
        if name == b"(unknown)":  # LLM_ARCH_UNKNOWN, the enum's last value
            break
        if name and name not in _NOT_NAMES:
            names.add(name.decode("utf-8", "replace"))
    return frozenset(names) or None


def known_architectures() -> frozenset[str] | None:
    """The architectures this build runs: remembered, else asked in a child process; None when
    llama.cpp can't say (then no model is refused for its architecture before loading)."""
    key = build_key()
    if key is None:
        return None
    if key not in _known:
        names = _read_cache(key)
        if names is None:
            names = _ask_in_child()
            if names is not None:
                _write_cache(key, names)
        _known[key] = names
    return _known[key]


def build_key() -> str | None:
    """What identifies the installed llama.cpp: its libraries' names, sizes and times."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return None
    lib = Path(os.environ.get("LLAMA_CPP_LIB_PATH") or Path(spec.origin).parent / "lib")
    digest = hashlib.sha256(str(lib).encode())
    with contextlib.suppress(OSError):
        for entry in sorted(os.scandir(lib), key=lambda e: e.name):
            st = entry.stat()
            digest.update(f"{entry.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return digest.hexdigest()


def _cache_path() -> Path:
    return data_dir() / CACHE_NAME


def _read_cache(key: str) -> frozenset[str] | None:
    try:
        saved = json.loads(_cache_path().read_text(encoding="utf-8"))
        if saved.get("build") == key and isinstance(saved.get("architectures"), list):
            return frozenset(str(name) for name in saved["architectures"])
    except (OSError, ValueError, AttributeError):
        pass
    return None


def _write_cache(key: str, names: frozenset[str]) -> None:
    path = _cache_path()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"build": key, "architectures": sorted(names)}), "utf-8")
        os.replace(tmp, path)


def _child(conn: Any) -> None:
    try:
        conn.send(ask_llama())
    finally:
        conn.close()


def _ask_in_child(timeout: float = TIMEOUT_SECONDS) -> frozenset[str] | None:
    """ask_llama() in a spawned child, so that a build that crashes takes only the child."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(sender,), name="ponder-architectures", daemon=True)
    process.start()
    sender.close()
    try:
        if receiver.poll(timeout):
            names = receiver.recv()
            return names if isinstance(names, frozenset) else None
    except (EOFError, OSError):
        pass
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    return None
