"""Qt bridges to engines: any ChatEngine's answers as signals on the GUI thread, and the local
engine's planning and loading besides.

Blocking engine calls run as background Tasks; every signal arrives on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal

from desktop.common.background import Task, Tasks
from model_runtime.chat.engine_api import ChatEngine
from model_runtime.chat.generation import (
    Chunk,
    Event,
    Finished,
    GenerationParams,
    LoadRequest,
    Message,
    ModelSummary,
)
from model_runtime.chat.thinking import ThinkingEnded
from model_runtime.engine import EngineClient
from model_runtime.errors import EngineCrashed, EngineError
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.models.model_ref import ModelRef, ref_for_path
from model_runtime.models.starter import STARTER_NAME
from model_runtime.planning import planner
from model_runtime.planning.draft import known_model_paths
from model_runtime.planning.guarded_load import PlannedLoad, load_planned
from model_runtime.planning.plan import LoadPlan, PlanOverrides


class ChatBridge(QObject):
    """Streams a ChatEngine's answers: one background task per generation, events as signals."""

    chunk = Signal(int, str, str)  # gen_id, kind, text
    finished = Signal(int, object)  # gen_id, GenerationStats
    thinking_ended = Signal(int, object)  # gen_id, ThinkingEnded (answer now, budget, loop)
    failed = Signal(int, object)  # gen_id, exception
    crashed = Signal(object)  # EngineCrashed: the engine process died
    thought = Signal(object)  # an event of a run of thoughts (.seq names it), ThoughtsFinished last

    def __init__(self, engine: ChatEngine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.tasks = Tasks(self)

    @property
    def name(self) -> str:
        return self.engine.name

    @property
    def model_name(self) -> str:
        return self.engine.model_name

    @property
    def model_ref(self) -> str:
        """The model's identity, to load again (model_runtime/models/model_ref.py)."""
        return str(ModelRef.remote(self.name))

    @property
    def can_answer_now(self) -> bool:
        return self.engine.can_answer_now

    @property
    def leaves_this_computer(self) -> bool:
        return self.engine.leaves_this_computer

    @property
    def context_size(self) -> int | None:
        """Tokens the model's context holds (None: this engine does not say)."""
        return None

    @property
    def max_votes(self) -> int:
        """The most thoughts on one question at once (Think harder); 0: this engine can't."""
        return 0

    def generate_thoughts(
        self, messages: Sequence[Message], params: GenerationParams, n: int
    ) -> int:
        raise EngineError("Think harder needs the local model: this engine answers once at a time.")

    def count_tokens(self, text: str) -> int | None:
        """Tokens the model makes of a text; None where the engine can't count. Blocks: call
        it off the GUI thread."""
        return None

    def generate(self, messages: Sequence[Message], params: GenerationParams) -> int:
        """Start a generation; returns its id, which tags every chunk of it."""
        gen_id = self.engine.new_generation_id()
        history = list(messages)
        self.tasks.start(
            lambda _task: self.engine.generate(history, params, gen_id=gen_id),
            on_progress=self._emit,
            on_error=lambda exc: self._fail(gen_id, exc),
        )
        return gen_id

    def _emit(self, event: Event) -> None:
        if isinstance(event, Chunk):
            self.chunk.emit(event.gen_id, event.kind, event.text)
        elif isinstance(event, Finished):
            self.finished.emit(event.gen_id, event.stats)
        elif isinstance(event, ThinkingEnded):
            self.thinking_ended.emit(event.gen_id, event)

    def _fail(self, gen_id: int, exc: BaseException) -> None:
        self.failed.emit(gen_id, exc)
        if isinstance(exc, EngineCrashed):
            self.crashed.emit(exc)

    def cancel(self, gen_id: int | None = None) -> None:
        self.engine.cancel(gen_id)

    def answer_now(self, gen_id: int | None = None) -> None:
        self.engine.answer_now(gen_id)

    def shutdown(self) -> None:
        self.engine.cancel()
        self.tasks.wait(timeout=2)
        self.engine.close()


class EngineBridge(ChatBridge):
    """The local engine: a ChatBridge over an EngineClient, plus planning and loading."""

    planned = Signal(object)  # LoadPlan
    loading = Signal(str)  # model path
    plan_loaded = Signal(object)  # PlannedLoad, just before loaded
    loaded = Signal(object)  # ModelSummary
    load_failed = Signal(object)  # exception

    def __init__(self, client: EngineClient | None = None, parent: QObject | None = None) -> None:
        self.client = client or EngineClient()
        super().__init__(self.client, parent)
        # What "Reload" loads: the model that ran last, or the load the worker died in.
        # A file the engine refused is not remembered: the model before it is still loaded.
        self.last_request: LoadRequest | None = None

    @property
    def summary(self) -> ModelSummary | None:
        return self.client.summary

    @property
    def model_ref(self) -> str:
        summary = self.client.summary
        return str(ref_for_path(summary.path)) if summary is not None else ""

    @property
    def model_name(self) -> str:
        """The starter's own name (its file calls itself "Smollm2 135M 8k Lc100K …"), else the
        name the model's file gives."""
        summary = self.client.summary
        if summary is not None and ref_for_path(summary.path).kind == "starter":
            return STARTER_NAME
        return self.client.model_name

    @property
    def context_size(self) -> int | None:
        summary = self.client.summary
        return summary.n_ctx if summary is not None else None

    def count_tokens(self, text: str) -> int | None:
        return self.client.count_tokens(text) if self.client.summary is not None else None

    @property
    def max_votes(self) -> int:
        return self.client.max_sequences

    def generate_thoughts(
        self, messages: Sequence[Message], params: GenerationParams, n: int
    ) -> int:
        """Start n thoughts on one question at once; their events come as `thought`, tagged
        with the returned id (a failure as `failed`)."""
        gen_id = self.client.new_generation_id()
        history = list(messages)
        self.tasks.start(
            lambda _task: self.client.generate_parallel(history, params, n, gen_id=gen_id),
            on_progress=self.thought.emit,
            on_error=lambda exc: self._fail(gen_id, exc),
        )
        return gen_id

    def forget_states(self, tag: str | None, done: Callable[[object], None] | None = None) -> None:
        """Drop a chat's saved KV states (None: the whole cache) in the background; `done` is
        called with None, or with the exception when the disk refused."""
        forget = self.client.forget_states
        self.tasks.start(lambda _task: forget(tag), on_result=done, on_error=done)

    def plan(
        self, path: str, overrides: PlanOverrides, hardware: Callable[[], HardwareInfo]
    ) -> None:
        """Read the model and plan its load in the background; emits planned or load_failed.
        Only the newest plan is reported."""
        self.tasks.start(
            lambda _task: planner.plan_load(
                path, hardware(), overrides, candidates=known_model_paths()
            ),
            on_result=self.planned.emit,
            on_error=self.load_failed.emit,
            key="plan",
        )

    def load(self, request: LoadRequest) -> None:
        """Load in the background; emits loaded or load_failed (and crashed if the worker died)."""
        self.loading.emit(request.model_path)
        self._start_load(request, lambda _task: self.client.load(request))

    def load_plan(self, plan: LoadPlan) -> None:
        """Load a plan that fits (or was forced), retrying once with a safer one if it fails."""
        self.loading.emit(plan.model_path)
        self._start_load(plan.to_load_request(), lambda _task: load_planned(self.client, plan))

    def _start_load(self, request: LoadRequest, work: Callable[[Task], object]) -> None:
        self.tasks.start(
            work,
            on_result=lambda done: self._on_loaded(request, done),
            on_error=lambda exc: self._on_load_error(request, exc),
        )

    def _on_loaded(self, request: LoadRequest, done: ModelSummary | PlannedLoad) -> None:
        if isinstance(done, PlannedLoad):  # perhaps with safer settings than first planned
            self.last_request = done.plan.to_load_request()
            self.plan_loaded.emit(done)
            self.loaded.emit(done.summary)
        else:
            self.last_request = request
            self.loaded.emit(done)

    def _on_load_error(self, request: LoadRequest, exc: BaseException) -> None:
        if isinstance(exc, EngineCrashed):
            self.last_request = request
            self.load_failed.emit(exc)
            self.crashed.emit(exc)
        else:
            self.load_failed.emit(exc)
