"""One widget per chat message: the user's bubble, and the assistant's thinking pane plus answer."""

from __future__ import annotations

import itertools
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.answer_view import AnswerView
from desktop.chat.boxed_footer import BoxedFooter
from desktop.chat.question_editor import QuestionEditor
from desktop.chat.thinking_pane import ThinkingPane
from desktop.common.figures import SPEED_TIP, speed_text
from desktop.common.theme import theme_manager
from desktop.common.throttle import Throttle
from model_runtime.chat.answer import Answer, AnswerFigures
from model_runtime.chat.boxed import boxed_answer
from model_runtime.conversations.records import Branch, StoredMessage

REPAINT_MS = 40
NOT_SAVED = "⚠ Not saved yet: kept in memory until Ponder can write it (Retry, above)."


class ActionBar(QWidget):
    """Small buttons under a message: copy, edit, regenerate, continue, ◀ 1/2 ▶."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("actionBar")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self.previous = self._button("◀", "Previous version")
        self.position = QLabel(self)
        self.position.setObjectName("branchPosition")
        self.next = self._button("▶", "Next version")
        for widget in (self.previous, self.position, self.next):
            self._layout.addWidget(widget)
        self._layout.addStretch(1)
        self.set_branch(None, None)

    def _button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        return button

    def add(self, text: str, tip: str) -> QToolButton:
        button = self._button(text, tip)
        self._layout.insertWidget(self._layout.count() - 1, button)  # before the stretch
        return button

    def set_branch(self, message_id: int | None, branch: Branch | None) -> None:
        """Show ◀ i/n ▶ when this turn has other versions."""
        several = branch is not None and branch.count > 1
        for widget in (self.previous, self.position, self.next):
            widget.setVisible(several)
        if several and branch is not None:
            self.position.setText(f"{branch.index}/{branch.count}")
            self.previous.setEnabled(branch.index > 1)
            self.next.setEnabled(branch.index < branch.count)


class UserMessage(QFrame):
    """What the person wrote, shown as plain text (never interpreted); Edit turns the bubble
    into an editor in place."""

    edit_requested = Signal(int, str)  # message id, the edited question
    branch_requested = Signal(int)  # the sibling to show
    delete_requested = Signal(int)
    answer_requested = Signal(int)  # a question left without an answer: answer it (again)

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("userMessage")
        self.text = text
        self.message_id = 0
        self._branch: Branch | None = None
        self.editor: QuestionEditor | None = None
        self.label = QLabel(self)
        self.label.setObjectName("userText")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setText(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        theme_manager().chat.add(self.label, 1.15)  # the chat's text size
        self.action_bar = ActionBar(self)
        self.answer_button = self.action_bar.add("Regenerate", "Answer this question (again)")
        self.answer_button.clicked.connect(lambda: self.answer_requested.emit(self.message_id))
        self.answer_button.hide()  # only while the question has no answer
        self.edit_button = self.action_bar.add("Edit", "Edit this question and ask again")
        self.edit_button.clicked.connect(self.start_editing)
        self.delete_button = self.action_bar.add("Delete", "Delete this question and what followed")
        self.delete_button.clicked.connect(lambda: self.delete_requested.emit(self.message_id))
        self.delete_button.hide()
        self.action_bar.previous.clicked.connect(lambda: self._step(-1))
        self.action_bar.next.clicked.connect(lambda: self._step(1))
        self.edit_button.hide()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(12, 8, 12, 4)
        self._layout.addWidget(self.label)
        self._layout.addWidget(self.action_bar)
        self.attachments: QWidget | None = None

    def show_attachments(self, widget: QWidget) -> None:
        """The files this question went with, above its text."""
        self.attachments = widget
        self._layout.insertWidget(0, widget)

    def bind(self, message_id: int, branch: Branch) -> None:
        self.message_id = message_id
        self._branch = branch
        self.edit_button.show()
        self.delete_button.show()
        self.action_bar.set_branch(message_id, branch)

    def set_unanswered(self, unanswered: bool) -> None:
        """A question whose answer was deleted: offer to answer it again."""
        self.answer_button.setVisible(unanswered and bool(self.message_id))

    def _step(self, step: int) -> None:
        if self._branch is not None:
            self.branch_requested.emit(self._branch.sibling_ids[self._branch.index - 1 + step])

    def start_editing(self) -> QuestionEditor:
        """Edit the question in its bubble; Save & send asks it as a new version."""
        if self.editor is None:
            self.editor = QuestionEditor(self.text, self)
            self.editor.saved.connect(self._save_edit)
            self.editor.cancelled.connect(self.stop_editing)
            self._layout.insertWidget(self._layout.indexOf(self.label), self.editor)
            self.editor.show()  # now, so that it takes the focus
            self.label.hide()
            self.action_bar.hide()
        self.editor.start()
        return self.editor

    def stop_editing(self) -> None:
        """Back to the question as it was (Cancel, Esc)."""
        if self.editor is None:
            return
        editor, self.editor = self.editor, None
        editor.hide()
        editor.deleteLater()
        self.label.show()
        self.action_bar.show()
        self.edit_button.setFocus()

    def _save_edit(self, text: str) -> None:
        self.stop_editing()
        self.edit_requested.emit(self.message_id, text)


class AssistantMessage(QFrame):
    """Shows an Answer: streamed text is buffered and painted at most every REPAINT_MS.

    The Answer (model_runtime.chat.answer) holds the text and the engine's figures; this widget
    keeps only what painting needs (the live clock of the thinking pane, unpainted text).
    """

    regenerate_requested = Signal(int)
    continue_requested = Signal(int)
    answer_now_requested = Signal(int)  # end the saved reasoning and let the model answer
    branch_requested = Signal(int)
    delete_requested = Signal(int)

    def __init__(self, model: Answer | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("assistantMessage")
        self.model = model if model is not None else Answer()
        self.message_id = 0
        self.streaming = True
        self.can_answer_now = True  # the engine can end reasoning (the controller says)
        self._started = time.monotonic()
        self._thinking_started: float | None = None
        self._answer_started: float | None = None
        self._pending_thinking: list[str] = []
        self._pending_answer: list[str] = []
        self._branch: Branch | None = None
        self.thinking: ThinkingPane | None = None
        self.answer_view = AnswerView(self)
        self.answer_view.hide()
        self.boxed_footer = BoxedFooter(self.answer_view.formulas, self)  # "Answer: x = 2"
        self.status = QLabel(self)
        self.status.setObjectName("messageStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setText("…")
        self.save_note = QLabel(NOT_SAVED, self)  # shown while the store lacks this answer
        self.save_note.setObjectName("messageError")
        self.save_note.setWordWrap(True)
        self.save_note.hide()
        self.action_bar = ActionBar(self)
        self.copy_button = self.action_bar.add(
            "Copy", "Copy the answer (Shift: with its reasoning)"
        )
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.regenerate_button = self.action_bar.add("Regenerate", "Answer again; keeps this one")
        self.regenerate_button.clicked.connect(
            lambda: self.regenerate_requested.emit(self.message_id)
        )
        self.continue_button = self.action_bar.add(
            "Continue", "Go on from where the answer stopped"
        )
        self.continue_button.clicked.connect(lambda: self.continue_requested.emit(self.message_id))
        self.answer_now_button = self.action_bar.add(
            "Answer now", "End the thinking here and let the model answer"
        )
        self.answer_now_button.clicked.connect(
            lambda: self.answer_now_requested.emit(self.message_id)
        )
        self.delete_button = self.action_bar.add("Delete", "Delete this answer and what followed")
        self.delete_button.clicked.connect(lambda: self.delete_requested.emit(self.message_id))
        self.action_bar.previous.clicked.connect(lambda: self._step(-1))
        self.action_bar.next.clicked.connect(lambda: self._step(1))
        self.action_bar.hide()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.setSpacing(6)
        self._layout.addWidget(self.answer_view)
        self._layout.addWidget(self.boxed_footer)
        self._layout.addWidget(self.status)
        self._layout.addWidget(self.save_note)
        self._layout.addWidget(self.action_bar)
        self._repaint = Throttle(self._paint, REPAINT_MS, self)
        self.sources: QWidget | None = None

    def show_sources(self, widget: QWidget) -> None:
        """The passages of the question's files that went in, above the buttons."""
        self.sources = widget
        self._layout.insertWidget(self._layout.indexOf(self.action_bar), widget)

    @property
    def answer(self) -> str:
        return self.model.answer

    @property
    def reasoning(self) -> str:
        return self.model.reasoning

    # -- stored messages ---------------------------------------------------------------------

    def show_stored(self, message: StoredMessage) -> None:
        """Show a saved answer as it was (reasoning collapsed, figures, interrupted or not)."""
        self.streaming = False
        self.model = Answer(message.content, message.reasoning, message.figures)
        if message.reasoning:
            pane = self._ensure_pane()
            pane.finish(
                message.reasoning_seconds, message.reasoning_tokens or None, self._pane_note()
            )
            pane.set_text_later(message.reasoning.rstrip())
        if message.content:
            self.answer_view.show()
            self.answer_view.finish_markdown(message.content)
        if message.state == "interrupted":
            self.status.setText("Interrupted — Continue picks up where it stopped.")
        else:
            self.status.setText(_figures(message.figures))
            self.status.setToolTip(SPEED_TIP if message.figures.tokens_per_second else "")
        self._update_actions(message.state, message.finish_reason)
        self.boxed_footer.show_boxed(boxed_answer(self.answer, self.reasoning))

    def bind(self, message_id: int, branch: Branch) -> None:
        self.message_id = message_id
        self._branch = branch
        self.action_bar.set_branch(message_id, branch)

    def set_saved(self, saved: bool) -> None:
        """Say under the answer when the store does not hold all of it (a full disk)."""
        self.save_note.setVisible(not saved)

    @property
    def saved(self) -> bool:
        return self.save_note.isHidden()

    def _step(self, step: int) -> None:
        if self._branch is not None:
            self.branch_requested.emit(self._branch.sibling_ids[self._branch.index - 1 + step])

    def _update_actions(self, state: str, finish_reason: str) -> None:
        self.action_bar.setVisible(not self.streaming)
        self.continue_button.setVisible(
            state == "interrupted" or finish_reason in ("length", "cancelled")
        )
        self.answer_now_button.setVisible(self.can_answer_now and self.thinking_only)

    @property
    def thinking_only(self) -> bool:
        """It thought and gave no answer (the length limit, Stop, a crash, a loop stopped)."""
        return bool(self.reasoning.strip()) and not self.answer.strip()

    def followed_up(self) -> None:
        """A question came after it: going on would not fit what came after."""
        self.continue_button.hide()
        self.answer_now_button.hide()

    def resume(self) -> None:
        """Stream more into this answer (Continue): the text so far stays."""
        self.streaming = True
        self.action_bar.hide()
        self.boxed_footer.show_boxed(None)
        self._started = time.monotonic()
        if self.answer:
            self._answer_started = self._started
            self.answer_view.set_markdown_streaming(self.answer)
        elif self.thinking is not None:
            self._thinking_started = self._started - self.model.figures.reasoning_seconds
            self.thinking.resume()
        self.status.setText("…")

    def copy_to_clipboard(self) -> None:
        modifiers = QGuiApplication.keyboardModifiers()
        with_reasoning = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        QGuiApplication.clipboard().setText(self.copy_text(with_reasoning=with_reasoning))

    def copy_text(self, *, with_reasoning: bool = False) -> str:
        if with_reasoning and self.reasoning.strip():
            return f"<think>\n{self.reasoning.strip()}\n</think>\n\n{self.answer}"
        return self.answer

    # -- streaming ---------------------------------------------------------------------------

    def _ensure_pane(self) -> ThinkingPane:
        if self.thinking is None:
            self.thinking = ThinkingPane(self)
            self._layout.insertWidget(0, self.thinking)
            self._order_focus()
        return self.thinking

    def _order_focus(self) -> None:
        """Tab goes as the eye does: the reasoning's header, the answer, then its buttons (the
        pane is made after them, and would otherwise come last)."""
        assert self.thinking is not None
        buttons = self.action_bar.findChildren(QToolButton)
        chain = [*self.thinking.focus_order(), self.answer_view, *buttons]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def add_chunk(self, kind: str, text: str) -> None:
        """Streamed text the model already holds: paint it soon."""
        if kind == "thinking":
            if self.thinking is None:
                self._thinking_started = time.monotonic()
                self._ensure_pane()
            elif not self.thinking.thinking:
                self.thinking.resume()  # a second thinking segment
            self._pending_thinking.append(text)
        else:
            if self._answer_started is None:
                self._answer_started = time.monotonic()
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

    def _end_thinking(self) -> None:
        """The answer began: fold the pane with the time on the window's clock (the engine's
        own figure replaces it when the answer finishes)."""
        assert self.thinking is not None
        end = self._answer_started or time.monotonic()
        seconds = end - (self._thinking_started or self._started)
        self.thinking.finish(seconds, None, self.model.thinking_note)

    def thinking_was_ended(self) -> None:
        """Ponder ended the reasoning (answer now, a budget, a loop): the pane's clock stops
        now, not when the first words of the answer arrive."""
        self._repaint.flush()
        self._paint()
        if self.thinking is not None and self.thinking.thinking:
            self._end_thinking()

    def _pane_note(self) -> str:
        """How the thinking ended, and whether an answer came of it."""
        note = self.model.thinking_note
        if self.thinking_only:
            return f"{note}, no answer yet" if note else "no answer yet"
        return note

    def finish(self) -> None:
        """The answer is complete: final Markdown render, thinking summary, figures."""
        self._repaint.flush()
        self._paint()
        self.streaming = False
        stats, figures = self.model.stats, self.model.figures
        assert stats is not None
        if self.thinking is not None:
            self.thinking.finish(
                figures.reasoning_seconds, figures.reasoning_tokens or None, self._pane_note()
            )
        if self.answer:
            self.answer_view.finish_markdown(self.answer)
        self.status.setText(_figures(figures))
        self.status.setToolTip(SPEED_TIP if figures.tokens_per_second else "")
        self._update_actions("complete", stats.finish_reason)
        self.boxed_footer.show_boxed(boxed_answer(self.answer, self.reasoning))

    def fail(self, title: str, message: str) -> None:
        """Show an error in place of (or after) the partial answer; what streamed stays."""
        self._repaint.flush()
        self._paint()
        self.streaming = False
        if self.thinking is not None and self.thinking.thinking:
            end = time.monotonic()
            self.thinking.finish(
                end - (self._thinking_started or self._started), None, "interrupted"
            )
        if self.answer:
            self.answer_view.finish_markdown(self.answer)
        self.boxed_footer.show_boxed(boxed_answer(self.answer, self.reasoning))
        self.status.setObjectName("messageError")
        self.status.setText(f"⚠ {title}: {message}")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def mark_interrupted(self) -> None:
        """The partial answer was kept: offer to continue it."""
        self._update_actions("interrupted", "")


def _figures(figures: AnswerFigures) -> str:
    """The line under a finished answer: how it ended, its length and speed, the wait."""
    parts = []
    if figures.finish_reason == "cancelled":
        parts.append("Stopped")
    elif figures.finish_reason == "length":
        parts.append("Stopped at the length limit")
    elif figures.finish_reason == "loop":
        parts.append(f"Stopped: {figures.finish_note or 'it was repeating itself'}")
    parts.append(f"{figures.n_generated:,} tokens")
    if figures.tokens_per_second:
        parts.append(speed_text(figures.tokens_per_second))
    if figures.ttft_seconds:
        parts.append(f"first token after {figures.ttft_seconds:.2f} s")
    return " · ".join(parts)
