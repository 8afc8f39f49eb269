"""Qt bridge to the engine client: blocking engine calls run on threads, results come as signals."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from model_runtime.chat.generation import Chunk, Finished, GenerationParams, LoadRequest, Message
from model_runtime.chat.thinking import ThinkingEnded
from model_runtime.engine import EngineClient
from model_runtime.errors import EngineCrashed
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.planning import planner
from model_runtime.planning.guarded_load import load_planned
from model_runtime.planning.plan import LoadPlan, PlanOverrides


def emit_events(bridge: Any, events: Iterable[object]) -> None:
    """Turn a generation's events into the bridge's signals (engine or remote alike)."""
    for event in events:
        if isinstance(event, Chunk):
            bridge.chunk.emit(event.gen_id, event.kind, event.text)
        elif isinstance(event, Finished):
            bridge.finished.emit(event.gen_id, event.stats)
        elif isinstance(event, ThinkingEnded):
            bridge.thinking_ended.emit(event.gen_id, event)


class EngineBridge(QObject):
    """Owns an EngineClient; signals arrive on the GUI thread (queued connections)."""

    planned = Signal(object)  # LoadPlan
    loading = Signal(str)  # model path
    plan_loaded = Signal(object)  # PlannedLoad, just before loaded
    loaded = Signal(object)  # ModelSummary
    load_failed = Signal(object)  # exception
    chunk = Signal(int, str, str)  # gen_id, kind, text
    finished = Signal(int, object)  # gen_id, GenerationStats
    thinking_ended = Signal(int, object)  # gen_id, ThinkingEnded (answer now, budget, loop)
    failed = Signal(int, object)  # gen_id, exception
    crashed = Signal(object)  # EngineCrashed

    def __init__(self, client: EngineClient | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client or EngineClient()
        # What "Reload" loads: the model that ran last, or the load the worker died in.
        # A file the engine refused is not remembered: the model before it is still loaded.
        self.last_request: LoadRequest | None = None
        self._threads: list[threading.Thread] = []
        self._plan_seq = 0  # only the newest plan is reported

    def _run(self, target, *args) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=target, args=args, daemon=True, name="ponder-engine-io")
        self._threads.append(thread)
        thread.start()

    @property
    def summary(self):
        return self.client.summary

    def plan(
        self, path: str, overrides: PlanOverrides, hardware: Callable[[], HardwareInfo]
    ) -> None:
        """Read the model and plan its load in the background; emits planned or load_failed."""
        self._plan_seq += 1
        self._run(self._plan, self._plan_seq, path, overrides, hardware)

    def _plan(
        self, seq: int, path: str, overrides: PlanOverrides, hardware: Callable[[], HardwareInfo]
    ) -> None:
        try:
            plan = planner.plan_load(path, hardware(), overrides)
        except Exception as exc:
            if seq == self._plan_seq:
                self.load_failed.emit(exc)
        else:
            if seq == self._plan_seq:
                self.planned.emit(plan)

    def load(self, request: LoadRequest) -> None:
        """Load in the background; emits loaded or load_failed (and crashed if the worker died)."""
        self.loading.emit(request.model_path)
        self._run(self._load, request)

    def load_plan(self, plan: LoadPlan) -> None:
        """Load a plan that fits (or was forced), retrying once with a safer one if it fails."""
        self.loading.emit(plan.model_path)
        self._run(self._load, plan.to_load_request(), plan)

    def _load(self, request: LoadRequest, plan: LoadPlan | None = None) -> None:
        try:
            if plan is None:
                summary = self.client.load(request)
            else:
                done = load_planned(self.client, plan)
                request, summary = done.plan.to_load_request(), done.summary
                self.plan_loaded.emit(done)
        except EngineCrashed as exc:
            self.last_request = request
            self.load_failed.emit(exc)
            self.crashed.emit(exc)
        except Exception as exc:
            self.load_failed.emit(exc)
        else:
            self.last_request = request
            self.loaded.emit(summary)

    def generate(self, messages: Sequence[Message], params: GenerationParams) -> int:
        """Start a generation; returns its id, which tags every chunk of it."""
        gen_id = self.client.new_generation_id()
        self._run(self._generate, gen_id, list(messages), params)
        return gen_id

    def _generate(self, gen_id: int, messages: list[Message], params: GenerationParams) -> None:
        try:
            emit_events(self, self.client.generate(messages, params, gen_id=gen_id))
        except EngineCrashed as exc:
            self.failed.emit(gen_id, exc)
            self.crashed.emit(exc)
        except Exception as exc:
            self.failed.emit(gen_id, exc)

    def cancel(self, gen_id: int | None = None) -> None:
        self.client.cancel(gen_id)

    def answer_now(self, gen_id: int | None = None) -> None:
        self.client.answer_now(gen_id)

    def shutdown(self) -> None:
        self.client.cancel()
        for thread in self._threads:
            thread.join(timeout=2)
        self.client.close()
