"""The status bar and what an empty window says, on the real model (and a scripted remote
engine where a remote one is needed): nothing overlaps or hides the model's name, a remote
engine puts the local model aside, figures are live and said once, and when a question can't
be sent the page and the composer say what to do."""

from __future__ import annotations

import functools
import itertools
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import QApplication, QWidget

import desktop.window.main_window as main_window
from desktop.chat.messages import AssistantMessage
from desktop.common import screen_fit
from desktop.common.figures import SPEED_TIP, speed_text
from desktop.window.main_window import MainWindow
from model_runtime.chat.generation import GenerationParams, GenerationStats, LoadRequest
from model_runtime.models.starter import STARTER_NAME
from model_runtime.serving import endpoints
from model_runtime.serving.endpoints import Endpoint
from tests.openai_stub import OpenAIStub

LOAD_MS = 60_000
ANSWER_MS = 60_000
WAIT_MS = 10_000
# Long enough to be seen streaming for a while, greedy so it is the same each time.
STREAMING = GenerationParams(max_tokens=120, temperature=0.0, seed=1)
REASONING_SCRIPT = [
    {"reasoning_content": "Two plus two"},
    ("sleep", 0.3),
    {"reasoning_content": " is four."},
    {"content": "The answer is 4."},
]


@pytest.fixture(autouse=True)
def _online(online: None) -> None:
    """A remote engine on 127.0.0.1 is allowed (the `online` fixture: tests/openai_stub.py)."""


@pytest.fixture
def load(qtbot: Any, smollm2: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Load a model into a window on one engine thread (steady on a shared 2-core runner)."""
    monkeypatch.setattr(main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=1))

    def load_(window: MainWindow, path: Path = smollm2) -> MainWindow:
        with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
            window.load_model(str(path))
        return window

    return load_


def status_widgets(window: MainWindow) -> list[QWidget]:
    bar = window.status
    return [w for w in bar.findChildren(QWidget) if w.isVisible() and w.parentWidget() is bar]


def overlaps(window: MainWindow) -> list[str]:
    """Pairs of the status bar's visible parts that overlap, and parts squeezed below what
    they need (a plain label cut, a button narrower than its text)."""
    found = []
    shown = status_widgets(window)
    for first, second in itertools.combinations(shown, 2):
        if first.geometry().intersects(second.geometry()):
            found.append(f"{first.objectName()} overlaps {second.objectName()}")
    for widget in shown:
        if widget.width() < widget.minimumSizeHint().width():
            found.append(f"{widget.objectName()} squeezed: {widget.width()}")
        if not QRect(0, 0, window.status.width(), window.status.height()).contains(
            widget.geometry()
        ):
            found.append(f"{widget.objectName()} outside the bar")
    return found


def use_remote(qtbot: Any, window: MainWindow, stub: OpenAIStub) -> None:
    endpoint = Endpoint("stub", stub.url, "stub-model")
    endpoints.save_endpoint(endpoint)
    window.engines.use_remote(endpoint)
    assert window.engines.remote is not None


@pytest.mark.slow
def test_serving_in_a_small_window_nothing_overlaps_and_the_name_stays(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = load(open_window())
    window.commands.serve.trigger()
    qtbot.waitUntil(window.status.serve_label.isVisible, timeout=WAIT_MS)
    assert window.status.serve_label.text().startswith("Serving at http://127.0.0.1:")
    for width, height in ((1180, 780), (800, 500)):
        window.resize(width, height)
        qtbot.waitUntil(lambda w=width: window.width() == w, timeout=WAIT_MS)
        QApplication.processEvents()
        assert overlaps(window) == [], (width, height)
        model = window.status.model_label
        assert model.shown_text().startswith(STARTER_NAME), (width, model.shown_text())
        assert window.status.serve_label.width() >= window.status.serve_label.sizeHint().width()
    assert "context 8,192" in window.status.model_label.toolTip()  # the rest, in its tooltip
    window.commands.serve.trigger()
    assert not window.status.serve_label.isVisible()


@pytest.mark.slow
def test_the_speed_is_live_while_streaming_and_one_figure_after(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = load(open_window())
    window.controller.params = STREAMING
    live: list[tuple[float, int, float]] = []
    texts: list[str] = []

    def seen(tokens: int, rate: float) -> None:
        live.append((time.monotonic(), tokens, rate))
        texts.append(window.status.speed_label.text())

    window.controller.progress.connect(seen)
    started = time.monotonic()
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS) as done:
        window.send("Tell me about the sea.")
        assert window.status.speed_label.text() == "Generating…"
    took = time.monotonic() - started
    stats = done.args[0]
    assert len(live) >= 2  # it moved while the answer streamed
    assert len(live) <= took / 0.25 + 2  # and at most four times a second
    assert [tokens for _, tokens, _ in live] == sorted(tokens for _, tokens, _ in live)
    assert re.fullmatch(r"Generating… \d+ tokens · [\d.]+ tokens/s", texts[-1])
    assert live[-1][1] <= stats.n_generated + 1
    # after: one figure, the same in the status bar and under the answer, and said what it is
    message = window.chat_view.messages[-1]
    assert isinstance(message, AssistantMessage)
    figure = speed_text(stats.tokens_per_second)
    assert window.status.speed_label.text().split(" · ")[0] == figure  # then guesses kept, if any
    assert figure in message.status.text()
    assert re.findall(r"[\d.]+ tokens/s", message.status.text()) == [figure]
    assert message.status.toolTip() == SPEED_TIP
    assert window.status.speed_label.toolTip().startswith(SPEED_TIP)  # then why, if more is said
    assert message.thinking is None or "tokens/s" not in message.thinking.header.text()


@pytest.mark.slow
def test_a_new_model_starts_with_an_empty_context_meter(
    open_window: Callable[..., MainWindow],
    load: Callable[..., MainWindow],
    qtbot: Any,
    smollm2_r1: Path,
) -> None:
    window = load(open_window())
    window.controller.params = GenerationParams(max_tokens=8, temperature=0.0, seed=1)
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        window.send("Hello.")
    assert window.status.context_label.text().startswith("Context ")
    assert window.status.speed_label.text().split(" · ")[0].endswith(" tokens/s")
    load(window, smollm2_r1)
    assert window.status.context_label.text() == ""  # not the last model's numbers
    assert window.status.speed_label.text() == ""  # nor its speed


@pytest.mark.slow
def test_a_remote_engine_puts_the_local_model_aside(
    open_window: Callable[..., MainWindow],
    load: Callable[..., MainWindow],
    qtbot: Any,
    stub: OpenAIStub,
    memory_keyring: Any,
) -> None:
    window = load(open_window())
    status = window.status
    assert status.model_label.isVisible() and status.plan_label.text().startswith("Auto-tuned")
    assert status.plan_label.isVisible() and status.details_button.isVisible()
    status.show_speed(GenerationStats(n_generated=9, tokens_per_second=31.5))  # a local answer's
    use_remote(qtbot, window, stub)
    assert status.speed_label.text() == ""  # the remote engine's speed is not known yet
    assert status.remote_label.isVisible() and status.remote_label.text().startswith("Remote")
    for local in (status.model_label, status.plan_label, status.details_button):
        assert not local.isVisible(), local.objectName()
    assert status.context_label.text() == ""
    window.commands.use_local.trigger()
    assert not status.remote_label.isVisible()
    assert status.model_label.isVisible() and status.plan_label.isVisible()


def test_without_a_local_model_the_page_and_the_composer_say_what_to_do(
    open_window: Callable[..., MainWindow], qtbot: Any, stub: OpenAIStub, memory_keyring: Any
) -> None:
    window = open_window()
    use_remote(qtbot, window, stub)
    assert window.pages.currentWidget() is window.chat_view
    assert window.chat_view.hint.text().startswith("Answers come from the remote engine stub")
    assert window.composer.button.isEnabled() and not window.composer.notice.isVisible()

    window.commands.use_local.trigger()  # and no local model is loaded
    assert "remote engine" not in window.chat_view.hint.text()
    assert window.pages.currentWidget() is window.welcome  # its two buttons: what to do
    assert window.welcome.starter_button.isVisible()
    notice = window.composer.notice
    assert notice.isVisible() and notice.text().startswith("⚠ Load a model first: File → Open")
    assert not window.composer.button.isEnabled()
    window.composer.edit.setPlainText("Hello?")
    window.composer.edit.setFocus()
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    assert window.chat_view.messages == [] and notice.isVisible()  # not sent, and said why


def test_answer_now_stays_off_where_the_engine_cannot_end_the_thinking(
    open_window: Callable[..., MainWindow], qtbot: Any, stub: OpenAIStub, memory_keyring: Any
) -> None:
    window = open_window()
    commands = window.commands
    assert not commands.stop.isEnabled() and not commands.answer_now.isEnabled()
    use_remote(qtbot, window, stub)
    stub.script = REASONING_SCRIPT
    with qtbot.waitSignal(window.controller.thinking_changed, timeout=WAIT_MS) as thinking:
        window.send("What is 2+2?")
    assert thinking.args == [True]
    assert commands.stop.isEnabled()  # something is generating
    assert not commands.answer_now.isEnabled()  # a remote engine can't end the reasoning
    assert not window.composer.answer_now.isVisible()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=WAIT_MS)
    assert not commands.stop.isEnabled() and not commands.answer_now.isEnabled()


def test_the_window_opens_within_a_small_screen(
    open_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an 800×600 screen the window is no larger than the screen: the composer and the
    status bar are in sight."""
    monkeypatch.setattr(screen_fit, "available_size", lambda _widget: QSize(800, 600))
    window = open_window()
    room = screen_fit.room_on(QSize(800, 600))
    assert window.width() <= room.width() and window.height() <= room.height()
    for part in (window.composer, window.status):
        place = QRect(part.mapTo(window, part.rect().topLeft()), part.size())
        assert window.rect().contains(place) and part.isVisible()
