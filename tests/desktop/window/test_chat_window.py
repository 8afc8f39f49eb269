"""The main window end to end: pytest-qt drives the real engine process on the real SmolLM2."""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtWidgets import QApplication, QMessageBox

import desktop.window.main_window as main_window
from desktop.chat.messages import AssistantMessage, UserMessage
from desktop.chat.sidebar_rows import DETAIL_ROLE
from desktop.engines.bridge import EngineBridge
from desktop.window.main_window import MainWindow
from model_runtime.chat.generation import (
    Chunk,
    Finished,
    GenerationParams,
    GenerationStats,
    LoadRequest,
)
from model_runtime.models.starter import STARTER_NAME
from tests.conftest import THINK_GRAMMAR

LOAD_MS = 60_000  # generous: CI runs on 2 slow cores
ANSWER_MS = 60_000
ENGINE_THREADS = 1
GREEDY = GenerationParams(max_tokens=40, temperature=0.0, seed=1)
LONG = GenerationParams(max_tokens=2000, temperature=1.0, seed=5)
THINKING = GenerationParams(max_tokens=120, temperature=0.7, seed=3, grammar=THINK_GRAMMAR)


class ChunkSpy:
    """Records every chunk the bridge emits, and how the current answer looked after it."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.chunks: list[tuple[int, str, str]] = []
        self.answer_lengths: list[int] = []
        # connected after the controller, so the message has already taken the chunk
        window.bridge.chunk.connect(self._on_chunk)

    def _on_chunk(self, gen_id: int, kind: str, text: str) -> None:
        self.chunks.append((gen_id, kind, text))
        message = self.window.controller._current
        if message is not None:
            self.answer_lengths.append(len(message.answer))

    def text(self, gen_id: int, kind: str) -> str:
        return "".join(t for g, k, t in self.chunks if g == gen_id and k == kind)


@pytest.fixture
def window(qtbot: Any) -> Iterator[MainWindow]:
    """A shown main window with its own engine bridge; no worker process outlives it."""
    bridge = EngineBridge()
    win = MainWindow(bridge)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    yield win
    win.close()
    bridge.shutdown()
    assert not bridge.client.alive
    assert multiprocessing.active_children() == []


@pytest.fixture
def loaded(
    window: MainWindow, qtbot: Any, smollm2: Path, monkeypatch: pytest.MonkeyPatch
) -> MainWindow:
    """The window after the starter model (the real SmolLM2) was loaded from the welcome panel.

    Every load from the window uses one engine thread: with one per core (the default) on a
    shared 2-core runner, llama.cpp's spinning threads starve each other and the GUI (seconds
    per token); one thread answers at a steady pace.
    """
    monkeypatch.setattr(
        main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=ENGINE_THREADS)
    )
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS) as loaded:
        qtbot.mouseClick(window.welcome.starter_button, Qt.MouseButton.LeftButton)
    assert loaded.args[0].n_threads == ENGINE_THREADS
    window.controller.params = GREEDY
    return window


def type_and_send(qtbot: Any, window: MainWindow, text: str) -> None:
    edit = window.composer.edit
    edit.setFocus()
    edit.setPlainText(text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def ask(qtbot: Any, window: MainWindow, text: str) -> tuple[AssistantMessage, GenerationStats]:
    """Send a question through the composer and wait for its whole answer."""
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS) as done:
        type_and_send(qtbot, window, text)
    message = window.chat_view.messages[-1]
    assert isinstance(message, AssistantMessage)
    return message, done.args[0]


def last_assistant(window: MainWindow) -> AssistantMessage:
    message = window.chat_view.messages[-1]
    assert isinstance(message, AssistantMessage)
    return message


# -- start, load, send ------------------------------------------------------------------


@pytest.mark.slow
def test_welcome_then_starter_model_loads(window: MainWindow, qtbot: Any, smollm2: Path) -> None:
    assert window.pages.currentWidget() is window.welcome
    assert window.welcome.isVisible()
    assert not window.composer.button.isEnabled()
    assert window.status.model_label.text() == "No model loaded"
    # Enter does nothing without a model
    type_and_send(qtbot, window, "Hello?")
    assert window.chat_view.messages == []
    assert window.controller.messages == []

    assert window.welcome.starter_button.isEnabled()
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS) as loaded:
        qtbot.mouseClick(window.welcome.starter_button, Qt.MouseButton.LeftButton)
        # while it loads (the worker process takes a second to start)
        assert not window.composer.button.isEnabled()
        assert not window.welcome.starter_button.isEnabled()
        assert window.status.model_label.text() == f"Loading {window.starter_path.name} …"
        assert not window.status.progress.isHidden()
    assert loaded.args[0].path == str(smollm2)
    assert window.bridge.last_request == window.loader.plan.to_load_request()  # as planned
    assert window.status.model_label.text().startswith(STARTER_NAME)
    assert "Q4_1" in window.status.model_label.text()
    assert window.composer.button.isEnabled()
    assert window.composer.button.text() == "Send"
    assert window.welcome.starter_button.isEnabled()
    assert not window.status.progress.isVisible()
    assert not window.banner.isVisible()


@pytest.mark.slow
def test_enter_sends_and_the_answer_streams(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    spy = ChunkSpy(window)
    edit = window.composer.edit

    # Shift+Enter adds a line and sends nothing
    edit.setFocus()
    qtbot.keyClicks(edit, "What is the capital")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(edit, "of France?")
    assert edit.toPlainText() == "What is the capital\nof France?"
    assert window.chat_view.messages == []

    with qtbot.waitSignal(window.controller.busy_changed, timeout=5000):
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert edit.toPlainText() == ""
    assert window.pages.currentWidget() is window.chat_view
    user, message = window.chat_view.messages
    assert isinstance(user, UserMessage) and user.text == "What is the capital\nof France?"
    assert isinstance(message, AssistantMessage) and message.streaming
    assert window.composer.button.text() == "Stop"
    assert window.composer.button.toolTip() == "Stop the answer (Esc)"
    assert window.status.speed_label.text() == "Generating…"

    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS) as done:
        pass
    stats: GenerationStats = done.args[0]
    gen_id = message.model.gen_id

    # streamed: many chunks, and the answer grew with them
    assert len(spy.chunks) > 1
    assert {g for g, _, _ in spy.chunks} == {gen_id}
    assert len(set(spy.answer_lengths)) > 1
    assert spy.answer_lengths == sorted(spy.answer_lengths)
    assert message.answer == spy.text(gen_id, "answer")
    assert message.answer.strip()
    assert message.thinking is None  # SmolLM2 does not think by itself

    assert not message.streaming
    assert message.answer_view.isVisible()
    assert message.answer_view.toPlainText().strip() == message.answer.strip()
    assert stats.n_generated > 1 and stats.finish_reason in ("stop", "length")
    assert re.search(
        r"\d+ tokens · [\d.]+ tokens/s · first token after [\d.]+ s", message.status.text()
    )
    assert window.status.speed_label.text().endswith("tokens/s")
    assert window.composer.button.text() == "Send"
    assert window.composer.button.toolTip() == ""  # no longer "Stop the answer"
    assert window.controller.messages[0].content == "What is the capital\nof France?"
    assert window.controller.messages[1].role == "assistant"
    assert window.controller.messages[1].content == message.answer
    # the chat is filed under the starter's own name, not its file's "Smollm2 135M 8k Lc100K …"
    conversation = window.store.conversation(window.controller.conversation_id)
    assert conversation.model == STARTER_NAME
    assert STARTER_NAME in window.sidebar.items()[0].data(DETAIL_ROLE)[0].text

    # a second turn in the same chat
    second, _ = ask(qtbot, window, "And of Italy?")
    assert second.answer.strip()
    assert [m.role for m in window.controller.messages] == ["user", "assistant"] * 2
    assert len(window.chat_view.messages) == 4


# -- the thinking pane ------------------------------------------------------------------


@pytest.mark.slow
def test_thinking_pane_streams_then_collapses(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    window.controller.params = THINKING
    seen_while_thinking: list[tuple[bool, str, bool]] = []
    toggles: list[tuple[bool, bool, str]] = []  # expanded, still thinking, answer so far

    def on_chunk(_gen_id: int, kind: str, _text: str) -> None:
        message = window.controller._current
        if message is None or message.thinking is None:
            return
        pane = message.thinking
        if not seen_while_thinking:  # the pane was just made
            pane.toggled.connect(
                lambda expanded: toggles.append((expanded, pane.thinking, message.answer))
            )
        if kind == "thinking" and not message.answer:
            seen_while_thinking.append((pane.expanded, pane.header.text(), pane.body.isHidden()))

    window.bridge.chunk.connect(on_chunk)
    message, stats = ask(qtbot, window, "Why is the sky blue?")
    pane = message.thinking
    assert pane is not None

    # while thinking: expanded, its body shown, the header counting
    assert seen_while_thinking
    for expanded, header, body_hidden in seen_while_thinking:
        assert expanded and not body_hidden
        assert header.startswith("Thinking…")
    # it collapsed once, after the answer had started
    assert len(toggles) == 1
    expanded, still_thinking, answer_then = toggles[0]
    assert not expanded and not still_thinking and answer_then

    # after the answer: collapsed, with a summary
    assert pane.isVisible()
    assert not pane.expanded and not pane.body.isVisible()
    assert stats.n_thinking > 0
    match = re.fullmatch(
        r"Thought for ([\d.]+ s|\d+ min \d+ s) · ([\d,]+) tokens( · \d+ tokens/s)?",
        pane.header.text(),
    )
    assert match, pane.header.text()
    assert int(match.group(2).replace(",", "")) == stats.n_thinking

    # the reasoning is in the pane, and only there
    reasoning = message.reasoning.strip()
    assert len(reasoning) >= 20
    answer_text = message.answer_view.toPlainText()
    assert answer_text.strip() and reasoning not in answer_text
    assert message.answer.strip() not in reasoning
    for text in (pane.text(), answer_text, message.answer, message.reasoning):
        assert "<think>" not in text and "</think>" not in text
    assert window.controller.messages[-1].reasoning == message.reasoning
    assert window.controller.messages[-1].content == message.answer

    # the header toggles the reasoning
    qtbot.mouseClick(pane.header, Qt.MouseButton.LeftButton)
    assert pane.expanded and pane.body.isVisible()
    assert pane.text().strip() == reasoning
    assert pane.header.text().startswith("Thought for ")
    qtbot.mouseClick(pane.header, Qt.MouseButton.LeftButton)
    assert not pane.expanded and not pane.body.isVisible()


# -- stop -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("how", ["escape", "button"])
def test_stop_mid_answer(loaded: MainWindow, qtbot: Any, how: str) -> None:
    window = loaded
    window.controller.params = LONG
    spy = ChunkSpy(window)
    type_and_send(qtbot, window, "Write a very long story about a cat.")
    message = last_assistant(window)
    qtbot.waitUntil(lambda: len(spy.chunks) >= 5, timeout=ANSWER_MS)
    assert window.composer.button.text() == "Stop"
    assert window.composer.button.isEnabled()
    # Enter does not send while an answer streams; the text waits in the box
    qtbot.keyClicks(window.composer.edit, "Next question")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    assert window.composer.edit.toPlainText() == "Next question"
    assert len(window.chat_view.messages) == 2
    window.composer.edit.clear()

    with qtbot.waitSignal(window.bridge.finished, timeout=ANSWER_MS) as finished:
        if how == "escape":
            qtbot.keyClick(window.composer.edit, Qt.Key.Key_Escape)
        else:
            qtbot.mouseClick(window.composer.button, Qt.MouseButton.LeftButton)
    gen_id, stats = finished.args
    assert gen_id == message.model.gen_id
    assert stats.finish_reason == "cancelled"
    assert stats.n_generated < 200  # stopped long before max_tokens
    assert not window.controller.busy
    assert window.composer.button.text() == "Send"
    assert message.status.text().startswith("Stopped")
    assert message.answer and message.answer == spy.text(gen_id, "answer")
    assert window.controller.messages[-1].content == message.answer  # the partial answer stays

    window.controller.params = GREEDY
    second, after = ask(qtbot, window, "Say hi.")
    assert second is not message
    assert after.finish_reason in ("stop", "length") and second.answer.strip()


# -- Markdown answers (the widget API, no model) ----------------------------------------


def stream(message: AssistantMessage, kind: str, text: str) -> None:
    """What the controller does with a chunk: the Answer takes it, the widget paints it."""
    message.model.add(Chunk(message.model.gen_id, kind, text))  # type: ignore[arg-type]
    message.add_chunk(kind, text)


def finish(message: AssistantMessage, stats: GenerationStats) -> None:
    message.model.add(Finished(message.model.gen_id, stats))
    message.finish()


CODE = 'def greet(name):\n    return f"hello {name}"'
CODE_ANSWER = f"Here is a function:\n\n```python\n{CODE}\n```\n\nCall it with a **name**."


def test_code_answer_is_highlighted_and_copyable(window: MainWindow, qtbot: Any) -> None:
    window.pages.setCurrentWidget(window.chat_view)
    message = window.chat_view.add_assistant_message()
    for piece in re.findall(r".{1,7}", CODE_ANSWER, flags=re.DOTALL):  # token-sized pieces
        stream(message, "answer", piece)
    qtbot.waitUntil(message.answer_view.isVisible, timeout=5000)
    finish(message, GenerationStats(n_generated=30, tokens_per_second=42.0, ttft_seconds=0.1))

    view = message.answer_view
    assert message.answer == CODE_ANSWER
    text = view.toPlainText()
    assert "Here is a function:" in text and "```" not in text and "**" not in text
    html = view.toHtml()
    assert "ponder-copy:0" in html
    # Pygments colours: the code's fragments are painted in more than one colour
    colours = set()
    block = view.document().begin()
    while block.isValid():
        if block.text() and block.text() in CODE:
            it = block.begin()
            while not it.atEnd():
                colours.add(it.fragment().charFormat().foreground().color().name())
                it += 1
        block = block.next()
    assert len(colours) >= 2, colours
    assert re.search(r"color:#[0-9a-f]{6}", html)
    assert message.status.text() == "30 tokens · 42.0 tokens/s · first token after 0.10 s"

    # a real click on the "Copy" link copies exactly the code
    QGuiApplication.clipboard().clear()
    position = view.toPlainText().index("Copy") + 2
    cursor = QTextCursor(view.document())
    cursor.setPosition(position)
    with qtbot.waitSignal(view.code_copied, timeout=2000) as copied:
        qtbot.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, pos=view.cursorRect(cursor).center()
        )
    assert copied.args == [0]
    assert QGuiApplication.clipboard().text() == CODE


def test_thinking_pane_collapses_when_the_answer_starts(window: MainWindow, qtbot: Any) -> None:
    """It collapses at the first answer text, not at the end; a pane reopened by hand stays open.

    Driven through the widget API: with a real stream, how many repaints fall between the first
    answer token and the last depends on the machine's speed.
    """
    window.pages.setCurrentWidget(window.chat_view)
    message = window.chat_view.add_assistant_message()
    stream(message, "thinking", "Let me think about ")
    stream(message, "thinking", "this carefully.")
    pane = message.thinking
    assert pane is not None and pane.expanded and pane.thinking
    qtbot.waitUntil(lambda: pane.text() == "Let me think about this carefully.", timeout=2000)
    assert pane.header.text().startswith("Thinking…")
    stream(message, "answer", "The answer")
    qtbot.waitUntil(lambda: not pane.expanded, timeout=2000)
    assert message.streaming and not pane.thinking
    assert pane.header.text().startswith("Thought for ")
    qtbot.mouseClick(pane.header, Qt.MouseButton.LeftButton)  # the reader opens it again
    assert pane.expanded
    stream(message, "answer", " is 42.")
    finish(message, GenerationStats(n_generated=9, n_thinking=6))
    assert pane.header.text().endswith(" · 6 tokens")
    assert pane.expanded
    assert message.answer_view.toPlainText() == "The answer is 42."


# -- engine crash -----------------------------------------------------------------------


@pytest.mark.slow
def test_engine_crash_mid_answer_is_survivable(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    window.controller.params = GenerationParams(max_tokens=2000, temperature=1.0, seed=9)
    spy = ChunkSpy(window)
    type_and_send(qtbot, window, "Write a long poem.")
    message = last_assistant(window)
    qtbot.waitUntil(lambda: len(spy.chunks) >= 4, timeout=ANSWER_MS)
    pid = window.bridge.client.pid
    assert pid is not None

    # a timer on the GUI thread keeps firing: nothing there waits for the dead process
    ticks: list[float] = []
    timer = QTimer(window)
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    qtbot.waitUntil(lambda: len(ticks) >= 2, timeout=2000)
    with qtbot.waitSignals([window.bridge.failed, window.bridge.crashed], timeout=20_000):
        os.kill(pid, signal.SIGKILL)
    crashed_at = time.monotonic()
    qtbot.waitUntil(lambda: len(ticks) > 2 and ticks[-1] > crashed_at + 0.05, timeout=2000)
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert max(gaps) < 1.0, max(gaps)  # the client waits up to 2 s for a dying worker
    timer.stop()
    edit = window.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "still here")
    assert edit.toPlainText() == "still here"

    # the message keeps what streamed and says what happened
    partial = spy.text(message.model.gen_id, "answer")
    assert partial.strip()
    assert message.answer == partial
    assert message.answer_view.isVisible() and message.answer_view.toPlainText().strip()
    assert "The engine stopped" in message.status.text()
    assert "SIGKILL" in message.status.text()
    assert not window.controller.busy
    assert window.composer.button.text() == "Send"
    assert not window.composer.button.isEnabled()  # no model until it is reloaded
    assert window.status.model_label.text() == "No model loaded"
    assert window.status.speed_label.text() == ""  # not "Generating…" forever

    # the banner offers a reload, and the reload works
    banner = window.banner
    assert banner.isVisible() and banner.reload_button.isVisible()
    assert banner.reload_button.text() == "Reload model"
    assert banner.label.text().startswith("The engine stopped.")
    assert "SIGKILL" in banner.label.text()
    assert QApplication.activeModalWidget() is None
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        qtbot.mouseClick(banner.reload_button, Qt.MouseButton.LeftButton)
    assert not banner.isVisible()
    assert window.bridge.client.alive and window.bridge.client.pid != pid
    assert window.status.model_label.text().startswith(STARTER_NAME)
    assert window.composer.button.isEnabled()

    window.controller.params = GREEDY
    edit.clear()
    answer, stats = ask(qtbot, window, "Say hi.")
    assert stats.n_generated > 0 and answer.answer.strip()
    history = window.controller.messages
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[0].content == "Write a long poem."
    assert history[1].content == partial
    assert history[2].content == "Say hi."
    assert history[3].content == answer.answer


@pytest.mark.slow
def test_engine_death_while_idle_shows_on_the_next_question(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    pid = window.bridge.client.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with qtbot.waitSignals([window.bridge.failed, window.bridge.crashed], timeout=20_000):
        type_and_send(qtbot, window, "Say hi.")
    message = last_assistant(window)
    assert "The engine stopped" in message.status.text()
    assert not message.answer
    assert window.controller.messages == []  # the question can be asked again
    assert window.banner.isVisible() and window.banner.reload_button.isVisible()
    assert window.composer.button.toolTip().startswith("The model stopped. Reload it")
    assert window.composer.notice.isVisible()  # said where it is seen, not only in a tooltip
    assert window.composer.notice.text().startswith("⚠ The model stopped. Reload it")
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        qtbot.mouseClick(window.banner.reload_button, Qt.MouseButton.LeftButton)
    answer, _ = ask(qtbot, window, "Say hi.")
    assert answer.answer.strip()


@pytest.mark.slow
def test_closing_mid_answer_stops_the_engine(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    window.controller.params = LONG
    spy = ChunkSpy(window)
    type_and_send(qtbot, window, "Write a very long story about a cat.")
    qtbot.waitUntil(lambda: len(spy.chunks) >= 3, timeout=ANSWER_MS)
    process = window.bridge.client._process
    window.close()
    assert not window.isVisible()
    assert not process.is_alive() and process.exitcode == 0  # shut down, not killed
    assert window.bridge.client.pid is None


@pytest.mark.slow
def test_too_long_a_question_is_refused_in_the_message(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    n_ctx = window.bridge.summary.n_ctx
    with qtbot.waitSignal(window.bridge.failed, timeout=ANSWER_MS):
        type_and_send(qtbot, window, "lorem ipsum " * n_ctx)
    message = last_assistant(window)
    assert message.status.text().startswith("⚠ The conversation is too long:")
    assert f"{n_ctx:,}" in message.status.text()
    assert not window.banner.isVisible()  # the engine is fine; nothing to reload
    assert window.controller.messages == []
    assert window.status.speed_label.text() == ""
    assert window.composer.button.text() == "Send" and window.composer.button.isEnabled()
    answer, _ = ask(qtbot, window, "Say hi.")
    assert answer.answer.strip()
    assert [m.role for m in window.controller.messages] == ["user", "assistant"]


# -- bad model files --------------------------------------------------------------------


def load_and_fail(qtbot: Any, window: MainWindow, path: Path) -> str:
    with qtbot.waitSignal(window.bridge.load_failed, timeout=LOAD_MS):
        window.load_model(str(path))
    banner = window.banner
    assert banner.isVisible() and not banner.reload_button.isVisible()
    assert QApplication.activeModalWidget() is None
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    return banner.label.text()


@pytest.mark.slow
def test_bad_files_keep_the_loaded_model(
    loaded: MainWindow, qtbot: Any, smollm2: Path, tmp_path: Path
) -> None:
    window = loaded
    label = window.status.model_label.text()
    notes = tmp_path / "notes.gguf"
    notes.write_text("these are my notes, not a model\n" * 100)
    cut = tmp_path / "cut.gguf"
    with open(smollm2, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(30_000_000))  # an interrupted download

    message = load_and_fail(qtbot, window, tmp_path / "missing.gguf")
    assert message.startswith("This model can't be used.")
    assert re.search(r"not found|does not exist|No such", message)
    assert "missing.gguf" in message
    message = load_and_fail(qtbot, window, notes)
    assert message.startswith("This model can't be used.") and "GGUF" in message
    message = load_and_fail(qtbot, window, cut)
    assert message.startswith("This model can't be used.")
    assert re.search(r"incomplete|truncated|damaged", message)

    # the starter model is still loaded, shown and usable
    assert window.bridge.summary is not None and window.bridge.summary.path == str(smollm2)
    assert window.status.model_label.text() == label
    assert window.composer.button.isEnabled()
    answer, stats = ask(qtbot, window, "Say hi.")
    assert stats.n_generated > 0 and answer.answer.strip()
    # the banner can be dismissed, and goes away by itself on the next load
    qtbot.mouseClick(window.banner.close_button, Qt.MouseButton.LeftButton)
    assert not window.banner.isVisible()


@pytest.mark.slow
def test_reload_after_a_crash_brings_back_the_model_that_ran(
    loaded: MainWindow, qtbot: Any, smollm2: Path, tmp_path: Path
) -> None:
    """A refused file is not what "Reload model" loads: the model that was running is."""
    window = loaded
    load_and_fail(qtbot, window, tmp_path / "missing.gguf")
    pid = window.bridge.client.pid
    assert pid is not None
    with qtbot.waitSignal(window.bridge.crashed, timeout=20_000):
        os.kill(pid, signal.SIGKILL)
        type_and_send(qtbot, window, "Say hi.")
    assert window.banner.reload_button.isVisible()
    events: list[tuple[str, object]] = []
    window.loader.planning.connect(lambda path: events.append(("planning", path)))
    window.bridge.loaded.connect(lambda summary: events.append(("loaded", summary.path)))
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
        qtbot.mouseClick(window.banner.reload_button, Qt.MouseButton.LeftButton)
    # planned again (on the memory free now), then loaded
    assert events == [("planning", str(smollm2)), ("loaded", str(smollm2))]
    assert not window.banner.isVisible()
    assert window.loader.plan is not None and window.loader.plan.model_path == str(smollm2)


@pytest.mark.slow
def test_bad_file_with_nothing_loaded(window: MainWindow, qtbot: Any, tmp_path: Path) -> None:
    message = load_and_fail(qtbot, window, tmp_path / "missing.gguf")
    assert "missing.gguf" in message
    assert window.status.model_label.text() == "No model loaded"
    assert not window.composer.button.isEnabled()
    assert window.pages.currentWidget() is window.welcome
    assert window.welcome.starter_button.isEnabled()


# -- stale chunks and new chats ---------------------------------------------------------


@pytest.mark.slow
def test_chunks_of_other_generations_are_dropped(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    spy = ChunkSpy(window)
    bridge = window.bridge
    type_and_send(qtbot, window, "What is the capital of France?")
    message = last_assistant(window)
    current = message.model.gen_id
    # late events of an older, cancelled generation, and of a stranger's
    for stale in (current - 1, current + 7):
        bridge.chunk.emit(stale, "answer", "STALE ANSWER ")
        bridge.chunk.emit(stale, "thinking", "STALE THOUGHT ")
        bridge.finished.emit(stale, GenerationStats(finish_reason="stop"))
        bridge.failed.emit(stale, RuntimeError("stale failure"))
    assert window.controller.busy and message.streaming
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        pass
    assert "STALE" not in message.answer + message.reasoning
    assert "STALE" not in message.answer_view.toPlainText()
    assert message.thinking is None
    assert "⚠" not in message.status.text()
    assert message.answer == spy.text(current, "answer") and message.answer.strip()
    assert [m.role for m in window.controller.messages] == ["user", "assistant"]


@pytest.mark.slow
def test_new_chat_clears_the_conversation(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    ask(qtbot, window, "Say hi.")
    assert len(window.controller.messages) == 2
    assert len(window.chat_view.messages) == 2
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.controller.messages == []
    assert window.chat_view.messages == []
    assert window.composer.edit.hasFocus()
    # the next question starts a fresh conversation
    ask(qtbot, window, "Name a colour.")
    assert [m.content for m in window.controller.messages if m.role == "user"] == ["Name a colour."]


@pytest.mark.slow
def test_new_chat_during_an_answer_drops_its_late_chunks(loaded: MainWindow, qtbot: Any) -> None:
    window = loaded
    window.controller.params = LONG
    spy = ChunkSpy(window)
    type_and_send(qtbot, window, "Write a very long story about a cat.")
    old = last_assistant(window).model.gen_id
    qtbot.waitUntil(lambda: len(spy.chunks) >= 3, timeout=ANSWER_MS)

    with qtbot.waitSignal(window.bridge.finished, timeout=ANSWER_MS) as old_finished:
        window.commands.new.trigger()
        assert not window.controller.busy and window.controller.messages == []
        assert window.composer.button.text() == "Send"
        window.controller.params = GREEDY
        type_and_send(qtbot, window, "Say hi.")  # before the old answer has stopped
    assert old_finished.args[0] == old and old_finished.args[1].finish_reason == "cancelled"
    message = last_assistant(window)
    assert message.model.gen_id != old
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        pass
    assert message.answer == spy.text(message.model.gen_id, "answer") and message.answer.strip()
    assert len(window.chat_view.messages) == 2
    assert [m.content for m in window.controller.messages] == ["Say hi.", message.answer]
