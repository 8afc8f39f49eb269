"""Think harder in the chat: several thoughts on one question at once, then a vote.

The question is stored with one empty answer per thought, all versions of it in one vote
(conversations/votes.py); the thoughts stream into compact lanes (think_harder.py), each
saved as it streams like any answer. When they are done the vote is counted (chat/vote.py),
the chat shows the answer most thoughts reached, and every thought stays a version of the
answer with its own thinking pane, the tally under each. Stop stops them all (those that
finished still vote); Answer now ends every thought still thinking; an engine that crashes
keeps what streamed, as interrupted answers.

VotingChatController is the chat's controller with Think harder: a subclass, so that the
controller of a single answer stays as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QVBoxLayout

from desktop.chat.controller import SAVE_MS, ChatController
from desktop.chat.messages import AssistantMessage, UserMessage
from desktop.chat.think_harder import TallyBar, ThoughtLanes
from desktop.chat.view import ChatView
from desktop.common.error_messages import describe
from desktop.engines.bridge import ChatBridge
from model_runtime.attachments.prompt import Included
from model_runtime.chat.generation import Chunk, Finished
from model_runtime.chat.thinking import ThinkingEnded
from model_runtime.chat.thoughts import Thoughts, ThoughtsEvent, ThoughtsFinished
from model_runtime.chat.vote import Tally, tally
from model_runtime.conversations.params import params_to_dict
from model_runtime.conversations.records import StoredMessage
from model_runtime.conversations.store import ConversationStore
from model_runtime.errors import StorageError


def stored_tally(members: Sequence[StoredMessage]) -> Tally:
    """The vote over stored thoughts: those that finished vote (not stopped, not interrupted)."""
    counted = [
        m.content if m.state == "complete" and m.finish_reason != "cancelled" else ""
        for m in members
    ]
    return tally(counted)


def _deleting(store: ConversationStore, message_id: int) -> Callable[[], object]:
    return lambda: store.delete_message(message_id)


class VoteRun(QObject):
    """One Think harder at a time: store, stream, save, count, show."""

    def __init__(self, chat: VotingChatController, bridge: ChatBridge) -> None:
        super().__init__(chat)
        self.chat = chat
        self.bridge = bridge  # the local engine: the one that thinks harder
        self.thoughts: Thoughts | None = None
        self.ids: list[int] = []
        self.lanes: ThoughtLanes | None = None
        self.gen_id = 0
        self._saver = QTimer(self)
        self._saver.setInterval(SAVE_MS)
        self._saver.timeout.connect(self._save_partial)
        bridge.thought.connect(self._on_event)
        bridge.failed.connect(self._on_failed)

    @property
    def running(self) -> bool:
        return self.thoughts is not None

    def start(self, text: str, included: list[Included], n: int) -> None:
        """Store the question and its n thoughts, show their lanes, and start them."""
        chat = self.chat
        try:
            conversation_id, question, thoughts = chat.saving.write(
                "question", lambda: self._ask(text, included, n)
            )
        except StorageError:
            chat._give_back(text, included)
            return
        chat.conversation_id = conversation_id
        for widget in chat.view.messages:
            if isinstance(widget, AssistantMessage):
                widget.followed_up()
        chat._show(question)
        self.ids = [t.id for t in thoughts]
        self.lanes = ThoughtLanes(n, chat.params.max_tokens)
        chat.view.append(self.lanes)
        self.gen_id = self.bridge.generate_thoughts(chat._context(), chat.params, n)
        self.thoughts = Thoughts(n, self.gen_id)
        self._saver.start()
        chat.busy_changed.emit(True)
        chat.conversations_changed.emit()

    def _ask(
        self, text: str, included: list[Included], n: int
    ) -> tuple[int, StoredMessage, list[StoredMessage]]:
        """The question, its files and n empty thoughts (a new chat too), all or nothing."""
        chat, store = self.chat, self.chat.store
        with store.atomic():
            conversation_id = chat.conversation_id
            if conversation_id is None:
                conversation_id = store.create_conversation(
                    model=self.bridge.model_name,
                    system_prompt=chat.system_prompt,
                    params=params_to_dict(chat.params),
                ).id
            question = store.add_message(conversation_id, "user", text)
            store.attach(question.id, included)
            model = self.bridge.model_name
            return (
                conversation_id,
                question,
                store.add_thoughts(conversation_id, question.id, n, model=model),
            )

    def stop(self) -> None:
        """Stop every thought; those that finished still vote."""
        if self.running:
            self.bridge.cancel(self.gen_id)

    def answer_now(self) -> None:
        """End the thinking of every thought still thinking."""
        if self.running:
            self.bridge.answer_now(self.gen_id)

    def leave(self) -> None:
        """Another chat opens (or the window closes): stop, and keep each thought that said
        anything as interrupted (Continue goes on with it)."""
        thoughts = self.thoughts
        if thoughts is None:
            return
        self.stop()
        for message_id, answer in zip(self.ids, thoughts.answers, strict=True):
            if not answer.finished and (answer.answer or answer.reasoning):
                self.chat.saving.save_answer(message_id, answer, "interrupted")
        self._end()

    def _end(self) -> None:
        self._saver.stop()
        self.thoughts = None
        self.chat.live.set_thinking(False)
        self.chat.busy_changed.emit(False)

    def _save_partial(self) -> None:
        """What streamed so far, twice a second (a hard kill loses at most that much)."""
        if self.thoughts is None:
            return
        for message_id, answer in zip(self.ids, self.thoughts.answers, strict=True):
            if answer.dirty and not answer.finished:
                answer.dirty = False
                self.chat.saving.save_answer(message_id, answer)

    def _on_event(self, event: ThoughtsEvent) -> None:
        thoughts, lanes = self.thoughts, self.lanes
        if thoughts is None or lanes is None or event.gen_id != self.gen_id:
            return
        answer = thoughts.add(event)
        if isinstance(event, Chunk):
            lanes.add(event.seq, event.kind, event.text)
        elif isinstance(event, ThinkingEnded):
            lanes.thinking_ended(event.seq, event)
        elif isinstance(event, Finished) and answer is not None:
            self.chat.saving.save_answer(self.ids[event.seq], answer, "complete")
            lanes.finished(event.seq, answer)
        elif isinstance(event, ThoughtsFinished):
            self._counted(thoughts)
            return
        self.chat.live.set_thinking(lanes.thinking)

    def _counted(self, thoughts: Thoughts) -> None:
        """All thoughts ended: drop those that said nothing, show the vote's winner."""
        self._end()
        counted = thoughts.tally()
        kept = self._drop_silent(thoughts)
        if not kept:  # stopped before any word: the question went back to the composer
            self.chat._reload_view()
            return
        winner = counted.winner
        shown = self.ids[winner.sequences[0]] if winner is not None else kept[0]
        with contextlib.suppress(StorageError):  # then the chat shows the first thought
            self.chat.saving.write("branch", lambda: self.chat.store.switch_branch(shown))
        self.chat._reload_view()
        figures, run = thoughts.answers[self.ids.index(shown)].stats, thoughts.run
        if figures is not None and run is not None:
            self.chat.context_used.emit(figures.n_prompt + figures.n_generated)
            # the shown answer's own speed, the figure under it: one definition of tokens/s
            self.chat.answer_finished.emit(figures)
        self.chat.conversations_changed.emit()

    def _drop_silent(self, thoughts: Thoughts) -> list[int]:
        """Delete the thoughts that said nothing; the ids of the others. When none said
        anything, the question goes back to the composer, as for a single answer."""
        silent = [
            message_id
            for message_id, answer in zip(self.ids, thoughts.answers, strict=True)
            if not (answer.answer.strip() or answer.reasoning.strip())
        ]
        kept = [message_id for message_id in self.ids if message_id not in silent]
        store = self.chat.store
        last = None if kept else silent.pop()
        try:
            for message_id in silent:
                self.chat.saving.write("discard", _deleting(store, message_id))
        except StorageError:
            return kept
        if last is not None:
            self.chat._drop_unanswered(last)
            self.chat.conversations_changed.emit()
        return kept

    def _on_failed(self, gen_id: int, exc: BaseException) -> None:
        """The run failed (refused, or the engine crashed): keep what streamed, say why."""
        thoughts, lanes = self.thoughts, self.lanes
        if thoughts is None or lanes is None or gen_id != self.gen_id:
            return
        lanes.fail(*describe(exc))
        for message_id, answer in zip(self.ids, thoughts.answers, strict=True):
            if answer.answer or answer.reasoning:
                self.chat.saving.save_answer(message_id, answer, "interrupted")
        self._end()
        self._drop_silent(thoughts)
        self.chat.conversations_changed.emit()

    def show_tally(self, widget: AssistantMessage, message: StoredMessage) -> None:
        """Under a thought of a vote: the tally, its groups linked to their first thought."""
        members = self.chat.store.vote(message)
        if len(members) < 2:
            return
        bar = TallyBar(stored_tally(members), members, message.id, widget)
        bar.branch_requested.connect(self.chat.switch_branch)
        layout = widget.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(layout.indexOf(widget.action_bar), bar)


class VotingChatController(ChatController):
    """The chat's controller with Think harder (VoteRun) beside single answers."""

    def __init__(
        self,
        bridge: ChatBridge,
        view: ChatView,
        store: ConversationStore,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(bridge, view, store, parent)
        self.votes = VoteRun(self, bridge)

    @property
    def busy(self) -> bool:
        return super().busy or self.votes.running

    @property
    def max_votes(self) -> int:
        """The most thoughts at once the engine that answers now allows (0: it can't)."""
        return self.bridge.max_votes if self.bridge is self.votes.bridge else 0

    def think_harder(self, text: str, files: Sequence[Included], n: int) -> None:
        """Ask n thoughts on a question at once, then show the answer most of them reach."""
        if self.busy or not text.strip() or n > self.max_votes:
            return
        self._fit(text, list(files), lambda included: self.votes.start(text, included, n))

    def stop(self) -> None:
        super().stop()
        self.votes.stop()

    def answer_now(self) -> None:
        super().answer_now()
        self.votes.answer_now()

    def leave(self) -> None:
        self.votes.leave()
        super().leave()

    def _widget_for(self, message: StoredMessage) -> UserMessage | AssistantMessage:
        widget = super()._widget_for(message)
        if isinstance(widget, AssistantMessage) and message.vote_id:
            self.votes.show_tally(widget, message)
        return widget
