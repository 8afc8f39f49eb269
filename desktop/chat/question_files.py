"""The files that go with questions, for the chat controller: fitted into the context off the GUI
thread before a question is stored (retrieval picks passages where a file is too long), put into
the turns the model reads, and shown on the messages (files on the question, the passages used
under its answer)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject

from desktop.chat.attachment_views import AttachedFiles, SourcesRow
from desktop.chat.messages import AssistantMessage, UserMessage
from desktop.common.background import Task, Tasks
from model_runtime.attachments.budget import ContextRoom, estimate_tokens, include_files
from model_runtime.attachments.prompt import Included, compose_turn
from model_runtime.chat.generation import Message
from model_runtime.conversations.records import StoredMessage
from model_runtime.conversations.store import ConversationStore
from model_runtime.errors import PonderError

Counter = Callable[[str], int | None]


class QuestionFiles(QObject):
    """Files of the open conversation's questions; one question's files fitted at a time."""

    def __init__(self, store: ConversationStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.tasks = Tasks(self)
        self.pending: tuple[Task, str, list[Included]] | None = None  # being fitted
        self.context_used = 0  # what the conversation takes of the context, as last reported

    def set_context_used(self, tokens: int) -> None:
        self.context_used = tokens

    def room(self, n_ctx: int | None, max_tokens: int, max_ctx: int = 0) -> ContextRoom | None:
        """The room the next question's files have (None: the context is not known)."""
        if n_ctx is None:
            return None
        return ContextRoom(n_ctx, self.context_used, max_tokens, max_ctx)

    def of(self, question_id: int | None) -> list[Included]:
        """A stored question's files, with their text."""
        if question_id is None:
            return []
        return self.store.included(self.store.attachments([question_id]).get(question_id, []))

    def turns(self, visible: Iterable[StoredMessage]) -> list[Message]:
        """Messages as the model reads them: each question with its files in its turn."""
        messages = list(visible)
        attached = self.store.attachments(m.id for m in messages if m.role == "user")
        out = []
        for m in messages:
            stored = attached.get(m.id)
            content = compose_turn(m.content, self.store.included(stored)) if stored else m.content
            out.append(Message(m.role, content, m.reasoning))  # type: ignore[arg-type]
        return out

    def show_on_question(self, widget: UserMessage, question_id: int) -> None:
        files = self.store.attachments([question_id]).get(question_id)
        if files:
            widget.show_attachments(AttachedFiles(files, self.store.attachment_text))

    def show_on_answer(self, widget: AssistantMessage, question_id: int | None) -> None:
        """Under an answer: the passages of its question's files that went in, each openable."""
        files = self.store.attachments([question_id]).get(question_id) if question_id else None
        used = [f for f in files or () if f.mode == "passages"]
        if used:
            widget.show_sources(SourcesRow(used, self.store.attachment_text))

    # -- fitting a new question's files ------------------------------------------------------

    def fit(
        self,
        text: str,
        files: list[Included],
        room: ContextRoom | None,
        count: Counter,
        then: Callable[[list[Included]], None],
        failed: Callable[[], None],
    ) -> None:
        """What of each file goes in (whole, or the passages that match the question), worked
        out on a thread; then(included) on the GUI thread unless cancelled first."""

        def counted(part: str) -> int:
            try:
                tokens = count(part)
            except PonderError:  # the engine went away meanwhile: estimate
                tokens = None
            return estimate_tokens(part) if tokens is None else tokens

        def work(_task: Task) -> list[Included]:
            if room is None:  # the engine does not say its context: every file as it is
                return files
            return include_files(text, files, room.free, count=counted)

        def done(included: list[Included]) -> None:
            if self.pending is not None and self.pending[0] is task:
                self.pending = None
                then(included)

        task = self.tasks.start(work, on_result=done, on_error=lambda _exc: failed())
        self.pending = (task, text, files)

    def cancel(self) -> tuple[str, list[Included]] | None:
        """Stop fitting; the question and its files, to give back (None: nothing was pending)."""
        if self.pending is None:
            return None
        task, text, files = self.pending
        self.pending = None
        task.cancel.set()
        return text, files
