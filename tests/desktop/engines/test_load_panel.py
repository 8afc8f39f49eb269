"""Loading through the planner: the real window, the real engine on SmolLM2, simulated machines.

A small machine is a HardwareInfo given to the window (what the planner sees), so the real
model "does not fit" on demand while the real engine can still load it when asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QCheckBox, QMessageBox

from desktop.engines.load_panel import gpu_layers_text, size_text
from desktop.window.main_window import MainWindow
from model_runtime.chat.generation import LoadRequest, ModelSummary
from model_runtime.engine import EngineClient
from model_runtime.errors import InsufficientMemory
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.paths import config_dir
from model_runtime.planning.pinned import FILE_NAME, model_key, pinned_overrides
from model_runtime.planning.plan import PlanOverrides
from model_runtime.planning.planner import plan_load

LOAD_MS = 60_000
MIB, GIB = 1024**2, 1024**3


def small_machine() -> HardwareInfo:
    """One core and 1,000 MiB free: SmolLM2 needs ~626 MiB at its 8k context, 1,792 tokens fit."""
    return HardwareInfo(
        cpu=CpuInfo("Simulated small CPU", 1, 1),
        ram_total=2 * GIB,
        ram_available=1000 * MIB,
        system="Simulated",
    )


def roomy_machine() -> HardwareInfo:
    """One core (steady on a shared 2-core runner) and plenty of memory."""
    return HardwareInfo(
        cpu=CpuInfo("Simulated CPU", 1, 1), ram_total=16 * GIB, ram_available=12 * GIB
    )


class OutOfMemoryOnceClient(EngineClient):
    """Scripted: the first load fails as when llama.cpp runs out of memory; the rest are real."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[LoadRequest] = []

    def load(self, request: LoadRequest) -> ModelSummary:
        self.requests.append(request)
        if len(self.requests) == 1:
            raise InsufficientMemory(
                "llama.cpp ran out of memory while loading: failed to allocate CPU buffer"
            )
        return super().load(request)


def click(qtbot: Any, widget: Any) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def tick(qtbot: Any, box: QCheckBox) -> None:
    """A click on a check box's box (a stretched box's middle is past its label)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))


def refuse(qtbot: Any, window: MainWindow) -> Any:
    """Ask for the starter model on a machine it does not fit; returns the refused plan."""
    loading: list[str] = []
    window.bridge.loading.connect(loading.append)
    with qtbot.waitSignal(window.loader.refused, timeout=LOAD_MS) as refused:
        click(qtbot, window.welcome.starter_button)
    plan, exc = refused.args
    assert isinstance(exc, InsufficientMemory)
    # the engine was never asked: no worker process, nothing loading, nothing to reload
    assert loading == []
    assert window.bridge.client.pid is None and window.bridge.last_request is None
    return plan


@pytest.mark.slow
def test_the_starter_model_loads_through_the_planner_in_one_click(
    open_window: Callable[..., MainWindow], qtbot: Any, smollm2: Path
) -> None:
    window = open_window()  # this computer, detected for real
    planned: list[Any] = []
    window.bridge.planned.connect(planned.append)
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS) as loaded:
        click(qtbot, window.welcome.starter_button)
        assert window.status.model_label.text() == f"Loading {smollm2.name} …"
    plan = window.loader.plan
    assert planned == [plan]
    assert plan.model_path == str(smollm2) and plan.verdict.ok
    hw = window.hardware.info
    assert hw is not None and hw.build is not None  # the llama.cpp build was asked too
    assert plan.n_threads == hw.cpu.physical_cores
    assert window.bridge.last_request == plan.to_load_request()
    summary = loaded.args[0]
    assert (summary.n_ctx, summary.n_threads) == (plan.n_ctx, plan.n_threads)

    # the status bar says how it was tuned; the panel did not ask
    threads = f"{plan.n_threads} thread{'s' if plan.n_threads != 1 else ''}"
    assert window.status.plan_label.text() == (
        f"Auto-tuned: context {plan.n_ctx:,} · {threads} · {gpu_layers_text(plan)}"
    )
    panel = window.load_panel
    assert not panel.isVisible()
    assert window.status.details_button.isVisible()

    click(qtbot, window.status.details_button)
    assert panel.isVisible()
    assert panel.verdict.text().startswith("✓ Fits")
    assert panel.reason.text().startswith("Auto-tuned for this computer because it fits")
    assert panel.context_value.text() == f"{plan.n_ctx:,} tokens"
    assert panel.title.text() == smollm2.name
    assert panel.subtitle.text() == "llama · Q4_1 · 135M parameters · 30 layers · 93.8 MiB"
    assert panel.threads_value.text() == str(plan.n_threads)
    assert panel.kv_value.text() == "f16" and panel.flash_value.text() == "on"
    assert panel.gpu_layers_value.text() == gpu_layers_text(plan)
    v = plan.verdict
    needed = f"{size_text(v.host_needed)} of {size_text(v.host_available)} available"
    assert panel.ram_bar.label.text() == needed
    assert panel.machine.text().startswith(f"This computer: {hw.cpu.physical_cores} core")
    assert panel.load_button.isEnabled() and not panel.force_button.isVisible()
    assert panel.context.currentText() == f"Auto ({plan.n_ctx:,})"
    click(qtbot, panel.close_button)
    assert not panel.isVisible()


@pytest.mark.slow
def test_a_model_that_does_not_fit_is_refused_then_a_lower_context_loads(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window(hardware=small_machine())
    plan = refuse(qtbot, window)
    assert not plan.verdict.ok and plan.n_ctx == 8192 and plan.verdict.max_ctx == 1792

    # the window says why, and is as before
    banner = window.banner
    assert banner.isVisible() and not banner.reload_button.isVisible()
    assert banner.label.text().startswith("Not enough memory. Needs about 0.6 GiB of memory")
    assert "A context of 1,792 tokens fits (instead of 8,192)." in banner.label.text()
    assert window.status.model_label.text() == "No model loaded"
    assert not window.status.progress.isVisible()
    assert window.welcome.starter_button.isEnabled()
    assert not window.composer.button.isEnabled()

    # the panel opened on the refused plan
    panel = window.load_panel
    assert panel.isVisible()
    assert panel.verdict.text() == "✗ Does not fit"
    assert panel.verdict.property("fit") == "no"
    assert "A context of 1,792 tokens fits" in panel.advice.text()
    assert panel.context_value.text() == "8,192 tokens (at most 1,792 fit)"
    assert not panel.load_button.isEnabled() and panel.force_button.isVisible()
    assert panel.machine.text().startswith("This computer: 1 core, 2.00 GiB RAM (1000 MiB free)")
    assert panel.context.findText("1,792 (longest that fits)") > 0

    # lowering the context makes it fit, and it loads with that context
    panel.context.setCurrentIndex(panel.context.findData(1024))
    assert panel.verdict.text() == "✓ Fits"
    assert panel.reason.text().startswith("With your settings it fits in system memory")
    assert panel.context_value.text() == "1,024 tokens"
    assert panel.load_button.isEnabled() and not panel.force_button.isVisible()
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS) as loaded:
        click(qtbot, panel.load_button)
    summary = loaded.args[0]
    assert (summary.n_ctx, summary.n_threads) == (1024, 1)
    assert not panel.isVisible()
    assert window.status.plan_label.text() == "Your settings: context 1,024 · 1 thread · CPU only"
    assert window.composer.button.isEnabled()
    assert pinned_overrides(plan.model_path) is None  # not asked to remember


@pytest.mark.slow
def test_forcing_a_load_that_does_not_fit_warns_first(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window(hardware=small_machine())
    refuse(qtbot, window)
    panel = window.load_panel

    # a warning first; Cancel loads nothing
    click(qtbot, panel.force_button)
    box = panel.force_box
    assert box is not None and box.isVisible()
    assert "Needs about 0.6 GiB" in box.text() and "swap" in box.text()
    with qtbot.waitSignal(box.destroyed):
        click(qtbot, box.button(QMessageBox.StandardButton.Cancel))
    assert panel.force_box is None
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    assert window.bridge.client.pid is None and panel.isVisible()

    click(qtbot, panel.force_button)
    assert panel.force_box is not None and panel.force_confirm is not None
    assert panel.force_confirm.text() == "Load anyway"
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS) as loaded:
        click(qtbot, panel.force_confirm)
    assert loaded.args[0].n_ctx == 8192
    plan = window.loader.plan
    assert plan.forced and not plan.verdict.ok
    assert window.status.plan_label.text().startswith("Forced: context 8,192")
    assert pinned_overrides(plan.model_path) is None  # forcing is never remembered


@pytest.mark.slow
def test_pinned_settings_are_remembered_for_the_model(
    open_window: Callable[..., MainWindow], qtbot: Any, smollm2: Path
) -> None:
    first = open_window(hardware=small_machine())
    refuse(qtbot, first)
    panel = first.load_panel
    assert not panel.remember.isChecked()
    panel.context.setCurrentIndex(panel.context.findData(1024))
    tick(qtbot, panel.remember)
    with qtbot.waitSignal(first.bridge.loaded, timeout=LOAD_MS):
        click(qtbot, panel.load_button)
    assert pinned_overrides(smollm2) == PlanOverrides(n_ctx=1024)
    assert model_key(smollm2) in (config_dir() / FILE_NAME).read_text()
    first.close()

    # next time (a new window, as after a restart): the pinned context applies, nothing asks
    second = open_window(hardware=small_machine())
    with qtbot.waitSignal(second.bridge.loaded, timeout=LOAD_MS) as loaded:
        second.load_starter()
    assert loaded.args[0].n_ctx == 1024
    panel = second.load_panel
    assert not panel.isVisible() and not second.banner.isVisible()
    assert second.status.plan_label.text().startswith("Your settings for this model: context 1,024")
    click(qtbot, second.status.details_button)
    assert panel.remember.isChecked() and panel.context.currentData() == 1024

    # unticking "Remember" forgets them
    tick(qtbot, panel.remember)
    with qtbot.waitSignal(second.bridge.loaded, timeout=LOAD_MS):
        click(qtbot, panel.load_button)
    assert pinned_overrides(smollm2) is None
    assert second.status.plan_label.text().startswith("Your settings: context 1,024")


@pytest.mark.slow
def test_out_of_memory_retries_once_with_a_safer_plan_and_says_what_changed(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    client = OutOfMemoryOnceClient()
    window = open_window(hardware=roomy_machine(), client=client)
    events: list[tuple[str, Any]] = []
    window.loader.adjusted.connect(lambda done: events.append(("adjusted", done)))
    window.bridge.loaded.connect(lambda summary: events.append(("loaded", summary)))
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        window.load_starter()
    assert [name for name, _ in events] == ["adjusted", "loaded"]
    done, summary = events[0][1], events[1][1]
    assert [r.n_ctx for r in client.requests] == [8192, 4096]
    assert summary.n_ctx == 4096
    assert done.changes == ("context 8192 → 4096",)
    text = window.banner.label.text()
    assert text.startswith("Loaded with safer settings. The first try failed (llama.cpp ran out")
    assert text.endswith("Changed: context 8192 → 4096.")
    assert window.status.plan_label.text().startswith("Safer settings: context 4,096")
    assert window.bridge.last_request == done.plan.to_load_request()  # what Reload brings back
    assert window.composer.button.isEnabled()


def test_layers_on_rpc_workers_are_said_so() -> None:
    """A plan that puts layers on llama.cpp RPC workers does not call them 'the GPU'."""
    import dataclasses

    from model_runtime.gguf.profile import profile_from_gguf
    from model_runtime.hardware.detect import CpuInfo, HardwareInfo
    from model_runtime.hardware.gpus import GpuInfo
    from model_runtime.planning.planner import plan
    from tests.model_shapes import CATALOG, gguf_info

    gib = 2**30
    worker = GpuInfo(0, "other", "RPC worker 10.0.0.5:50052", 64 * gib, 60 * gib, usable=True,
                     source="rpc", endpoint="10.0.0.5:50052")  # fmt: skip
    gpu = GpuInfo(1, "nvidia", "RTX 4090", 24 * gib, 23 * gib, usable=True)
    hw = HardwareInfo(CpuInfo("Ryzen", 8, 16), 32 * gib, 28 * gib, (worker,))
    profile = profile_from_gguf(gguf_info(*CATALOG[0]))
    only_workers = plan(profile, hw)
    assert gpu_layers_text(only_workers).endswith("layers on the RPC worker")
    both = plan(profile, dataclasses.replace(hw, gpus=(worker, gpu)))
    assert gpu_layers_text(both).endswith("layers on the GPU and the RPC worker")


@pytest.mark.slow
def test_a_draft_model_is_chosen_per_model_in_the_panel(
    open_window: Callable[..., MainWindow], qtbot: Any, smollm2: Path, tmp_path: Path
) -> None:
    """The panel offers the known models that can draft (the starter model shares this copy's
    vocabulary); the plan counts the draft's memory, the engine loads it, and "Remember"
    keeps the choice for this model."""
    import shutil

    model = tmp_path / "SmolLM2-copy.gguf"
    shutil.copyfile(smollm2, model)
    window = open_window(hardware=roomy_machine())
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS) as loaded:
        window.load_model(str(model))
    assert loaded.args[0].speculation == "prompt lookup"
    plan = window.loader.plan
    assert [c.path for c in plan.draft_candidates] == [str(smollm2)]
    click(qtbot, window.status.details_button)
    panel = window.load_panel
    assert panel.draft_value.text() == "prompt lookup (while it pays)"
    assert [panel.draft.itemData(i) for i in range(panel.draft.count())] == [
        None,
        "off",
        str(smollm2),
    ]
    alone = plan.verdict.host_needed
    panel.draft.setCurrentIndex(2)
    with_draft = window.loader.plan
    assert with_draft.speculation.draft_path == str(smollm2)
    assert with_draft.draft_estimate is not None
    assert with_draft.verdict.host_needed == alone + with_draft.draft_estimate.host_total
    assert panel.draft_value.text().startswith(f"{smollm2.name} (")
    assert panel.draft_value.text().endswith(" in system memory)")
    tick(qtbot, panel.remember)
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS) as loaded:
        click(qtbot, panel.load_button)
    assert loaded.args[0].speculation == f"draft model {smollm2.name}"
    assert pinned_overrides(model) == PlanOverrides(draft=str(smollm2))
    assert window.status.plan_label.text().endswith(f"· draft model {smollm2.name}")


@pytest.mark.slow
def test_a_draft_model_that_runs_out_of_memory_is_said_and_the_model_stays(
    open_window: Callable[..., MainWindow], qtbot: Any, smollm2: Path
) -> None:
    """llama.cpp can't allocate the draft's KV cache (a context of 200 million tokens): the
    model loads without drafting, and the window says why instead of keeping quiet."""
    window = open_window(hardware=roomy_machine())
    planned = plan_load(smollm2, roomy_machine(), PlanOverrides(n_ctx=512, draft=str(smollm2)))
    huge = dataclasses.replace(planned.speculation, draft_n_ctx=200_000_000)
    plan = dataclasses.replace(planned, speculation=huge, n_threads=1)
    assert plan.speculation.mode == "model" and plan.flash_attn
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS) as loaded:
        window.bridge.load_plan(plan)
    summary = loaded.args[0]
    # the status bar's plan does not name a draft model that is not drafting
    assert window.status.plan_label.text().startswith("Auto-tuned: context 512")
    assert "draft model" not in window.status.plan_label.text()
    assert summary.speculation == "off" and summary.speculation_note
    assert window.bridge.summary is not None  # the model itself is loaded
    assert window.banner.isVisible()
    text = window.banner.label.text()
    assert text.startswith("Loaded without the draft model. ")
    assert summary.speculation_note in text and "drafting is off" in text
