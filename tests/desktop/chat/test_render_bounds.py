"""Answers of any size render in bounded steps: the window never waits long on one of them.

Real widgets, offscreen: the longest gap between turns of the event loop is measured with a
1 ms heartbeat while huge answers are set, streamed, reopened from a real store, and while
huge reasoning is written into the thinking pane. The bound here (STEP_BOUND_S) is generous
for a loaded 2-core machine; before these changes single steps took 14 s to minutes.
bench/render.py prints the real figures.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtGui import QGuiApplication, QTextDocument
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from desktop.chat.answer_view import AnswerView
from desktop.chat.messages import AssistantMessage
from desktop.window.main_window import MainWindow
from model_runtime.chat.answer import AnswerFigures
from model_runtime.chat.generation import Chunk, Finished, GenerationStats
from model_runtime.conversations.store import ConversationStore
from tests.desktop.chat.test_answer_view import block_dump

W = TypeVar("W", bound=QWidget)
STEP_BOUND_S = 1.0
RENDER_MS = 120_000  # a whole 2 MB answer on a loaded 2-core machine, with room to spare
MB = 1_000_000

WORDS = "the model weighs each step of its reasoning before it answers **carefully** and `x`"


def one_line(size: int) -> str:
    """One line, no spaces, no line break: a reply stuck in a loop (a hash, a dump)."""
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


def words(size: int) -> str:
    """Words without a line break: a paragraph that never ends."""
    return ("word " * (size // 5 + 1))[:size]


def paragraphs(size: int) -> str:
    rnd = random.Random(size)
    words = WORDS.split()
    out, total = [], 0
    while total < size:
        paragraph = " ".join(rnd.choice(words) for _ in range(rnd.randint(20, 120)))
        out.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(out)[:size]


def nested_quotes(depth: int) -> str:
    return "> " * depth + "the deepest thought\n\nAnd after the quote, a paragraph.\n"


class StepClock:
    """The longest time the event loop went without a turn (a 1 ms heartbeat)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._clock = QElapsedTimer()
        self._beat = QTimer()
        self._beat.setInterval(1)
        self._beat.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.longest = max(self.longest, self._clock.restart() / 1000)

    @contextmanager
    def running(self) -> Iterator[StepClock]:
        self._clock.start()
        self._beat.start()
        try:
            yield self
        finally:
            self._tick()
            self._beat.stop()


@pytest.fixture
def column(qtbot: Any) -> Callable[[W], W]:
    """Adds widgets to a scroll area, as in the chat: only what is visible gets painted."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    inner = QWidget()
    layout = QVBoxLayout(inner)
    layout.addStretch(1)
    area.setWidget(inner)
    qtbot.addWidget(area)
    area.resize(900, 700)
    area.show()
    qtbot.waitExposed(area)

    def add(widget: W) -> W:
        assert area.isVisible()  # (and the closure keeps the area alive)
        layout.insertWidget(layout.count() - 1, widget)
        widget.show()
        return widget

    return add


def wait_rendered(qtbot: Any, view: AnswerView) -> None:
    if view.rendering:
        with qtbot.waitSignal(view.rendered, timeout=RENDER_MS):
            pass


def shown_text(document: QTextDocument) -> str:
    """The document's text without line breaks (a long line is shown as several blocks)."""
    return document.toPlainText().replace("\n", "")


# -- a whole answer at once -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["one line", "words", "paragraphs"])
def test_a_2mb_answer_renders_in_short_steps(
    qtbot: Any, column: Callable[[AnswerView], AnswerView], kind: str
) -> None:
    text = {"one line": one_line, "words": words, "paragraphs": paragraphs}[kind](2 * MB)
    view = column(AnswerView())
    with StepClock().running() as clock:
        view.set_markdown(text)
        wait_rendered(qtbot, view)
    assert clock.longest < STEP_BOUND_S
    letters = text.replace("**", "").replace("`", "").replace("\n", "").replace(" ", "")
    assert shown_text(view.document()).replace(" ", "") == letters  # nothing lost
    assert view.height() >= 100_000  # all of it, laid out


def test_5000_nested_quotes_render_in_short_steps(
    qtbot: Any, column: Callable[[AnswerView], AnswerView]
) -> None:
    view = column(AnswerView())
    with StepClock().running() as clock:
        view.set_markdown(nested_quotes(5000))
        wait_rendered(qtbot, view)
    assert clock.longest < STEP_BOUND_S
    text = view.toPlainText()
    assert "the deepest thought" in text and "And after the quote" in text
    assert frame_depth(view.document()) == 4  # flattened past four levels


def frame_depth(document: QTextDocument) -> int:
    def depth(frame: Any) -> int:
        return 1 + max((depth(child) for child in frame.childFrames()), default=0)

    return depth(document.rootFrame()) - 1


def test_a_new_width_lays_a_huge_answer_out_in_steps(
    qtbot: Any, column: Callable[[AnswerView], AnswerView]
) -> None:
    view = column(AnswerView())
    view.set_markdown(paragraphs(MB))
    wait_rendered(qtbot, view)
    area = view.window()
    before = view.height()
    with StepClock().running() as clock:
        area.resize(600, 700)
        qtbot.waitUntil(lambda: view.viewport().width() < 600)
        assert view.document().lastBlock().layout().lineCount() == 0  # not all laid out at once
        qtbot.waitUntil(lambda: view.height() > before, timeout=RENDER_MS)
    assert clock.longest < STEP_BOUND_S
    assert view.height() >= view.document().size().height()
    view.set_markdown("More text.")  # and renders as usual afterwards
    assert view.toPlainText() == "More text."


# -- streaming ---------------------------------------------------------------------------


def stream_into(qtbot: Any, message: AssistantMessage, kind: str, text: str, pieces: int) -> None:
    """Feed ``text`` as the chat's controller does: chunk by chunk into the message's Answer
    and the message (which paints every 40 ms), then the end of the answer."""
    size = max(1, len(text) // pieces)
    chunks = iter(range(0, len(text), size))
    feeder = QTimer()
    feeder.setInterval(0)
    message.model.start(1)
    message.resume()

    def feed() -> None:
        start = next(chunks, None)
        if start is None:
            feeder.stop()
            return
        piece = text[start : start + size]
        message.model.add(Chunk(1, kind, piece))  # type: ignore[arg-type]
        message.add_chunk(kind, piece)

    feeder.timeout.connect(feed)
    feeder.start()
    qtbot.waitUntil(lambda: not feeder.isActive(), timeout=RENDER_MS)
    if kind == "thinking":
        message.model.add(Chunk(1, "answer", "Done."))
        message.add_chunk("answer", "Done.")
    message.model.add(Finished(1, GenerationStats(n_generated=pieces)))
    message.finish()
    wait_rendered(qtbot, message.answer_view)


@pytest.mark.parametrize("kind", ["one line", "words", "paragraphs", "quotes"])
def test_streaming_a_huge_answer_keeps_steps_short(
    qtbot: Any, column: Callable[[QWidget], QWidget], kind: str
) -> None:
    text = {
        "one line": one_line(2 * MB),
        "words": words(2 * MB),
        "paragraphs": paragraphs(MB),
        "quotes": nested_quotes(5000) * 20,
    }[kind]
    message = column(AssistantMessage())
    single = column(AnswerView())
    single.set_markdown(text)
    with StepClock().running() as clock:
        stream_into(qtbot, message, "answer", text, pieces=2000)
    assert clock.longest < STEP_BOUND_S
    wait_rendered(qtbot, single)
    streamed = message.answer_view
    assert block_dump(streamed.document()) == block_dump(single.document())
    assert streamed.toPlainText() == single.toPlainText()
    assert streamed.code_blocks == single.code_blocks


def test_streaming_huge_reasoning_keeps_steps_short(
    qtbot: Any, column: Callable[[QWidget], QWidget]
) -> None:
    reasoning = words(2 * MB).rstrip()
    message = column(AssistantMessage())
    with StepClock().running() as clock:
        stream_into(qtbot, message, "thinking", reasoning, pieces=2000)
        pane = message.thinking
        assert pane is not None and not pane.expanded  # folded when the answer began
        pane.set_expanded(True)
        qtbot.waitUntil(lambda: not pane.writing, timeout=RENDER_MS)
    assert clock.longest < STEP_BOUND_S
    assert pane.text() == reasoning == message.reasoning
    assert shown_text(pane.body.document()) == reasoning
    assert message.answer_view.toPlainText() == "Done."


# -- reopening ---------------------------------------------------------------------------


def test_reopening_a_conversation_with_huge_answers_keeps_steps_short(
    qtbot: Any, open_window: Callable[..., MainWindow], tmp_path: Path
) -> None:
    store = ConversationStore(tmp_path / "chats.sqlite")
    conversation = store.create_conversation(model="test")
    answers = [one_line(2 * MB), nested_quotes(5000), words(MB), paragraphs(MB)]
    reasoning = words(2 * MB).rstrip()
    for number, answer in enumerate(answers):
        store.add_message(conversation.id, "user", f"Question {number}")
        store.add_message(
            conversation.id,
            "assistant",
            answer,
            reasoning=reasoning,
            figures=AnswerFigures(reasoning_seconds=60.0, reasoning_tokens=500_000),
        )
    window = open_window(store)
    window.resize(1180, 800)
    with StepClock().running() as clock:
        window.open_conversation(conversation.id)
        messages = [m for m in window.chat_view.messages if isinstance(m, AssistantMessage)]
        assert len(messages) == len(answers)
        for message in messages:
            wait_rendered(qtbot, message.answer_view)
        pane = messages[0].thinking
        assert pane is not None and not pane.expanded
        pane.set_expanded(True)  # two megabytes of reasoning, written in steps
        qtbot.waitUntil(lambda: not pane.writing, timeout=RENDER_MS)
    assert clock.longest < STEP_BOUND_S
    for message, answer in zip(messages, answers, strict=True):
        assert message.answer == answer
    assert shown_text(messages[0].answer_view.document()) == answers[0]
    assert pane.text() == reasoning
    assert shown_text(pane.body.document()) == reasoning
    pane.copy_reasoning()
    assert QGuiApplication.clipboard().text() == reasoning.strip()
