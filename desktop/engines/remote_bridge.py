"""Qt bridge to a remote engine: the chat controller's side of EngineBridge, over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from desktop.engines.bridge import emit_events
from model_runtime.chat.generation import GenerationParams, Message
from model_runtime.serving.remote import RemoteEngine


@dataclass(frozen=True)
class RemoteSummary:
    """What the chat stores as an answer's model: the endpoint's name and model."""

    name: str
    endpoint: str


class RemoteBridge(QObject):
    """Runs RemoteEngine.generate on a thread; signals as EngineBridge's (queued connections)."""

    chunk = Signal(int, str, str)  # gen_id, kind, text
    finished = Signal(int, object)  # gen_id, GenerationStats
    thinking_ended = Signal(int, object)  # gen_id, ThinkingEnded
    failed = Signal(int, object)  # gen_id, exception

    can_answer_now = False

    def __init__(self, name: str, engine: RemoteEngine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.engine = engine
        self._threads: list[threading.Thread] = []

    @property
    def summary(self) -> RemoteSummary:
        return RemoteSummary(self.engine.model or self.name, self.name)

    @property
    def leaves_this_computer(self) -> bool:
        return self.engine.leaves_this_computer

    def generate(self, messages: Sequence[Message], params: GenerationParams) -> int:
        """Start a generation; returns its id, which tags every chunk of it."""
        gen_id = self.engine.new_generation_id()
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(
            target=self._generate,
            args=(gen_id, list(messages), params),
            daemon=True,
            name="ponder-remote-io",
        )
        self._threads.append(thread)
        thread.start()
        return gen_id

    def _generate(self, gen_id: int, messages: list[Message], params: GenerationParams) -> None:
        try:
            emit_events(self, self.engine.generate(messages, params, gen_id=gen_id))
        except Exception as exc:  # the controller keeps any partial text and says why
            self.failed.emit(gen_id, exc)

    def cancel(self, gen_id: int | None = None) -> None:
        self.engine.cancel(gen_id)

    def answer_now(self, gen_id: int | None = None) -> None:
        """Not possible remotely: the server decides when its model stops reasoning."""

    def shutdown(self) -> None:
        self.engine.cancel()
        for thread in self._threads:
            thread.join(timeout=2)
        self.engine.close()
