"""Runs the open conversation: sends turns to the engine, saves every word as it streams.

The answer that streams is an Answer (model_runtime.chat.answer): the controller feeds it the
engine's events and saves it; the AssistantMessage widget only shows it.

Every write goes through ChatSaving (saving.py): a failed one (a full or read-only disk) is
said and changes nothing else. A question goes back to the composer; an answer stays in
memory, marked as not saved, and is written with the next save or by retry_saves(). A failed
save never leaves the controller busy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.chat.deletion import MessageDeletion
from desktop.chat.live_answer import LiveAnswer
from desktop.chat.messages import AssistantMessage, UserMessage
from desktop.chat.question_files import QuestionFiles
from desktop.chat.saving import ChatSaving
from desktop.chat.view import ChatView
from desktop.common.error_messages import describe
from desktop.engines.bridge import ChatBridge
from model_runtime.attachments.budget import ContextRoom
from model_runtime.attachments.prompt import Included
from model_runtime.chat.answer import Answer
from model_runtime.chat.generation import (
    Chunk,
    Finished,
    GenerationParams,
    GenerationStats,
    Message,
)
from model_runtime.chat.thinking import ThinkingEnded
from model_runtime.conversations.params import params_from_dict, params_to_dict
from model_runtime.conversations.records import StoredMessage
from model_runtime.conversations.store import ConversationStore
from model_runtime.errors import StorageError

SAVE_MS = 500  # at most this much streamed text is lost if the process is killed
PAGE = 30  # messages built when a conversation opens, and per "show earlier"


class ChatController(QObject):
    """One conversation at a time; drops chunks of any generation but the current one."""

    busy_changed = Signal(bool)
    answer_finished = Signal(object)  # GenerationStats
    conversations_changed = Signal()  # a title, a new chat, an update: the sidebar refreshes
    question_returned = Signal(str)  # a question that got no answer goes back to the composer
    context_used = Signal(int)  # tokens the conversation takes in the model's context
    thinking_changed = Signal(bool)  # the streaming answer entered or left its reasoning
    progress = Signal(int, float)  # while an answer streams: tokens so far, tokens/s
    refused = Signal(str)  # a new answer was asked for while none can be made: why, what to do
    attachments_returned = Signal(list)  # the files of a question that went back (Included)

    def __init__(
        self,
        bridge: ChatBridge,
        view: ChatView,
        store: ConversationStore,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.view = view
        self.store = store
        self.params = GenerationParams()
        self.system_prompt = ""
        self.conversation_id: int | None = None
        self.saving = ChatSaving(store, view, self)  # every write, and failed ones kept
        self._current: AssistantMessage | None = None  # the widget of the answer that streams
        self._current_id = 0  # the stored row of the answer that streams
        self._gen_id = 0
        self._saver = QTimer(self)
        self._saver.setInterval(SAVE_MS)
        self._saver.timeout.connect(self._save_partial)
        self._older: list[StoredMessage] = []  # not built yet: above what the view shows
        self.deletion = MessageDeletion(store, self.saving, self)  # a deleted message's undo
        self.blocker: Callable[[], str | None] = lambda: None  # why no answer can be made now
        self.live = LiveAnswer(self)  # thinking or not, its tokens and speed (the status bar)
        self.live.progress.connect(self.progress)
        self.live.thinking_changed.connect(self.thinking_changed)
        view.earlier_requested.connect(self.show_earlier)
        self._connect_bridge(bridge)
        self.files = QuestionFiles(store, self)
        self.context_used.connect(self.files.set_context_used)

    def _connect_bridge(self, bridge: ChatBridge) -> None:
        bridge.chunk.connect(self._on_chunk)
        bridge.finished.connect(self._on_finished)
        bridge.failed.connect(self._on_failed)
        bridge.thinking_ended.connect(self._on_thinking_ended)

    def set_bridge(self, bridge: ChatBridge) -> None:
        """Send the next answers to another engine; the one streaming now is kept, interrupted."""
        if bridge is self.bridge:
            return
        self.leave()
        old = self.bridge
        old.chunk.disconnect(self._on_chunk)
        old.finished.disconnect(self._on_finished)
        old.failed.disconnect(self._on_failed)
        old.thinking_ended.disconnect(self._on_thinking_ended)
        self.bridge = bridge
        self._connect_bridge(bridge)

    @property
    def busy(self) -> bool:
        return self._current is not None or self.files.pending is not None

    @property
    def messages(self) -> list[Message]:
        """The visible branch of the open conversation, as the model will see it (files too)."""
        if self.conversation_id is None:
            return []
        return self.files.turns(
            m
            for m in self.store.visible_messages(self.conversation_id)
            if m.role in ("user", "assistant") and m.state != "streaming"
        )

    def context_room(self, max_ctx: int = 0) -> ContextRoom | None:
        """The room the next question's files have (None: the engine does not say its context)."""
        return self.files.room(self.bridge.context_size, self.params.max_tokens, max_ctx)

    def _context(self) -> list[Message]:
        system = [Message("system", self.system_prompt)] if self.system_prompt else []
        return system + self.messages

    # -- opening -----------------------------------------------------------------------------

    def open(self, conversation_id: int | None) -> None:
        """Show a stored conversation (None: a new, empty one)."""
        self.leave()
        if conversation_id != self.conversation_id:
            self.deletion.forget()  # another chat: a deleted message's undo ends
        self.conversation_id = conversation_id
        self.view.clear()
        if conversation_id is None:
            return
        conversation = self.store.conversation(conversation_id)
        self.system_prompt = conversation.system_prompt
        self.params = params_from_dict(conversation.params, self.params)
        visible = self.store.visible_messages(conversation_id)
        answered = [m for m in visible if m.role == "assistant" and m.n_prompt]
        self.context_used.emit(answered[-1].n_prompt + answered[-1].n_generated if answered else 0)
        self._older = visible[:-PAGE]
        for message in visible[-PAGE:]:
            self._show(message)
        self.view.set_earlier(len(self._older))

    def show_earlier(self) -> None:
        """Build the next page of older messages above the ones shown."""
        if not self._older:
            return
        page, self._older = self._older[-PAGE:], self._older[:-PAGE]
        self.view.prepend([self._widget_for(message) for message in page])
        self.view.set_earlier(len(self._older))

    def new_chat(self) -> None:
        self.open(None)
        self.context_used.emit(0)

    def apply_settings(self, system_prompt: str, params: GenerationParams) -> None:
        """New settings for this conversation (and the next new ones); unsaved: unchanged."""
        conversation_id = self.conversation_id
        if conversation_id is not None:
            try:
                self.saving.write(
                    "settings",
                    lambda: self.store.update_conversation(
                        conversation_id, system_prompt=system_prompt, params=params_to_dict(params)
                    ),
                )
            except StorageError:
                return
        self.system_prompt, self.params = system_prompt, params

    def delete_message(self, message_id: int) -> None:
        """Remove a message and what followed it on its branch; undo_delete puts it back."""
        if self.busy or not self.deletion.delete(message_id):
            return
        self._reload_view()
        self.conversations_changed.emit()

    def undo_delete(self) -> None:
        """Put the deleted message (and what followed it) back, and show it."""
        conversation_id = None if self.busy else self.deletion.undo()
        if conversation_id is not None:
            self.open(conversation_id)
            self.conversations_changed.emit()

    def _show(self, message: StoredMessage) -> None:
        self.view.append(self._widget_for(message))

    def _widget_for(self, message: StoredMessage) -> UserMessage | AssistantMessage:
        branch = self.store.branch(message)
        if message.role == "user":
            user = UserMessage(message.content)
            user.bind(message.id, branch)
            user.set_unanswered(not self.store.child_count(message.id))
            user.edit_requested.connect(self.edit)
            user.branch_requested.connect(self.switch_branch)
            user.delete_requested.connect(self.delete_message)
            user.answer_requested.connect(self.answer_question)
            self.files.show_on_question(user, message.id)
            return user
        answer = AssistantMessage()
        answer.can_answer_now = self.bridge.can_answer_now
        unsaved = self.saving.unsaved.get(message.id)
        answer.show_stored(unsaved.over(message) if unsaved is not None else message)
        answer.set_saved(unsaved is None)
        self.files.show_on_answer(answer, message.parent_id)
        if self.store.child_count(message.id):
            answer.followed_up()  # going on would not fit what came after
        answer.bind(message.id, branch)
        self._connect_actions(answer)
        return answer

    def _connect_actions(self, answer: AssistantMessage) -> None:
        answer.regenerate_requested.connect(  # the old answer stays as another version
            lambda i: self.answer_question(self.store.message(i).parent_id)
        )
        answer.continue_requested.connect(self.continue_answer)
        answer.answer_now_requested.connect(lambda i: self.continue_answer(i, answer_now=True))
        answer.branch_requested.connect(self.switch_branch)
        answer.delete_requested.connect(self.delete_message)

    def _reload_view(self) -> None:
        self.open(self.conversation_id)

    # -- asking ------------------------------------------------------------------------------

    def _refused(self) -> bool:
        """No answer can be made now: say why (`refused`) and change nothing."""
        if (reason := self.blocker()) is not None:
            self.refused.emit(reason)
        return reason is not None

    def send(self, text: str, files: Sequence[Included] = ()) -> None:
        """Add the user's turn and its files, then start the answer; unsaved, both go back."""
        if self.busy or not text.strip() or self._refused():
            return
        self._fit(text, list(files), lambda included: self._send(text, included))

    def _send(self, text: str, included: list[Included]) -> None:
        try:
            conversation_id, question, answer = self.saving.write(
                "question", lambda: self._ask(text, included)
            )
        except StorageError:
            self._give_back(text, included)
            return
        self.conversation_id = conversation_id
        for widget in self.view.messages:
            if isinstance(widget, AssistantMessage):
                widget.followed_up()
        self._show(question)
        self._answer(answer, reload=False)
        self.conversations_changed.emit()

    def _ask(self, text: str, included: list[Included]) -> tuple[int, StoredMessage, StoredMessage]:
        """Store the question, its files and its empty answer (a new chat too), all or nothing."""
        with self.store.atomic():
            conversation_id = self.conversation_id
            if conversation_id is None:
                conversation_id = self.store.create_conversation(
                    model=self.bridge.model_name,
                    system_prompt=self.system_prompt,
                    params=params_to_dict(self.params),
                ).id
            question = self.store.add_message(conversation_id, "user", text)
            self.store.attach(question.id, included)
            return conversation_id, question, self._add_answer(conversation_id, question.id)

    def answer_question(self, question_id: int | None) -> None:
        """Answer this question (again): after a regenerate, or once its answer was deleted."""
        if self.busy or self.conversation_id is None or question_id is None or self._refused():
            return
        conversation_id = self.conversation_id
        try:
            stored = self.saving.write(
                "regenerate", lambda: self._add_answer(conversation_id, question_id)
            )
        except StorageError:
            return
        self._answer(stored, reload=True)

    def edit(self, question_id: int, text: str) -> None:
        """Ask an edited question; the original and its answers stay as another version."""
        if self.busy or not text.strip() or self.conversation_id is None or self._refused():
            return
        conversation_id = self.conversation_id
        try:  # the files go again; passages are picked again for the new text
            files = self.saving.write("edit", lambda: self.files.of(question_id))
        except StorageError:
            return

        def store_edit(included: list[Included]) -> StoredMessage:
            with self.store.atomic():
                old = self.store.message(question_id)
                stored = self.store.add_message(
                    conversation_id, "user", text, parent_id=old.parent_id
                )
                self.store.attach(stored.id, included)
                return self._add_answer(conversation_id, stored.id)

        def edited(included: list[Included]) -> None:
            try:
                answer = self.saving.write("edit", lambda: store_edit(included))
            except StorageError:
                return
            self._answer(answer, reload=True)

        self._fit(text, files, edited)

    def _fit(self, text: str, files: list[Included], then: Callable[[list], None]) -> None:
        """Fit a question's files in the context off the GUI thread, then go on."""
        if not files:
            then([])
            return

        def fitted(included: list[Included]) -> None:
            then(included)
            if not self.busy:  # it went no further (a save failed)
                self.busy_changed.emit(False)

        room = self.context_room()
        self.files.fit(text, files, room, self.bridge.count_tokens, fitted, self.stop)
        self.busy_changed.emit(True)

    def continue_answer(self, answer_id: int, *, answer_now: bool = False) -> None:
        """Go on with an answer that stopped early; answer_now: close its reasoning first."""
        if self.busy or self.conversation_id is None or self.store.child_count(answer_id):
            return
        if self._refused():
            return
        try:
            self.saving.write("continue", lambda: self.store.switch_branch(answer_id))
            self._reload_view()
            context = self._context()  # ends with the partial answer, which the model continues
            self.saving.write(
                "continue", lambda: self.store.update_message(answer_id, state="streaming")
            )
        except StorageError:
            return
        widget = self.view.messages[-1]
        assert isinstance(widget, AssistantMessage)
        widget.resume()
        self._start(widget, context, widget.model.next_params(self.params, answer_now=answer_now))

    def switch_branch(self, message_id: int) -> None:
        if self.busy:
            return
        try:
            self.saving.write("branch", lambda: self.store.switch_branch(message_id))
        except StorageError:
            return
        self._reload_view()

    def _add_answer(self, conversation_id: int, parent_id: int | None) -> StoredMessage:
        """The empty row an answer streams into."""
        return self.store.add_message(
            conversation_id,
            "assistant",
            parent_id=parent_id,
            state="streaming",
            model=self.bridge.model_name,
            model_ref=self.bridge.model_ref,  # the chat's model from now on
        )

    def _answer(self, stored: StoredMessage, *, reload: bool) -> None:
        """Stream into a new answer row; reload redraws the chat for its new branch."""
        if reload:
            self._reload_view()
        else:
            self._show(stored)
        widget = self.view.messages[-1]
        assert isinstance(widget, AssistantMessage)
        widget.resume()
        self._start(widget, self._context(), self.params)

    def _start(
        self, widget: AssistantMessage, context: list[Message], params: GenerationParams
    ) -> None:
        self.deletion.forget()  # new rows may take the deleted ones' places
        self.live.start()
        self._current = widget
        self._current_id = widget.message_id
        self._gen_id = self.bridge.generate(context, params.for_chat(self.conversation_id))
        widget.model.start(self._gen_id)
        self._saver.start()
        self.busy_changed.emit(True)

    def stop(self) -> None:
        given_back = self.files.cancel()  # files still being fitted: the question goes back
        if given_back is not None:
            self.busy_changed.emit(False)
            self._give_back(*given_back)
        if self._current is not None:
            self.bridge.cancel(self._gen_id)

    def leave(self) -> None:
        """Stop the answer that streams and keep all of it as interrupted: Continue goes on."""
        self.stop()
        if self._current is not None:  # its late end is dropped, so save it now
            self.saving.save_answer(self._current_id, self._current.model, "interrupted")
        self._end_generation()

    def answer_now(self) -> None:
        """End the reasoning of the answer that streams; the model answers with what it has."""
        if self._current is not None and self.live.thinking:
            self.bridge.answer_now(self._gen_id)

    # -- streaming ---------------------------------------------------------------------------

    def retry_saves(self) -> bool:
        """Write the answers kept in memory now (the banner's Retry); True when all are saved."""
        return self.saving.retry()

    def _save_partial(self) -> None:
        """Write what has streamed so far; a hard kill loses at most SAVE_MS of text. A save
        that failed is tried again on every tick."""
        if self._current is None:
            return
        answer = self._current.model
        if answer.dirty or self.saving.unsaved:
            answer.dirty = False
            self.saving.save_answer(self._current_id, answer)

    def _end_generation(self) -> None:
        self._saver.stop()
        self.live.stop()
        if self._current is not None:
            self._current = None
            self.busy_changed.emit(False)

    def _streaming(self, gen_id: int) -> Answer | None:
        """The answer that streams, if gen_id is its generation (late events are dropped)."""
        if self._current is None or gen_id != self._gen_id:
            return None
        return self._current.model

    def _on_chunk(self, gen_id: int, kind: str, text: str) -> None:
        answer = self._streaming(gen_id)
        if answer is not None and self._current is not None:
            answer.add(Chunk(gen_id, kind, text))  # type: ignore[arg-type]
            self._current.add_chunk(kind, text)
            self.live.chunk(kind)

    def _on_thinking_ended(self, gen_id: int, ended: ThinkingEnded) -> None:
        answer = self._streaming(gen_id)
        if answer is not None and self._current is not None:
            answer.add(ended)
            self._current.thinking_was_ended()

    def _on_finished(self, gen_id: int, stats: GenerationStats) -> None:
        answer = self._streaming(gen_id)
        if answer is None or self._current is None:
            return
        answer.add(Finished(gen_id, stats))
        self._current.finish()
        self.saving.save_answer(self._current_id, answer, "complete")
        self._end_generation()
        self.context_used.emit(stats.n_prompt + stats.n_generated)
        self.answer_finished.emit(stats)
        self.conversations_changed.emit()

    def _on_failed(self, gen_id: int, exc: BaseException) -> None:
        if self._current is None or gen_id != self._gen_id:
            return
        message = self._current
        title, text = describe(exc)
        message.fail(title, text)
        if message.answer or message.reasoning:  # keep what streamed; it can be continued
            self.saving.save_answer(self._current_id, message.model, "interrupted")
            message.mark_interrupted()
        else:
            self._drop_unanswered(self._current_id)
        self._end_generation()
        self.conversations_changed.emit()

    def _drop_unanswered(self, answer_id: int) -> None:
        """An answer that got no word is removed; a question left without any answer goes
        back to the composer (and a conversation left empty goes too)."""
        dropped = self.deletion.discard_unanswered(answer_id, self.files.of)
        if dropped is None:
            return  # both stay; at the next start the empty answer shows as interrupted
        if dropped.emptied:
            self.conversation_id = None
        if dropped.question is not None:
            self._give_back(dropped.question.content, dropped.files)

    def _give_back(self, question: str, files: list[Included]) -> None:
        """A question that got no answer goes back to the composer, with its files."""
        self.question_returned.emit(question)
        self.attachments_returned.emit(files)
