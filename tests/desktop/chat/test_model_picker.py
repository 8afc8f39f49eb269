"""The model picker in the chat's header: what it lists (recent models, this computer's, remote
engines), loading through the planner as File → Open does, a chat's own model with "Switch to …",
and missing models refused. The real window, real GGUF files and store, the real starter model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolButton, QWidgetAction

from desktop.chat.model_picker import ModelPicker
from desktop.window.main_window import MainWindow
from model_runtime.chat.generation import GenerationParams
from model_runtime.conversations.store import ConversationStore, default_store
from model_runtime.errors import InsufficientMemory
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.models.importing import import_gguf
from model_runtime.models.references import add_recent_model, recent_model_paths
from model_runtime.models.starter import STARTER_NAME
from model_runtime.models.store import ModelStore, StoredModel
from model_runtime.serving.endpoints import Endpoint, save_endpoint
from model_runtime.units import size_text
from tests.gguf_factory import write_tiny_model

LOAD_MS = 60_000
MIB, GIB = 1024**2, 1024**3
SMALL = HardwareInfo(CpuInfo("Simulated small CPU", 1, 1), 2 * GIB, 1000 * MIB, system="Sim")
ROOMY = HardwareInfo(CpuInfo("Simulated CPU", 1, 1), 16 * GIB, 12 * GIB)


@pytest.fixture
def stored(tmp_path: Path) -> StoredModel:
    tiny = write_tiny_model(tmp_path / "Tiny-Qwen-Q8_0.gguf", arch="qwen2", dtype="q8_0")
    return import_gguf(tiny, store=ModelStore())


@pytest.fixture
def store() -> Any:
    store = default_store()
    yield store
    store.close()


def listed(picker: ModelPicker) -> list[tuple[str, str]]:
    """The drop-down as a person reads it: (section, row) pairs; a missing row as "missing"."""
    picker.fill_menu()
    rows: list[tuple[str, str]] = []
    section = ""
    for action in picker.menu.actions():
        widget = action.defaultWidget() if isinstance(action, QWidgetAction) else None
        if widget is not None and widget.objectName() == "pickerSection":
            assert isinstance(widget, QLabel)
            section = widget.text()
        elif widget is not None:
            label = widget.findChild(QLabel, "missingModel")
            assert label is not None and not label.isEnabled()  # greyed
            rows.append((section, f"missing: {label.text()}"))
        elif not action.isSeparator():
            rows.append((section, action.text()))
    return rows


def action_named(picker: ModelPicker, start: str) -> Any:
    return next(a for a in picker.menu.actions() if a.text().startswith(start))


def test_the_picker_lists_recent_models_this_computers_and_the_remote_engines(
    open_window: Callable[..., MainWindow],
    qtbot: Any,
    stored: StoredModel,
    tmp_path: Path,
    smollm2: Path,
    memory_keyring: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PONDER_OFFLINE", "1")  # the model manager asks no Hub
    opened = write_tiny_model(tmp_path / "Opened-Q4_0.gguf", dtype="q4_0")
    gone = write_tiny_model(tmp_path / "Gone-Q4_0.gguf", dtype="q4_0")
    for path in (gone, opened, stored.model_path):
        add_recent_model(path)
    gone.unlink()  # moved away after it was used
    save_endpoint(Endpoint("lab server", "http://192.0.2.7:8080/v1", model="deepseek-r1"))
    window = open_window(hardware=ROOMY)
    picker = window.picker
    assert picker.button.text().startswith("Choose a model") and picker.isVisible()

    name = stored.manifest.name
    assert listed(picker) == [
        ("Recent", f"{name} · Q8_0 · {size_text(stored.manifest.total_size)}"),
        ("Recent", f"Opened-Q4_0.gguf · Q4_0 · {size_text(opened.stat().st_size)}"),
        ("Recent", "missing: Gone-Q4_0.gguf — missing"),
        ("On this computer", f"{STARTER_NAME} · Q4_1 · {size_text(smollm2.stat().st_size)}"),
        ("Remote engines", "lab server · deepseek-r1 · another computer"),
        ("Remote engines", "Open a file…"),
        ("Remote engines", "Manage models…"),
    ]

    # the bottom entries do what File → Open and File → Models do
    with qtbot.waitSignal(picker.manage_requested):
        action_named(picker, "Manage models…").trigger()
    manager = window.model_manager
    assert manager is not None and manager.isVisible()
    manager.close()
    manager.tasks.cancel_all()
    assert manager.tasks.wait(15)  # its planning, in a child process, has ended

    # a remote engine: answers come from it, as Settings' "Use for chat" does
    action_named(picker, "lab server").trigger()
    assert window.engines.remote is not None and window.engines.remote.name == "lab server"
    assert picker.where.text() == "remote engine lab server"
    assert picker.button.text().startswith("deepseek-r1")
    assert listed(picker)[4] == ("Remote engines", "lab server · deepseek-r1 · another computer")
    assert action_named(picker, "lab server").isChecked()


def test_a_missing_model_is_greyed_refused_and_can_be_removed(
    open_window: Callable[..., MainWindow], qtbot: Any, tmp_path: Path
) -> None:
    gone = write_tiny_model(tmp_path / "Gone-Q4_0.gguf", dtype="q4_0")
    opened = write_tiny_model(tmp_path / "Opened-Q4_0.gguf", dtype="q4_0")
    add_recent_model(gone)
    add_recent_model(opened)
    window = open_window(hardware=ROOMY)
    picker = window.picker
    asked: list[str] = []
    picker.load_requested.connect(asked.append)
    window.loader.planning.connect(asked.append)

    # listed while it was there, gone before it was chosen: refused, nothing planned or loaded
    size = size_text(gone.stat().st_size)
    assert listed(picker)[1] == ("Recent", f"Gone-Q4_0.gguf · Q4_0 · {size}")
    choice = action_named(picker, "Gone-Q4_0.gguf")
    gone.unlink()
    choice.trigger()
    assert asked == [] and "Gone-Q4_0.gguf is missing" in picker.refused
    assert picker.note.isVisible() and picker.note.text() == picker.refused

    # listed now: greyed, "missing", and nothing in the row can load it
    rows = listed(picker)
    assert rows[1] == ("Recent", "missing: Gone-Q4_0.gguf — missing")
    row = next(a for a in picker.menu.actions() if a.data() == "missing")
    remove = row.defaultWidget().findChild(QToolButton, "removeMissing")
    row.trigger()  # a row of words, not an action
    assert asked == []
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    assert recent_model_paths() == [opened] and row not in picker.menu.actions()
    assert gone.parent.is_dir() and opened.is_file()  # no file touched


def test_choosing_a_model_plans_it_and_shows_the_verdict_before_a_load_that_does_not_fit(
    open_window: Callable[..., MainWindow], qtbot: Any, smollm2: Path
) -> None:
    window = open_window(hardware=SMALL)
    loading: list[str] = []
    window.bridge.loading.connect(loading.append)
    listed(window.picker)
    with qtbot.waitSignal(window.loader.refused, timeout=LOAD_MS) as refused:
        action_named(window.picker, STARTER_NAME).trigger()
    assert isinstance(refused.args[1], InsufficientMemory)
    panel = window.load_panel
    assert panel.isVisible() and panel.verdict.text().startswith("✗ Does not fit")
    assert loading == [] and window.bridge.client.pid is None  # never attempted


@pytest.mark.slow
def test_choosing_in_the_list_loads_and_a_chat_offers_to_switch_to_its_model(
    open_window: Callable[..., MainWindow],
    qtbot: Any,
    smollm2: Path,
    store: ConversationStore,
    tmp_path: Path,
) -> None:
    tiny = write_tiny_model(tmp_path / "Tiny-Q8_0.gguf", dtype="q8_0")  # loads, answers nonsense
    chat = store.create_conversation(model="Tiny-Q8_0.gguf", model_ref=f"file:{tiny}")
    store.add_message(chat.id, "user", "Hi")
    store.add_message(chat.id, "assistant", "Hello.", model="Tiny-Q8_0.gguf")
    asked_again = store.create_conversation(model="Tiny-Q8_0.gguf", model_ref=f"file:{tiny}")
    lost = store.create_conversation(model="Old-Q4_0.gguf", model_ref="file:/nowhere/Old-Q4_0.gguf")
    window = open_window(store, hardware=ROOMY)
    picker = window.picker
    asked: list[str] = []
    window.loader.planning.connect(asked.append)

    # the starter, chosen in the list: planned and loaded as File → Open does
    listed(picker)
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        action_named(picker, STARTER_NAME).trigger()
    assert asked == [str(smollm2)]
    assert picker.button.text().startswith(f"{STARTER_NAME} · Q4_1 · ")
    assert picker.where.text() == "on this computer"
    assert recent_model_paths()[0] == smollm2  # first among the recent models
    assert listed(picker)[0][0] == "Recent" and picker.menu.actions()[1].isChecked()

    window.open_conversation(asked_again.id)
    assert picker.switch_button.text() == "Switch to it"
    assert picker.switch_button.toolTip() == "Use Tiny-Q8_0.gguf for this chat"
    window.controller.params = GenerationParams(max_tokens=4, temperature=0.0)
    with qtbot.waitSignal(window.controller.answer_finished, timeout=LOAD_MS):
        window.send("Say hi.")  # the model loaded now answers: the chat's model from now on
    assert store.conversation(asked_again.id).model_ref == "starter:"
    assert not picker.note.isVisible() and not picker.switch_button.isVisible()

    window.open_conversation(lost.id)  # its model is gone: said, nothing offered
    assert picker.note.text() == (
        "This chat was answered by Old-Q4_0.gguf, which is not here any more."
    )
    assert not picker.switch_button.isVisible()

    window.open_conversation(chat.id)  # answered by another model: said, never switched to
    assert picker.note.isVisible() and picker.switch_button.isVisible()
    assert picker.note.text() == "This chat was answered by Tiny-Q8_0.gguf."
    assert picker.switch_button.text() == "Switch to it"
    qtbot.wait(50)
    assert asked == [str(smollm2)] and window.bridge.summary is not None
    assert window.bridge.summary.path == str(smollm2)

    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        qtbot.mouseClick(picker.switch_button, Qt.MouseButton.LeftButton)
    assert asked == [str(smollm2), str(tiny)]  # through the planner too
    assert not picker.note.isVisible() and not picker.switch_button.isVisible()
    assert picker.button.text().startswith("Tiny-Q8_0.gguf · Q8_0 · ")

    window.new_chat()  # a new chat has no model of its own yet
    assert not picker.note.isVisible()


def test_a_long_model_name_in_the_header_never_widens_the_window(
    open_window: Callable[..., MainWindow], qtbot: Any, store: ConversationStore, tmp_path: Path
) -> None:
    """A chat answered by a model with a long name, on an 800×600 screen: the note is cut (its
    whole text in the tooltip), the window keeps within the screen, and "Switch" shows whole."""
    name = "DeepSeek-R1-Distill-Qwen-32B-abliterated-uncensored-UD-Q4_K_XL.gguf"
    model = write_tiny_model(tmp_path / name, dtype="q8_0")
    chat = store.create_conversation(model=name, model_ref=f"file:{model}")
    window = open_window(store)
    window.open_conversation(chat.id)
    picker = window.picker
    assert picker.switch_button.isVisibleTo(window)
    assert window.minimumSizeHint().width() <= 800
    window.resize(800, 560)
    qtbot.waitUntil(lambda: window.width() == 800)
    assert picker.note.elided() and picker.note.toolTip() == picker.note.text()
    assert name in picker.note.text()
    button = picker.switch_button
    assert button.width() >= button.sizeHint().width()  # its words whole
    assert picker.rect().contains(button.geometry())
