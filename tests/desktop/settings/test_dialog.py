"""The settings dialog: this computer's hardware, offline mode, and the network log."""

from __future__ import annotations

import json
import multiprocessing
from typing import Any

import psutil
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit

from desktop.engines.bridge import EngineBridge
from desktop.engines.hardware_probe import HardwareProbe
from desktop.settings.dialog import SettingsDialog
from desktop.settings.privacy_tab import local_time
from desktop.window.main_window import MainWindow
from model_runtime import netlog
from model_runtime.errors import OfflineMode
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.hardware.gpus import GpuInfo
from model_runtime.llama import rpc
from model_runtime.llama.build import LlamaBuild, rebuild_command
from tests.rpc_worker import start_rpc_worker

GIB = 1024**3
DETECT_MS = 90_000  # llama.cpp is asked in a child process


def texts(dialog: SettingsDialog) -> list[str]:
    return [label.text() for label in dialog.hardware_tab.findChildren(QLabel)]


def tick(qtbot: Any, box: QCheckBox) -> None:
    """A click on a check box's box (a stretched box's middle is past its label)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))


@pytest.fixture
def open_dialog(qtbot: Any):
    dialogs: list[SettingsDialog] = []

    def open_(probe: HardwareProbe) -> SettingsDialog:
        dialog = SettingsDialog(probe)
        qtbot.addWidget(dialog)
        dialog.show()
        dialogs.append(dialog)
        return dialog

    yield open_
    for dialog in dialogs:
        dialog.close()


@pytest.mark.slow
def test_hardware_tab_shows_this_computer(open_dialog: Any, qtbot: Any) -> None:
    probe = HardwareProbe()
    dialog = open_dialog(probe)
    assert dialog.tabs.currentWidget() is dialog.hardware_tab
    qtbot.waitUntil(lambda: bool(dialog.hardware_tab.lines), timeout=DETECT_MS)
    hw = probe.info
    assert hw is not None
    shown = texts(dialog)
    ram = f"{psutil.virtual_memory().total / GIB:.1f} GiB"
    cpu = next(t for t in shown if t.startswith(hw.cpu.model))
    assert f"{hw.cpu.physical_cores} cores" in cpu
    assert any(t.startswith(ram) for t in shown)
    if hw.build is not None:
        build = next(t for t in shown if "GPU offload" in t)
        assert build.startswith(", ".join(sorted(hw.build.gpu_backends)) or "CPU only")
        features = next(t for t in shown if t.startswith("CPU: "))
        assert ("AVX2" in features.split(", ")) == hw.build.cpu_feature("AVX2")
    assert multiprocessing.active_children() == []  # the llama.cpp check has ended


def test_a_gpu_the_build_cannot_use_comes_with_the_rebuild_command(
    open_dialog: Any, qtbot: Any
) -> None:
    gpu = GpuInfo(
        index=0,
        vendor="nvidia",
        name="NVIDIA GeForce RTX 4070 (simulated)",
        memory_total=12 * GIB,
        memory_free=11 * GIB,
        usable=False,
        build_hint=f"To use it, install a CUDA build: {rebuild_command('CUDA')}",
    )
    hw = HardwareInfo(
        cpu=CpuInfo("Simulated CPU", 8, 16, avx2=True, avx512=False),
        ram_total=32 * GIB,
        ram_available=24 * GIB,
        gpus=(gpu,),
        build=LlamaBuild(gpu_offload=False, system_info="CPU : AVX2 = 1 |"),
    )
    dialog = open_dialog(HardwareProbe(hw))
    shown = texts(dialog)
    assert "Simulated CPU — 8 cores, 16 threads (AVX2)" in shown
    assert any(
        t.startswith("NVIDIA GeForce RTX 4070 (simulated)") and "not usable" in t for t in shown
    )
    note = next(t for t in shown if t.startswith("⚠ NVIDIA GeForce RTX 4070"))
    assert "install a CUDA build" in note and rebuild_command("CUDA") not in note
    assert "CPU: AVX2" in shown
    assert dialog.hardware_tab.rebuild_commands == [rebuild_command("CUDA")]
    field = dialog.hardware_tab.findChild(QLineEdit, "rebuildCommand")
    assert field.text() == rebuild_command("CUDA") and field.isReadOnly()
    assert "GGML_CUDA=on" in field.text()


def test_privacy_tab_shows_the_network_log_and_switches_offline_mode(
    open_dialog: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = netlog.record("huggingface.co", "GET", "/api/models", why="search")
    netlog.record("cas-bridge.xethub.hf.co", "GET", "/xet/blob", why="download")
    hw = HardwareInfo(cpu=CpuInfo("Simulated CPU", 2, 2), ram_total=8 * GIB, ram_available=GIB)
    dialog = open_dialog(HardwareProbe(hw))
    dialog.tabs.setCurrentIndex(1)
    tab = dialog.privacy_tab
    assert dialog.tabs.currentWidget() is tab and tab.isVisible()

    words = " ".join(label.text() for label in tab.findChildren(QLabel))
    assert "the model manager reads the recommended models' sizes from the" in words
    assert "when you search, download or save a token" in words

    table = tab.table
    rows = [[table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())]
    assert [row[1:] for row in rows] == [  # newest first
        ["cas-bridge.xethub.hf.co", "download", "GET /xet/blob"],
        ["huggingface.co", "search", "GET /api/models"],
    ]
    assert rows[1][0] == local_time(first.time)
    assert tab.summary.text().startswith("2 connections logged; the last on ")
    assert "to cas-bridge.xethub.hf.co (download)" in tab.summary.text()

    # offline mode: saved for every later Ponder process, and obeyed
    assert not tab.offline.isChecked() and not netlog.is_offline()
    tick(qtbot, tab.offline)
    assert tab.offline.isChecked() and netlog.offline_setting() and netlog.is_offline()
    with pytest.raises(OfflineMode):
        netlog.require_online("search the Hub")
    tick(qtbot, tab.offline)
    assert not netlog.offline_setting() and not netlog.is_offline()

    # a new entry shows on Refresh; Clear empties the log
    netlog.record("huggingface.co", "HEAD", "/repo/resolve/main/x.gguf", why="metadata")
    qtbot.mouseClick(tab.refresh_button, Qt.MouseButton.LeftButton)
    assert table.rowCount() == 3 and table.item(0, 2).text() == "metadata"
    qtbot.mouseClick(tab.clear_button, Qt.MouseButton.LeftButton)
    assert table.rowCount() == 0 and netlog.read_log() == []
    assert tab.summary.text() == "No connection logged: Ponder has not used the network."

    # PONDER_OFFLINE=1 holds whatever the switch says
    monkeypatch.setenv(netlog.OFFLINE_ENV, "1")
    tab.refresh()
    assert tab.offline.isChecked() and not tab.offline.isEnabled()
    assert tab.forced_note.isVisible()


def test_the_network_log_says_whether_each_connection_worked_and_its_bytes(
    open_dialog: Any,
) -> None:
    old = {"time": "2025-01-02T10:00:00.000+00:00", "host": "huggingface.co"}
    old |= {"purpose": "search", "method": "GET", "target": "/api/models"}
    netlog.log_path().write_text(json.dumps(old) + "\n", encoding="utf-8")  # an older Ponder's
    answered = netlog.record("huggingface.co", "GET", "/api/models/acme/R1", why="metadata")
    netlog.finish(answered, ok=True, detail="HTTP 200 OK", sent=412, received=3 * 1024)
    failed = netlog.record("huggingface.co", "GET", "/api/models", why="search")
    netlog.finish(failed, ok=False, detail="no network: its name could not be looked up")
    hw = HardwareInfo(cpu=CpuInfo("Simulated CPU", 2, 2), ram_total=8 * GIB, ram_available=GIB)
    dialog = open_dialog(HardwareProbe(hw))
    tab = dialog.privacy_tab
    dialog.tabs.setCurrentWidget(tab)

    table = tab.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["When", "Host", "Why", "Request", "Result", "Sent", "Received"]
    rows = [[table.item(r, c).text() for c in range(4, 7)] for r in range(table.rowCount())]
    assert rows == [  # newest first
        ["No network", "—", "—"],
        ["HTTP 200 OK", "412 B", "3.0 KiB"],
        ["—", "—", "—"],  # the older line: outcome not logged
    ]
    assert table.item(0, 4).foreground().color().name() == "#b3261e"
    assert table.item(0, 4).toolTip() == "Failed: no network: its name could not be looked up"
    assert "older Ponder" in table.item(2, 4).toolTip()
    assert table.item(1, 6).toolTip() == "3,072 bytes (HTTP headers and body)"
    assert tab.summary.text().endswith(" 1 failed. In all 412 B sent, 3.0 KiB received.")


def test_file_menu_opens_settings(qtbot: Any) -> None:
    hw = HardwareInfo(cpu=CpuInfo("Simulated CPU", 2, 2), ram_total=8 * GIB, ram_available=GIB)
    window = MainWindow(EngineBridge(), hardware=hw)
    qtbot.addWidget(window)
    assert window.commands.settings.shortcut().toString() == "Ctrl+Alt+S"
    window.commands.settings.trigger()
    dialog = window.findChild(SettingsDialog)
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    assert "Simulated CPU — 2 cores, 2 threads" in texts(dialog)
    dialog.close()
    window.close()
    window.bridge.shutdown()


@pytest.fixture(scope="module")
def rpc_worker(tmp_path_factory: pytest.TempPathFactory):
    if not rpc.supported():
        pytest.skip("this llama.cpp build has no RPC backend (-DGGML_RPC=ON)")
    yield from start_rpc_worker(tmp_path_factory.mktemp("worker-home"))


@pytest.mark.slow
def test_rpc_workers_are_saved_and_shown_with_their_memory(
    open_dialog: Any, qtbot: Any, rpc_worker: str, ponder_home: Any
) -> None:
    probe = HardwareProbe()
    dialog = open_dialog(probe)
    qtbot.waitUntil(lambda: bool(dialog.hardware_tab.lines), timeout=DETECT_MS)
    row = dialog.hardware_tab.rpc_row
    assert row.field.text() == "" and row.field.placeholderText().startswith("None")

    row.field.setText("10.0.0.5:port")  # a bad address is said and saves nothing
    qtbot.mouseClick(row.save_button, Qt.MouseButton.LeftButton)
    assert row.status.text() == "'10.0.0.5:port' has no usable port (1 to 65535)."
    assert rpc.load_workers() == ()

    row.field.setText(f" {rpc_worker} ")
    with qtbot.waitSignal(probe.detected, timeout=DETECT_MS):
        qtbot.keyClick(row.field, Qt.Key.Key_Return)
    assert rpc.load_workers() == (rpc_worker,)
    assert probe.info is not None and probe.info.rpc_workers == (rpc_worker,)
    shown = texts(dialog)
    worker_line = next(t for t in shown if t.startswith(rpc_worker))
    assert "GiB free (takes layers like a GPU)" in worker_line
    assert not any(t.startswith("⚠") and rpc_worker in t for t in shown)  # it answered


def test_each_plan_sees_the_memory_free_now(qtbot: Any) -> None:
    """The first look is kept (GPUs, build), but free memory is read again for every plan."""
    probe = HardwareProbe()
    first = HardwareInfo(CpuInfo("Looked at earlier", 2, 2), 8 * GIB, 1)  # 1 byte was free then
    probe.info = first
    now = probe.get()
    assert now.cpu == first.cpu and now.ram_total == psutil.virtual_memory().total
    assert now.ram_available > GIB // 16
    fixed = HardwareProbe(first)  # a simulated machine stays as it was given
    assert fixed.get() is first
