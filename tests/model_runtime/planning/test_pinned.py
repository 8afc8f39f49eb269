"""Per-model pinned load settings: stored by path, only what was chosen, garbage ignored."""

from __future__ import annotations

import json
from pathlib import Path

from model_runtime.paths import config_dir
from model_runtime.planning.pinned import (
    FILE_NAME,
    model_key,
    pin_overrides,
    pinned_overrides,
    unpin_overrides,
)
from model_runtime.planning.plan import PlanOverrides


def test_pin_read_and_unpin(tmp_path: Path) -> None:
    model, other = tmp_path / "a.gguf", tmp_path / "b.gguf"
    assert pinned_overrides(model) is None
    chosen = PlanOverrides(n_ctx=4096, type_k="q8_0", type_v="q8_0", n_threads=3, force=True)
    pin_overrides(model, chosen)
    pin_overrides(other, PlanOverrides(n_gpu_layers=20))
    # threads and force are not the panel's to pin
    assert pinned_overrides(model) == PlanOverrides(n_ctx=4096, type_k="q8_0", type_v="q8_0")
    assert pinned_overrides(tmp_path / "sub" / ".." / "a.gguf") == pinned_overrides(model)
    stored = json.loads((config_dir() / FILE_NAME).read_text())
    assert stored[model_key(model)] == {"n_ctx": 4096, "type_k": "q8_0", "type_v": "q8_0"}

    unpin_overrides(model)
    assert pinned_overrides(model) is None
    assert pinned_overrides(other) == PlanOverrides(n_gpu_layers=20)
    pin_overrides(other, PlanOverrides())  # nothing chosen: nothing kept
    assert pinned_overrides(other) is None


def test_damaged_or_odd_values_are_ignored(tmp_path: Path) -> None:
    model = tmp_path / "a.gguf"
    path = config_dir() / FILE_NAME
    path.write_text("{not json")
    assert pinned_overrides(model) is None
    path.write_text(
        json.dumps({model_key(model): {"n_ctx": "big", "n_gpu_layers": True, "type_k": "q9_9"}})
    )
    assert pinned_overrides(model) is None
    path.write_text(json.dumps({model_key(model): {"n_ctx": 2048, "cpu_expert_layers": -1}}))
    assert pinned_overrides(model) == PlanOverrides(n_ctx=2048)
