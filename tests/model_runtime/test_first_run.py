"""The first-run flag: set once in the config folder that PONDER_HOME moves."""

from __future__ import annotations

from pathlib import Path

from model_runtime import __version__
from model_runtime.first_run import FLAG_FILE, is_first_run, mark_welcomed


def test_the_welcome_is_due_once(ponder_home: Path) -> None:
    assert is_first_run()
    mark_welcomed()
    assert not is_first_run()
    flag = ponder_home / "config" / FLAG_FILE
    assert flag.read_text().startswith(__version__ + " ")


def test_another_profile_is_welcomed_again(ponder_home: Path, monkeypatch, tmp_path) -> None:
    mark_welcomed()
    monkeypatch.setenv("PONDER_HOME", str(tmp_path / "other"))
    assert is_first_run()
