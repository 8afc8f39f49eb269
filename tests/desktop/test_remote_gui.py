"""Remote engines in the window: the Settings tab, chatting through one, serving the loaded model.

The remote side is the scripted loopback stub (tests/openai_stub.py): it makes drops and
refusals on demand. Serving uses the real SmolLM2.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

import desktop.main_window as main_window
from desktop.endpoints_tab import LEAVES, STAYS, EndpointsTab
from desktop.engine_bridge import EngineBridge
from desktop.main_window import MainWindow
from desktop.message_widgets import AssistantMessage
from model_runtime import endpoints
from model_runtime.endpoints import Endpoint
from model_runtime.generation import LoadRequest
from model_runtime.hardware import CpuInfo, HardwareInfo
from tests.openai_stub import OpenAIStub

GIB = 1024**3
HW = HardwareInfo(cpu=CpuInfo("Simulated CPU", 2, 2), ram_total=8 * GIB, ram_available=4 * GIB)
WAIT_MS = 10_000
LOAD_MS = 60_000
REASONING_SCRIPT = [
    {"reasoning_content": "Two plus two"},
    {"reasoning_content": " is four."},
    {"content": "The answer"},
    {"content": " is 4."},
]


@pytest.fixture(autouse=True)
def _online(online: None) -> None:
    """Every test here starts online (the `online` fixture is in tests/openai_stub.py)."""


@pytest.fixture
def window(qtbot: Any) -> Iterator[MainWindow]:
    bridge = EngineBridge()
    win = MainWindow(bridge, hardware=HW)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    bridge.shutdown()
    assert multiprocessing.active_children() == []


@pytest.fixture
def tab(qtbot: Any) -> EndpointsTab:
    widget = EndpointsTab()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def rows(tab: EndpointsTab) -> list[list[str]]:
    table = tab.table
    return [
        [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def test_add_an_endpoint_and_test_it(
    qtbot: Any, tab: EndpointsTab, stub: OpenAIStub, memory_keyring: Any
) -> None:
    stub.api_key = "sk-right"
    stub.models = ["deepseek-r1", "other"]
    editor = tab.edit(None)
    editor.name.setText("lab")
    editor.url.setText(stub.url)
    editor.key.setText("sk-right")
    with qtbot.waitSignal(editor.fetcher.done, timeout=WAIT_MS):
        qtbot.mouseClick(editor.fetch_button, Qt.MouseButton.LeftButton)
    assert [editor.model.itemText(i) for i in range(editor.model.count())] == stub.models
    assert editor.model.currentText() == "deepseek-r1"
    editor.buttons.accepted.emit()
    assert rows(tab) == [["lab", stub.url, "deepseek-r1", STAYS]]
    assert memory_keyring.passwords == {("ponder", "endpoint:lab"): "sk-right"}
    assert "sk-right" not in (endpoints.config_dir() / endpoints.FILE_NAME).read_text()

    # Editing never shows the key back; an empty field keeps it.
    again = tab.edit(tab.selected())
    assert again.key.text() == "" and "Saved" in again.key.placeholderText()
    again.buttons.accepted.emit()
    assert memory_keyring.passwords == {("ponder", "endpoint:lab"): "sk-right"}

    tab.select("lab")
    with qtbot.waitSignal(tab.tested, timeout=WAIT_MS) as ok:
        qtbot.mouseClick(tab.test_button, Qt.MouseButton.LeftButton)
    assert ok.args[0] is True
    assert tab.result.text() == "Connected. It offers 2 model(s): deepseek-r1, other."

    stub.api_key = "sk-rotated"  # the saved key is now wrong: 401
    with qtbot.waitSignal(tab.tested, timeout=WAIT_MS) as refused:
        qtbot.mouseClick(tab.test_button, Qt.MouseButton.LeftButton)
    assert refused.args[0] is False
    text = tab.result.text()
    assert text.startswith("The remote engine refused the API key.")
    assert "HTTP 401" in text and "Invalid API key." in text

    qtbot.mouseClick(tab.remove_button, Qt.MouseButton.LeftButton)
    assert rows(tab) == [] and memory_keyring.passwords == {}


def test_a_bad_address_is_said_not_saved(tab: EndpointsTab, memory_keyring: Any) -> None:
    editor = tab.edit(None)
    editor.name.setText("typo")
    editor.url.setText("ftp://example")
    editor.buttons.accepted.emit()
    assert "is not an http://" in editor.status.text()
    assert editor.isVisible() and rows(tab) == []


def use(qtbot: Any, window: MainWindow, name: str) -> None:
    """Choose an endpoint in Settings → Remote engines and press "Use for chat"."""
    window.show_remote_engines()
    dialog = window.settings_dialog
    assert dialog is not None and dialog.tabs.currentWidget() is dialog.endpoints_tab
    dialog.endpoints_tab.select(name)
    qtbot.mouseClick(dialog.endpoints_tab.use_button, Qt.MouseButton.LeftButton)
    dialog.close()


def ask(qtbot: Any, window: MainWindow, text: str, signal: Any) -> AssistantMessage:
    with qtbot.waitSignal(signal, timeout=WAIT_MS):
        window.composer.edit.setPlainText(text)
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    message = window.chat_view.messages[-1]
    assert isinstance(message, AssistantMessage)
    return message


def test_chat_through_a_remote_engine(
    qtbot: Any, window: MainWindow, stub: OpenAIStub, memory_keyring: Any
) -> None:
    endpoints.save_endpoint(Endpoint("stub", stub.url, "stub-model"))
    use(qtbot, window, "stub")
    assert window.remote is not None and window.controller.bridge is window.remote
    assert window.remote_label.text() == "Remote: stub (on this computer)"
    assert not window.answer_now_action.isEnabled()

    stub.script = REASONING_SCRIPT
    message = ask(qtbot, window, "What is 2+2?", window.controller.answer_finished)
    assert message.reasoning == "Two plus two is four."
    assert message.answer == "The answer is 4."
    conversation = window.controller.conversation_id
    assert conversation is not None
    stored = window.store.visible_messages(conversation)
    assert [(m.role, m.content, m.state) for m in stored] == [
        ("user", "What is 2+2?", "complete"),
        ("assistant", "The answer is 4.", "complete"),
    ]
    assert stored[1].reasoning == "Two plus two is four." and stored[1].model == "stub-model"
    assert stub.requests[-1]["messages"][-1] == {"role": "user", "content": "What is 2+2?"}

    # The server drops the connection mid-answer: what arrived stays, marked interrupted.
    stub.script = [{"reasoning_content": "Hmm."}, {"content": "Partly"}, ("drop",)]
    message = ask(qtbot, window, "And 3+3?", window.controller.busy_changed)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=WAIT_MS)
    assert message.answer == "Partly" and message.reasoning == "Hmm."
    last = window.store.visible_messages(conversation)[-1]
    assert (last.content, last.reasoning, last.state) == ("Partly", "Hmm.", "interrupted")

    window.use_local()
    assert window.controller.bridge is window.bridge and window.remote is None
    assert window.remote_label.isHidden()


def test_a_remote_engine_elsewhere_is_marked(
    qtbot: Any, window: MainWindow, memory_keyring: Any
) -> None:
    endpoints.save_endpoint(Endpoint("cloud", "https://llm.example.com/v1", "r1"), "sk-x")
    window.show_settings()
    tab = window.settings_dialog.endpoints_tab  # type: ignore[union-attr]
    assert rows(tab) == [["cloud", "https://llm.example.com/v1", "r1", LEAVES]]
    use(qtbot, window, "cloud")  # nothing connects until a question is sent
    assert window.remote_label.text() == "Remote: cloud (leaves this computer)"
    assert "color" in window.remote_label.styleSheet()
    assert window.remote_label.isVisible()


@pytest.mark.slow
def test_serve_the_loaded_model(
    qtbot: Any, window: MainWindow, smollm2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=1))
    assert not window.serve_action.isEnabled()
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        window.load_starter()
    assert window.serve_action.isEnabled()
    window.serve_action.trigger()
    server = window.server
    assert server is not None and server.running and server.host == "127.0.0.1"
    assert window.serve_label.text() == f"Serving at {server.url}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(server.url + "/models", timeout=10) as response:
        listed = json.load(response)
    assert [m["id"] for m in listed["data"]] == [server.model_name]

    window.serve_action.trigger()
    assert window.server is None and not server.running and window.serve_label.isHidden()
    with pytest.raises(OSError):
        opener.open(server.url + "/models", timeout=5)
