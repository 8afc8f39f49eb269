"""One widget per chat message: the user's bubble, and the assistant's thinking pane plus answer."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from model_runtime.generation import GenerationStats

from .answer_view import AnswerView
from .thinking_pane import ThinkingPane
from .throttle import Throttle

REPAINT_MS = 40


def _joined(parts: list[str]) -> str:
    """Join streamed pieces once, keeping the result as the single part."""
    if len(parts) > 1:
        parts[:] = ["".join(parts)]
    return parts[0] if parts else ""


class UserMessage(QFrame):
    """What the person wrote, shown as plain text (never interpreted)."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("userMessage")
        self.text = text
        label = QLabel(self)
        label.setObjectName("userText")
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setText(text)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(label)


class AssistantMessage(QFrame):
    """An answer being streamed: text is buffered and painted at most every REPAINT_MS."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("assistantMessage")
        self.gen_id = 0
        self._answer_parts: list[str] = []  # joined lazily: no quadratic string building
        self._reasoning_parts: list[str] = []
        self.stats: GenerationStats | None = None
        self.streaming = True
        self._started = time.monotonic()
        self._thinking_started: float | None = None
        self._answer_started: float | None = None
        self._pending_thinking: list[str] = []
        self._pending_answer: list[str] = []
        self.thinking: ThinkingPane | None = None
        self.answer_view = AnswerView(self)
        self.answer_view.hide()
        self.status = QLabel(self)
        self.status.setObjectName("messageStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setText("…")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.setSpacing(6)
        self._layout.addWidget(self.answer_view)
        self._layout.addWidget(self.status)
        self._repaint = Throttle(self._paint, REPAINT_MS, self)

    @property
    def answer(self) -> str:
        return _joined(self._answer_parts)

    @property
    def reasoning(self) -> str:
        return _joined(self._reasoning_parts)

    # -- streaming -------------------------------------------------------------------------

    def add_chunk(self, kind: str, text: str) -> None:
        if kind == "thinking":
            if self.thinking is None:
                self._thinking_started = time.monotonic()
                self.thinking = ThinkingPane(self)
                self._layout.insertWidget(0, self.thinking)
            elif not self.thinking.thinking:  # a second thinking segment
                self.thinking.set_expanded(True)
            self._reasoning_parts.append(text)
            self._pending_thinking.append(text)
        else:
            if self._answer_started is None:
                self._answer_started = time.monotonic()
            self._answer_parts.append(text)
            self._pending_answer.append(text)
        self._repaint()

    def _paint(self) -> None:
        if self._pending_thinking and self.thinking is not None:
            self.thinking.append("".join(self._pending_thinking))
            self._pending_thinking.clear()
        if self._pending_answer:
            if self.thinking is not None and self.thinking.thinking:
                self._end_thinking()
            self.answer_view.show()
            self.answer_view.append_markdown_streaming("".join(self._pending_answer))
            self._pending_answer.clear()
            self.status.setText("")

    def _end_thinking(self, tokens: int | None = None, note: str = "") -> None:
        assert self.thinking is not None
        end = self._answer_started or time.monotonic()
        self.thinking.finish(end - (self._thinking_started or self._started), tokens, note)

    def finish(self, stats: GenerationStats) -> None:
        """The answer is complete: final Markdown render, thinking summary, figures."""
        self._repaint.flush()
        self._paint()
        self.streaming = False
        self.stats = stats
        if self.thinking is not None:
            note = "no answer yet" if stats.unclosed_thinking else ""
            end = self._answer_started or time.monotonic()
            seconds = stats.thinking_seconds or end - (self._thinking_started or self._started)
            self.thinking.finish(seconds, stats.n_thinking, note)
        if self.answer:
            self.answer_view.finish_markdown(self.answer)
        parts = []
        if stats.finish_reason == "cancelled":
            parts.append("Stopped")
        elif stats.finish_reason == "length":
            parts.append("Stopped at the length limit")
        parts.append(f"{stats.n_generated:,} tokens")
        if stats.tokens_per_second:
            parts.append(f"{stats.tokens_per_second:.1f} tokens/s")
        parts.append(f"first token after {stats.ttft_seconds:.2f} s")
        self.status.setText(" · ".join(parts))

    def fail(self, title: str, message: str) -> None:
        """Show an error in place of (or after) the partial answer; what streamed stays."""
        self._repaint.flush()
        self._paint()
        self.streaming = False
        if self.thinking is not None and self.thinking.thinking:
            self._end_thinking(note="interrupted")
        if self.answer:
            self.answer_view.finish_markdown(self.answer)
        self.status.setObjectName("messageError")
        self.status.setText(f"⚠ {title}: {message}")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
