"""Runs one conversation: sends turns to the engine and routes its chunks to the right message."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from model_runtime.generation import GenerationParams, GenerationStats, Message

from .chat_view import ChatView
from .engine_bridge import EngineBridge
from .error_messages import describe
from .message_widgets import AssistantMessage


class ChatController(QObject):
    """Keeps the turns of the conversation; drops chunks of any generation but the current one."""

    busy_changed = Signal(bool)
    answer_finished = Signal(object)  # GenerationStats

    def __init__(self, bridge: EngineBridge, view: ChatView, parent: QObject | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.view = view
        self.params = GenerationParams()
        self.system_prompt = ""
        self.messages: list[Message] = []
        self._current: AssistantMessage | None = None
        self._gen_id = 0
        bridge.chunk.connect(self._on_chunk)
        bridge.finished.connect(self._on_finished)
        bridge.failed.connect(self._on_failed)

    @property
    def busy(self) -> bool:
        return self._current is not None

    def send(self, text: str) -> None:
        """Add the user's turn and start the answer."""
        if self.busy or not text.strip():
            return
        self.messages.append(Message("user", text))
        self.view.add_user_message(text)
        self._current = self.view.add_assistant_message()

        context = [Message("system", self.system_prompt)] if self.system_prompt else []
        self._gen_id = self.bridge.generate(context + self.messages, self.params)
        self._current.gen_id = self._gen_id
        self.busy_changed.emit(True)

    def stop(self) -> None:
        if self._current is not None:
            self.bridge.cancel(self._gen_id)

    def new_chat(self) -> None:
        self.stop()
        self._finish_current()
        self.messages.clear()
        self.view.clear()

    def _finish_current(self) -> None:
        if self._current is not None:
            self._current = None
            self.busy_changed.emit(False)

    def _on_chunk(self, gen_id: int, kind: str, text: str) -> None:
        if self._current is not None and gen_id == self._gen_id:
            self._current.add_chunk(kind, text)

    def _on_finished(self, gen_id: int, stats: GenerationStats) -> None:
        if self._current is None or gen_id != self._gen_id:
            return
        message = self._current
        message.finish(stats)
        self.messages.append(Message("assistant", message.answer, message.reasoning))
        self._finish_current()
        self.answer_finished.emit(stats)

    def _on_failed(self, gen_id: int, exc: BaseException) -> None:
        if self._current is None or gen_id != self._gen_id:
            return
        message = self._current
        title, text = describe(exc)
        message.fail(title, text)
        if message.answer or message.reasoning:  # keep what streamed before the failure
            self.messages.append(Message("assistant", message.answer, message.reasoning))
        else:
            self.messages.pop()  # the question stays on screen; it can be asked again
        self._finish_current()
