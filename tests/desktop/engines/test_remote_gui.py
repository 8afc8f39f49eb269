"""Remote engines in the window: the Settings tab, chatting through one, serving the loaded model.

The remote side is the scripted loopback stub (tests/openai_stub.py): it makes drops and
refusals on demand. Serving uses the real SmolLM2.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox

import desktop.window.main_window as main_window
from desktop.chat.messages import AssistantMessage
from desktop.engines.bridge import EngineBridge
from desktop.engines.endpoints_tab import LEAVES, STAYS, EndpointsTab
from desktop.engines.serve_tab import ServeTab
from desktop.window.main_window import MainWindow
from model_runtime import netlog
from model_runtime.chat.generation import LoadRequest
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.serving import endpoints
from model_runtime.serving.endpoints import Endpoint
from model_runtime.serving.settings import (
    ServeSettings,
    load_serve_settings,
    save_serve_settings,
    serve_api_key,
)
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
    assert editor.status.text() == "The server offers 2 models."
    stub.models = ["deepseek-r1"]
    with qtbot.waitSignal(editor.fetcher.done, timeout=WAIT_MS):
        qtbot.mouseClick(editor.fetch_button, Qt.MouseButton.LeftButton)
    assert editor.status.text() == "The server offers 1 model."  # not "1 model(s)"
    stub.models = ["deepseek-r1", "other"]
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
    assert tab.result.text() == "Connected. It offers 2 models: deepseek-r1, other."

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
    remote = window.engines.remote
    assert remote is not None and window.controller.bridge is remote
    assert window.status.remote_label.text() == "Remote: stub (on this computer)"
    assert not window.commands.answer_now.isEnabled()

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

    window.commands.use_local.trigger()
    assert window.controller.bridge is window.bridge and window.engines.remote is None
    assert window.status.remote_label.isHidden()
    assert endpoints.chosen_endpoint() is None  # and so at the next start


def test_a_remote_engine_elsewhere_is_marked(
    qtbot: Any, window: MainWindow, memory_keyring: Any
) -> None:
    endpoints.save_endpoint(Endpoint("cloud", "https://llm.example.com/v1", "r1"), "sk-x")
    window.show_settings()
    tab = window.settings_dialog.endpoints_tab  # type: ignore[union-attr]
    assert rows(tab) == [["cloud", "https://llm.example.com/v1", "r1", LEAVES]]
    use(qtbot, window, "cloud")  # nothing connects until a question is sent
    assert window.status.remote_label.text() == "Remote: cloud (leaves this computer)"
    assert window.status.remote_label.property("warning") is True  # the theme colours it
    assert window.status.remote_label.isVisible()


def get_json(url: str, key: str | None = None) -> Any:
    """GET through no proxy, with the key if given."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with opener.open(request, timeout=10) as response:
        return json.load(response)


def test_the_chosen_remote_engine_is_used_again_after_a_restart(
    qtbot: Any, stub: OpenAIStub, memory_keyring: Any
) -> None:
    endpoints.save_endpoint(Endpoint("stub", stub.url, "stub-model"))
    first = MainWindow(EngineBridge(), hardware=HW)
    qtbot.addWidget(first)
    first.show()
    use(qtbot, first, "stub")
    first.close()

    again = MainWindow(EngineBridge(), hardware=HW)  # the next start
    qtbot.addWidget(again)
    again.show()
    assert again.engines.remote is not None and again.engines.remote.name == "stub"
    assert again.status.remote_label.text() == "Remote: stub (on this computer)"
    assert again.pages.currentWidget() is again.chat_view
    assert again.composer.edit.isEnabled() and again.commands.use_local.isEnabled()
    assert again.status.model_label.text() == "No local model loaded"
    assert stub.connections == 0  # restoring the choice asked the server nothing
    stub.script = REASONING_SCRIPT
    message = ask(qtbot, again, "What is 2+2?", again.controller.answer_finished)
    assert message.answer == "The answer is 4."
    again.close()

    endpoints.remove_endpoint("stub")  # gone since: the next start uses the local model
    third = MainWindow(EngineBridge(), hardware=HW)
    qtbot.addWidget(third)
    assert third.engines.remote is None and third.status.remote_label.isHidden()
    third.close()


def test_the_model_manager_lists_remote_engines_beside_local_models(
    qtbot: Any, window: MainWindow, stub: OpenAIStub, memory_keyring: Any
) -> None:
    endpoints.save_endpoint(Endpoint("stub", stub.url, "stub-model"))
    endpoints.save_endpoint(Endpoint("cloud", "https://llm.example.com/v1", "r1"))
    window.show_model_manager()
    manager = window.model_manager
    assert manager is not None
    tabs = [manager.tabs.tabText(i) for i in range(manager.tabs.count())]
    assert tabs.index("Remote engines") == tabs.index("On this computer") + 1
    manager.tabs.setCurrentWidget(manager.remote_tab)
    tab = manager.remote_tab
    assert rows(tab) == [
        ["stub", stub.url, "stub-model", STAYS],
        ["cloud", "https://llm.example.com/v1", "r1", LEAVES],
    ]
    tab.select("stub")
    qtbot.mouseClick(tab.use_button, Qt.MouseButton.LeftButton)
    assert window.engines.remote is not None and window.engines.remote.name == "stub"
    assert tab.use_button.text() == "In use for chat" and not tab.use_button.isEnabled()
    assert tab.table.item(0, 0).font().bold() and not tab.table.item(1, 0).font().bold()
    tab.select("cloud")
    assert tab.use_button.isEnabled() and tab.use_button.text() == "Use for chat"
    manager.close()


def test_adding_an_endpoint_under_a_taken_name_changes_nothing(
    tab: EndpointsTab, memory_keyring: Any
) -> None:
    endpoints.save_endpoint(Endpoint("lab", "http://127.0.0.1:8080"), "k1")
    tab.refresh()
    editor = tab.edit(None)
    editor.name.setText("lab")
    editor.url.setText("http://127.0.0.1:9999")
    editor.key.setText("other")
    editor.buttons.accepted.emit()
    assert editor.status.text() == "There is already a remote engine named 'lab'."
    assert rows(tab) == [["lab", "http://127.0.0.1:8080/v1", "(first offered)", STAYS]]
    assert memory_keyring.passwords == {("ponder", "endpoint:lab"): "k1"}

    renamed = tab.edit(tab.endpoints[0])  # a rename keeps the key
    renamed.name.setText("box")
    renamed.buttons.accepted.emit()
    assert [r[0] for r in rows(tab)] == ["box"]
    assert memory_keyring.passwords == {("ponder", "endpoint:box"): "k1"}


@pytest.mark.slow
def test_serve_the_loaded_model(
    qtbot: Any,
    window: MainWindow,
    smollm2: Path,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: Any,
) -> None:
    monkeypatch.setattr(main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=1))
    assert not window.commands.serve.isEnabled()
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        window.load_starter()
    assert window.commands.serve.isEnabled()
    window.commands.serve.trigger()
    server = window.serving.server
    assert server is not None and server.running and server.host == "127.0.0.1"
    assert server.port in range(8080, 8090) and server.api_key is None
    assert window.status.serve_label.text() == f"Serving at {server.url}"
    assert window.status.serve_label.property("warning") is not True
    assert get_json(server.url + "/models")["data"][0]["id"] == server.model_name

    # Another load: serving pauses while it loads, and goes on with the new model.
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        window.load_starter()
        assert window.serving.server is None and not server.running
        assert window.status.serve_label.text() == "Serving resumes when a model is loaded"
    server = window.serving.server
    assert server is not None and server.running and window.commands.serve.isChecked()
    assert window.status.serve_label.text() == f"Serving at {server.url}"
    assert get_json(server.url + "/models")["object"] == "list"

    # Settings → Serving: a key and another port; the running server starts again with them.
    window.show_settings()
    tab = window.settings_dialog.serve_tab  # type: ignore[union-attr]
    assert tab.local.isChecked() and not tab.require_key.isChecked()
    tab.port.setValue(server.port + 1)
    tab.port.editingFinished.emit()
    qtbot.mouseClick(tab.require_key, Qt.MouseButton.LeftButton)
    key = serve_api_key()
    assert key is not None and memory_keyring.passwords == {("ponder", "serve:api-key"): key}
    keyed = window.serving.server
    assert keyed is not None and keyed is not server and not server.running
    assert keyed.api_key == key and keyed.port >= server.port + 1
    assert window.status.serve_label.text() == f"Serving at {keyed.url} (API key required)"
    with pytest.raises(urllib.error.HTTPError) as refused:
        get_json(keyed.url + "/models")
    assert refused.value.code == 401
    assert get_json(keyed.url + "/models", key)["data"][0]["id"] == keyed.model_name
    qtbot.mouseClick(tab.show_key, Qt.MouseButton.LeftButton)
    assert tab.key.text() == key and tab.key.echoMode() == QLineEdit.EchoMode.Normal

    # For other computers: refused in offline mode (said, nothing served), then allowed.
    netlog.set_offline(True)
    tab.network.setChecked(True)
    assert window.serving.server is None and not window.commands.serve.isChecked()
    assert window.status.serve_label.isHidden() and not keyed.running
    assert window.banner.label.text().startswith("The model can't be served. ")
    assert "offline" in window.banner.label.text().lower()
    netlog.set_offline(False)
    tab.local.setChecked(True)
    window.commands.serve.trigger()
    assert window.serving.server is not None
    # Every address, the key kept, and a marked status bar.
    tab.network.setChecked(True)
    wide = window.serving.server
    assert wide is not None and wide.host == "0.0.0.0" and wide.api_key == key
    assert not tab.warning.isHidden() and window.status.serve_label.property("warning") is True
    assert window.status.serve_label.text().startswith("⚠ Serving to the network on port")
    assert get_json(f"http://127.0.0.1:{wide.port}/v1/models", key)["object"] == "list"
    tab.local.setChecked(True)

    window.commands.serve.trigger()
    assert window.serving.server is None and window.status.serve_label.isHidden()
    with pytest.raises(OSError):
        get_json(server.url + "/models")


@pytest.fixture
def no_key_store() -> Iterator[None]:
    """keyring's own "no backend" keyring, as on a headless Linux without Secret Service."""
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    before = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    try:
        yield
    finally:
        keyring.set_keyring(before)


def answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    """Make QMessageBox.question answer `button`; returns the questions asked."""
    asked: list[str] = []

    def question(parent: object, title: str, text: str, *args: object) -> object:
        asked.append(text)
        return button

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def test_without_a_key_store_the_key_lives_in_memory_and_the_network_asks_first(
    qtbot: Any, ponder_home: Path, monkeypatch: pytest.MonkeyPatch, no_key_store: None
) -> None:
    tab = ServeTab()
    qtbot.addWidget(tab)
    tab.show()
    assert tab.store_note.isVisible()
    assert tab.store_note.text().startswith("⚠ No secure key store is available on this system")
    assert "kept in memory only while Ponder runs" in tab.store_note.text()
    assert not any("backend" in label.text() for label in tab.findChildren(QLabel))

    tab.require_key.setChecked(True)  # a key can be required: one kept while Ponder runs
    key = serve_api_key()
    assert key is not None and tab.require_key.isChecked() and tab.new_key.isEnabled()
    assert tab.status.text() == (
        "Saved. A running server uses it now. The API key is kept until Ponder quits."
    )
    assert load_serve_settings() == ServeSettings(require_key=True)
    assert not [p for p in ponder_home.rglob("*") if p.is_file() and key in p.read_text()]

    asked = answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    tab.network.setChecked(True)  # other computers: asked first, and declined
    assert len(asked) == 1 and "Serve the model to other computers with such a key?" in asked[0]
    assert tab.local.isChecked() and not load_serve_settings().network

    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)
    tab.network.setChecked(True)
    assert len(asked) == 1
    assert load_serve_settings() == ServeSettings(network=True, require_key=True)
    assert tab.require_key.isChecked() and not tab.require_key.isEnabled()  # always a key
    assert "always need the API key" in tab.require_key.toolTip()
    assert serve_api_key() == key


@pytest.mark.slow
def test_without_a_key_store_serving_other_computers_asks_and_requires_a_fresh_key(
    qtbot: Any,
    window: MainWindow,
    monkeypatch: pytest.MonkeyPatch,
    no_key_store: None,
) -> None:
    # Saved by an earlier run: other computers, no key (its key ended with that run).
    save_serve_settings(ServeSettings(network=True, require_key=False))
    monkeypatch.setattr(main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=1))
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        window.load_starter()

    asked = answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    window.commands.serve.trigger()
    assert len(asked) == 1 and window.serving.server is None
    assert not window.commands.serve.isChecked() and window.banner.isHidden()
    assert serve_api_key() is None

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    window.commands.serve.trigger()
    server = window.serving.server
    key = serve_api_key()
    assert server is not None and server.host == "0.0.0.0"
    assert key is not None and server.api_key == key  # never served without one
    assert "until Ponder quits" in window.status.serve_label.toolTip()
    with pytest.raises(urllib.error.HTTPError) as refused:
        get_json(f"http://127.0.0.1:{server.port}/v1/models")
    assert refused.value.code == 401
    assert get_json(f"http://127.0.0.1:{server.port}/v1/models", key)["object"] == "list"
    window.commands.serve.trigger()
    assert window.serving.server is None


@pytest.mark.slow
def test_the_chat_waits_for_a_served_request_and_its_stop_spares_it(
    qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=1))
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        window.load_starter()
    window.commands.serve.trigger()
    server = window.serving.server
    assert server is not None
    body = json.dumps(
        {"model": "x", "max_tokens": 120, "temperature": 0, "seed": 1,
         "messages": [{"role": "user", "content": "Count from one to fifty in words."}]}
    ).encode()  # fmt: skip
    served: list[dict[str, Any]] = []

    def program() -> None:  # another program on this computer asks the served model
        request = urllib.request.Request(
            server.url + "/chat/completions", body, {"Content-Type": "application/json"}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=120) as response:
            served.append(json.load(response))

    thread = threading.Thread(target=program)
    thread.start()
    qtbot.waitUntil(lambda: server.turns.busy, timeout=WAIT_MS)
    window.composer.edit.setPlainText("Hello!")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    assert window.controller.busy
    assert window.status.speed_label.text() == "Generating… (after a request from another program)"
    window.commands.stop.trigger()  # the chat's Stop, while its answer waits for its turn
    thread.join(120)
    (reply,) = served
    assert reply["choices"][0]["finish_reason"] == "length"  # not cut short by the chat's Stop
    assert reply["usage"]["completion_tokens"] == 120
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.serving.answered == 1, timeout=WAIT_MS)
    assert window.status.serve_label.text() == f"Serving at {server.url} · 1 answer served"
    message = window.chat_view.messages[-1]
    assert isinstance(message, AssistantMessage) and message.answer == ""  # stopped unwritten


@pytest.mark.slow
def test_an_engine_that_dies_while_serving_is_the_windows_crash(
    qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server hears of the death first (between requests): the window says it and offers
    the reload, serving pauses, and goes on after the reload."""
    import os
    import signal

    monkeypatch.setattr(main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=1))
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        window.load_starter()
    window.commands.serve.trigger()
    server = window.serving.server
    assert server is not None and window.bridge.client.pid is not None
    with qtbot.waitSignal(window.bridge.crashed, timeout=WAIT_MS) as crashed:
        os.kill(window.bridge.client.pid, signal.SIGKILL)
    assert "SIGKILL" in str(crashed.args[0])
    assert window.serving.server is None and not server.running
    assert window.status.serve_label.text() == "Serving resumes when a model is loaded"
    assert window.banner.label.text().startswith("The engine stopped")
    assert window.commands.reload.isEnabled()
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        window.reload_model()
    resumed = window.serving.server
    assert resumed is not None and resumed.running
    assert get_json(resumed.url + "/models")["object"] == "list"
