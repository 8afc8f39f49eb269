"""The architectures this llama.cpp build runs: asked in a child process, remembered per build."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model_runtime.errors import ModelFileError
from model_runtime.gguf.reader import read_gguf_info
from model_runtime.llama import architectures
from model_runtime.llama.architectures import CACHE_NAME, check_runnable, known_architectures
from model_runtime.paths import data_dir
from tests.broken_models import broken_model, tiny

pytestmark = pytest.mark.slow


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new process: nothing remembered in memory."""
    monkeypatch.setattr(architectures, "_known", {})


def test_llama_cpp_names_its_architectures(fresh: None) -> None:
    names = known_architectures()
    assert names is not None and {"llama", "qwen2", "qwen3", "deepseek2"} <= names
    assert "xlama" not in names and "unknown" not in names and "(unknown)" not in names
    assert names == architectures.ask_llama()  # the child's answer is this process's answer
    saved = json.loads((data_dir() / CACHE_NAME).read_text())
    assert saved["build"] == architectures.build_key() and set(saved["architectures"]) == names


def test_the_answer_is_remembered_per_build(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    first = known_architectures()

    def no_child() -> None:
        raise AssertionError("llama.cpp asked again")

    monkeypatch.setattr(architectures, "_known", {})
    monkeypatch.setattr(architectures, "_ask_in_child", no_child)
    assert known_architectures() == first  # from the file beside the models
    assert known_architectures() == first  # from memory

    other = {"build": "another llama.cpp", "architectures": ["llama"]}
    (data_dir() / CACHE_NAME).write_text(json.dumps(other))
    monkeypatch.setattr(architectures, "_known", {})
    monkeypatch.setattr(architectures, "_ask_in_child", lambda: frozenset({"qwen2"}))
    assert known_architectures() == {"qwen2"}  # another build's answer is not taken


def test_asking_does_not_load_llama_cpp_into_the_caller(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from model_runtime.llama.architectures import known_architectures\n"
        "print(len(known_architectures() or ()), 'llama_cpp' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    count, loaded = done.stdout.split()
    assert int(count) > 100 and loaded == "False"


def test_check_runnable_refuses_what_this_build_cannot_run(tmp_path: Path) -> None:
    path, _ = broken_model(tmp_path, "unknown-architecture")
    with pytest.raises(ModelFileError, match="cannot run models of the 'xlama' architecture"):
        check_runnable(read_gguf_info(path))
    check_runnable(read_gguf_info(tiny(tmp_path, "qwen3")))
