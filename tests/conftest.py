"""Shared fixtures: an isolated PONDER_HOME per test, the real small model, real GGUF copies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from model_runtime.models.starter import INSTALL_HINT, starter_model_path

# fake_hub and memory_keyring: a loopback Hugging Face Hub and an in-memory keyring;
# tmpfs: a small real disk to fill or make read-only.
pytest_plugins = ("tests.hub_server", "tests.openai_stub", "tests.disks")

FIXTURES = Path(__file__).parent / "fixtures"
R1_TEMPLATE = FIXTURES / "deepseek-r1-distill.jinja"

# A grammar that makes SmolLM2 "reason": a short thinking block, then a short answer.
THINK_GRAMMAR = r"""
root   ::= "<think>\n" thought "\n</think>\n\n" answer
thought ::= [A-Za-z ,.']{20,160}
answer ::= [A-Za-z ,.']{10,120} "."
"""


@pytest.fixture(autouse=True)
def ponder_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data and config folders; none touches the real profile."""
    home = tmp_path / "ponder-home"
    monkeypatch.setenv("PONDER_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The real SmolLM2-135M-Instruct GGUF, installed by pip with the test dependencies."""
    path = starter_model_path()
    if path is None:
        pytest.fail(f"The test model is missing; install it with: {INSTALL_HINT}")
    return path


@pytest.fixture(scope="session")
def smollm2_r1(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2 under a DeepSeek-R1 distill chat template (its prompt ends inside <think>)."""
    out = tmp_path_factory.mktemp("r1") / "SmolLM2-R1-template.gguf"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gguf.scripts.gguf_new_metadata",
            str(smollm2),
            str(out),
            "--chat-template-file",
            str(R1_TEMPLATE),
            "--force",
        ],
        check=True,
        capture_output=True,
    )
    return out
