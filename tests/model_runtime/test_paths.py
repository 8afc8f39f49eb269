"""PONDER_HOME moves every folder Ponder writes to."""

from __future__ import annotations

from pathlib import Path

from model_runtime import __version__, paths
from model_runtime.paths import FLAG_FILE, is_first_run, mark_welcomed


def test_ponder_home_moves_everything(ponder_home: Path) -> None:
    assert paths.home() == ponder_home
    for folder in (paths.data_dir(), paths.config_dir(), paths.logs_dir()):
        assert folder.is_dir()
        assert folder.is_relative_to(ponder_home)
    assert paths.data_dir() != paths.config_dir()


def test_engine_logs_are_pruned(tmp_path: Path) -> None:
    from model_runtime.engine.client import KEEP_LOGS, prune_logs

    for i in range(KEEP_LOGS + 5):
        (tmp_path / f"engine-2026010{i:02d}.log").write_text(str(i))
    (tmp_path / "other.txt").write_text("kept")
    prune_logs(tmp_path)
    logs = sorted(p.name for p in tmp_path.glob("engine-*.log"))
    assert len(logs) == KEEP_LOGS
    assert logs[-1] == f"engine-2026010{KEEP_LOGS + 4:02d}.log"  # the newest stay
    assert (tmp_path / "other.txt").exists()


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
