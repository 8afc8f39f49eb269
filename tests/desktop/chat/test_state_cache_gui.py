"""The KV state cache through the real window, on the real engine and SmolLM2: coming back to a
chat says its history came from the cache; deleting a chat deletes its saved states; Settings →
Cache sets the disk space and clears the cache."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

import desktop.window.main_window as main_window
from desktop.window.main_window import MainWindow
from model_runtime import paths
from model_runtime.chat.generation import LoadRequest, chat_cache_tag
from model_runtime.engine.cache_settings import DEFAULT_DISK_BYTES, load_cache_settings
from model_runtime.engine.kv_entries import Entry, as_tokens
from model_runtime.engine.kv_files import SUFFIX, tag_in_name, usage, write_state_file
from model_runtime.engine.kv_key import StateKey
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.units import GIB, size_text
from tests.desktop.window.test_chat_window import ENGINE_THREADS, GREEDY, LOAD_MS, ask

NOTES = "My notes: " + " ".join(f"shelf {i} holds {i * 3} books." for i in range(30))
SIMULATED = HardwareInfo(CpuInfo("Simulated CPU", 2, 2), ram_total=8 * GIB, ram_available=4 * GIB)


def tags() -> list[str]:
    folder = paths.kv_cache_dir()
    return sorted(tag_in_name(p.name) for p in folder.iterdir() if p.name.endswith(SUFFIX))


@pytest.fixture
def loaded(
    open_window: Callable[..., MainWindow], qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> MainWindow:
    monkeypatch.setattr(
        main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=ENGINE_THREADS)
    )
    window = open_window()
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        window.load_starter()
    window.controller.params = GREEDY
    return window


@pytest.mark.slow
def test_coming_back_to_a_chat_says_its_history_came_from_the_cache(
    loaded: MainWindow, qtbot: Any
) -> None:
    window = loaded
    _, first = ask(qtbot, window, NOTES + " Which shelf holds 30 books?")
    notes_chat = window.controller.conversation_id
    assert "restored" not in window.status.speed_label.text()
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    ask(qtbot, window, "Name a colour.")
    colour_chat = window.controller.conversation_id
    window.open_conversation(notes_chat)
    _, stats = ask(qtbot, window, "And which holds 60 books?")
    assert stats.n_restored >= first.n_prompt - 1
    restored = f"history restored from cache ({stats.n_restored:,} tokens)"
    assert restored in window.status.speed_label.text().split(" · ")  # speculation may follow

    # deleting a chat deletes what was kept of it (the engine's memory and its files)
    assert notes_chat is not None and colour_chat is not None
    qtbot.waitUntil(lambda: chat_cache_tag(notes_chat) in tags(), timeout=10_000)
    window.sidebar.delete(notes_chat)
    qtbot.waitUntil(lambda: chat_cache_tag(notes_chat) not in tags(), timeout=10_000)
    assert chat_cache_tag(colour_chat) in tags()


def test_the_cache_tab_sets_the_disk_space_and_clears_the_cache(
    open_window: Callable[..., MainWindow], qtbot: Any, tmp_path: Path
) -> None:
    """No model loaded (no engine running): Clear deletes the files all the same."""
    window = open_window(hardware=SIMULATED)  # the settings' hardware tab probes nothing
    key = StateKey.of({"model": json.dumps([[str(tmp_path / "m.gguf"), 1, 1]])})
    for chat in (1, 2):
        state = Entry(as_tokens(range(40)), chat_cache_tag(chat), 4096, blob=bytearray(4096))
        write_state_file(paths.kv_cache_dir(), key, state)
    dialog = window.show_settings()
    tab = dialog.cache_tab
    dialog.tabs.setCurrentWidget(tab)
    count, size = usage(paths.kv_cache_dir())
    assert count == 2
    expected = f"2 saved states, {size_text(size)} on disk."
    qtbot.waitUntil(lambda: tab.usage.text() == expected, timeout=5000)
    assert tab.enabled.isChecked() and tab.disk_size.value() == DEFAULT_DISK_BYTES / GIB
    assert str(paths.kv_cache_dir()) in tab.intro.text()

    tab.disk_size.setValue(1.5)
    assert load_cache_settings().disk_bytes == int(1.5 * GIB)
    assert tab.note.text() == "Saved. It applies from the next model load."
    tab.enabled.setChecked(False)
    assert not load_cache_settings().enabled

    with qtbot.waitSignal(tab.cleared, timeout=10_000):
        qtbot.mouseClick(tab.clear_button, Qt.MouseButton.LeftButton)
    assert tags() == []
    qtbot.waitUntil(lambda: tab.usage.text() == "Nothing is kept on disk now.", timeout=5000)
    assert tab.note.text() == "The cache is empty." and tab.clear_button.isEnabled()
    dialog.close()
