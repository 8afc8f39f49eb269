"""The GUI's (and CLI's) handle on the engine worker process."""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from model_runtime import engine_process, errors, paths
from model_runtime.chat.generation import (
    Event,
    Finished,
    GenerationParams,
    LoadRequest,
    Message,
    ModelSummary,
)
from model_runtime.chat.thoughts import ThoughtsEvent, ThoughtsFinished
from model_runtime.engine import protocol
from model_runtime.engine.kv_files import forget_files
from model_runtime.llama.log import ABORT_EXITCODES, abort_message, crash_tail, describe_exit

POLL_SECONDS = 0.1
STDERR_TAIL_LINES = 20
KEEP_LOGS = 10

_RAISABLE = {
    name: getattr(errors, name)
    for name in (
        "ModelFileError",
        "EngineError",
        "InsufficientMemory",
        "GrammarError",
        "PonderError",
    )
}


def prune_logs(log_dir: Path) -> None:
    """Keep the newest KEEP_LOGS engine logs (names sort by time)."""
    for old in sorted(log_dir.glob("engine-*.log"))[:-KEEP_LOGS]:
        with contextlib.suppress(OSError):
            old.unlink()


class EngineClient:
    """Starts and drives one worker process; one request at a time, cancel from any thread.

    A ChatEngine: the local model answers, and Ponder can end its reasoning (answer_now).
    """

    name = "this computer"
    can_answer_now = True
    leaves_this_computer = False

    def __init__(self, log_dir: Path | None = None) -> None:
        self._log_dir = log_dir
        self._process: Any = None
        self._conn: Any = None
        self._cancel_flag: Any = None
        self._answer_now_flag: Any = None
        self._lock = threading.Lock()  # one request at a time in the worker
        self._flags_lock = threading.Lock()  # guards the two fields below
        self._gen_ids = itertools.count(1)
        self._current_gen = 0
        # Cancels and answer-nows for generations still waiting for the worker: applied when
        # their turn comes, so they never touch the one running (the chat and the server
        # share this client).
        self._pending: dict[str, set[int]] = {"cancel": set(), "answer_now": set()}
        self.log_path: Path | None = None
        self.summary: ModelSummary | None = None
        self.crash: errors.EngineCrashed | None = None  # how the last worker died, until a load
        self._rpc_workers: frozenset[str] = frozenset()  # registered in the running worker

    @property
    def model_name(self) -> str:
        return self.summary.name if self.summary is not None else ""

    # -- process lifetime ------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        """Start a fresh worker process (the previous one, if any, is stopped first)."""
        self.close()
        ctx = multiprocessing.get_context("spawn")
        log_dir = self._log_dir or paths.logs_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        prune_logs(log_dir)
        self.log_path = log_dir / f"engine-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        self._cancel_flag = ctx.RawValue("q", 0)
        self._answer_now_flag = ctx.RawValue("q", 0)
        parent, child = ctx.Pipe(duplex=True)
        self._process = ctx.Process(
            target=engine_process.main,
            args=(child, self._cancel_flag, self._answer_now_flag, str(self.log_path)),
            name="ponder-engine",
            daemon=True,
        )
        self._process.start()
        self._rpc_workers = frozenset()
        child.close()
        self._conn = parent
        self._receive()  # READY

    def close(self) -> None:
        """Stop the worker, politely first."""
        self.crash = None
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self.summary = None
        if process is None or conn is None:
            return
        with contextlib.suppress(OSError, ValueError):
            conn.send((protocol.SHUTDOWN,))
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
        conn.close()

    def _crashed(self) -> errors.EngineCrashed:
        process = self._process
        if process is not None:
            process.join(timeout=2)
        exitcode = process.exitcode if process is not None else None
        stderr, why = "", None
        if self.log_path:
            aborted = exitcode in ABORT_EXITCODES
            # the GGML_ASSERT line, and the log up to it: never the debugger's backtrace after it
            why = abort_message(self.log_path) if aborted else None
            stderr = crash_tail(self.log_path, STDERR_TAIL_LINES, aborted=aborted)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None
        self.summary = None
        how = describe_exit(exitcode) + (f" {why}" if why else "")
        self.crash = errors.EngineCrashed(
            f"The engine process {how}. The model must be loaded again.",
            exitcode=exitcode,
            stderr_tail=stderr,
        )
        return self.crash

    def poll_crash(self) -> errors.EngineCrashed | None:
        """The crash of a worker that died while nobody was using it; None while it lives (or
        is in use: its user will hear of a death). Any thread."""
        process = self._process
        if process is None or process.is_alive() or not self._lock.acquire(blocking=False):
            return None
        try:
            if self._process is not process:  # replaced or closed meanwhile
                return None
            return self._crashed()
        finally:
            self._lock.release()

    def _receive(self) -> tuple:
        """The next message from the worker; EngineCrashed if it died instead."""
        conn, process = self._conn, self._process
        if conn is None or process is None:
            raise errors.EngineError("The engine is not running.")
        while True:
            try:
                if conn.poll(POLL_SECONDS):
                    return conn.recv()
            except (EOFError, OSError):
                raise self._crashed() from None
            if not process.is_alive() and not conn.poll(0):
                raise self._crashed()

    def _send(self, message: tuple) -> None:
        if self._conn is None:
            raise self.crash or errors.EngineError("No model is loaded.")
        try:
            self._conn.send(message)
        except (OSError, ValueError):
            raise self._crashed() from None

    @staticmethod
    def _raise(reply: tuple) -> None:
        _, _gen_id, name, message, extra = reply
        if name == "ContextOverflow":
            raise errors.ContextOverflow(message, **extra)
        raise _RAISABLE.get(name, errors.EngineError)(message)

    # -- requests --------------------------------------------------------------------------

    def load(self, request: LoadRequest) -> ModelSummary:
        """Load a model in the worker (starting one if needed); blocks until it is ready."""
        with self._lock:
            # llama.cpp cannot forget an RPC worker's devices: without it, a fresh worker
            if not self.alive or self._rpc_workers - set(request.rpc_workers):
                self.start()
            self._rpc_workers |= set(request.rpc_workers)
            self._send((protocol.LOAD, request))
            reply = self._receive()
            if reply[0] == protocol.ERROR:
                self._raise(reply)
            self.summary = reply[1]
            self.crash = None
            return reply[1]

    def unload(self) -> None:
        with self._lock:
            if not self.alive:
                return
            self._send((protocol.UNLOAD,))
            self._receive()
            self.summary = None

    def count_tokens(self, text: str) -> int:
        """How many tokens the loaded model makes of a text; waits for a running generation."""
        with self._lock:
            if self.summary is None or not self.alive:
                raise errors.EngineError("No model is loaded.")
            self._send((protocol.TOKENIZE, text))
            reply = self._receive()
            if reply[0] == protocol.ERROR:
                self._raise(reply)
            return int(reply[1])

    def forget_states(self, tag: str | None) -> None:
        """Drop the saved KV states of a chat (its cache tag; None: every chat's), in the
        worker's memory and on disk. Waits for a running generation: call it off the GUI
        thread."""
        with self._lock:
            if self.alive:
                self._send((protocol.FORGET, tag))
                reply = self._receive()
                if reply[0] == protocol.ERROR:
                    self._raise(reply)
            else:
                forget_files(paths.kv_cache_dir(), tag)

    def new_generation_id(self) -> int:
        return next(self._gen_ids)

    def generate(
        self,
        messages: Sequence[Message],
        params: GenerationParams | None = None,
        *,
        gen_id: int | None = None,
    ) -> Iterator[Event]:
        """Stream the answer's events; the last one is Finished. Cancel with cancel()."""
        gen_id = gen_id if gen_id is not None else self.new_generation_id()
        with self._lock:
            self._start_turn(gen_id)
            self._send((protocol.GENERATE, gen_id, list(messages), params or GenerationParams()))
            while True:
                reply = self._receive()
                if reply[0] == protocol.ERROR:
                    self._raise(reply)
                event = reply[1]
                yield event
                if isinstance(event, Finished) and event.gen_id == gen_id:
                    return

    @property
    def max_sequences(self) -> int:
        """The most thoughts on one prompt the loaded model may run at once (0: none loaded)."""
        return self.summary.max_sequences if self.summary is not None else 0

    def generate_parallel(
        self,
        messages: Sequence[Message],
        params: GenerationParams | None = None,
        n: int = 2,
        *,
        gen_id: int | None = None,
    ) -> Iterator[ThoughtsEvent]:
        """Stream n thoughts on one prompt at once (engine/parallel.py): their events carry
        the thought's index (seq), each ends with its Finished, the run with ThoughtsFinished.
        cancel() and answer_now() act on every thought still running."""
        gen_id = gen_id if gen_id is not None else self.new_generation_id()
        with self._lock:
            self._start_turn(gen_id)
            request = (protocol.GENERATE_N, gen_id, list(messages), params or GenerationParams(), n)
            self._send(request)
            while True:
                reply = self._receive()
                if reply[0] == protocol.ERROR:
                    self._raise(reply)
                yield reply[1]
                if isinstance(reply[1], ThoughtsFinished) and reply[1].gen_id == gen_id:
                    return

    def _flag(self, kind: str) -> Any:
        return self._cancel_flag if kind == "cancel" else self._answer_now_flag

    def _start_turn(self, gen_id: int) -> None:
        """gen_id runs now: what was asked of it while it waited takes effect."""
        with self._flags_lock:
            self._current_gen = gen_id
            for kind, pending in self._pending.items():
                flag = self._flag(kind)
                if gen_id in pending and flag is not None:
                    flag.value = max(flag.value, gen_id)
                pending.difference_update([g for g in pending if g <= gen_id])

    def _signal(self, kind: str, gen_id: int | None) -> None:
        """Raise a worker flag for gen_id if it runs now, or keep it for when its turn comes.

        The worker stops when flag >= its generation id, so a flag is only ever raised to the
        running id: a larger one would also stop a generation someone else is waiting on.
        """
        with self._flags_lock:
            target = self._current_gen if gen_id is None else gen_id
            flag = self._flag(kind)
            if target == self._current_gen and flag is not None:
                flag.value = max(flag.value, target)
            elif target > self._current_gen:
                self._pending[kind].add(target)

    def cancel(self, gen_id: int | None = None) -> None:
        """Stop a generation, running or still waiting (no id: the running one); any thread."""
        self._signal("cancel", gen_id)

    def answer_now(self, gen_id: int | None = None) -> None:
        """End the model's reasoning and let it answer (same KV cache); safe from any thread."""
        self._signal("answer_now", gen_id)
