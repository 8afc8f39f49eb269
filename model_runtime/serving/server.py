"""Ponder as a server: an OpenAI-compatible HTTP API in front of one loaded model.

``/v1/models`` and ``/v1/chat/completions`` (streamed as server-sent events, or whole), with
the reasoning apart from the answer as ``reasoning_content``. Built on the standard library's
``http.server``: one thread per connection (up to a limit), but the model answers one request
at a time, in the order they came; the others wait, in a queue of bounded length and for a
bounded time (turns.py). A client that goes away stops its generation: a watcher notices the
closed socket (even during prompt evaluation, when nothing is written) and so does a failed
write. Stop strings apply to the answer, not to the reasoning. If the engine process dies,
the server answers 503 with Retry-After and, given a way to reload, brings the model back
(recovery.py).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model_runtime import netlog
from model_runtime.chat.generation import Chunk, Event, Finished, GenerationStats
from model_runtime.errors import ContextOverflow, EngineCrashed, GrammarError, PonderError
from model_runtime.netlog import is_loopback
from model_runtime.serving.choices import answer_choices, check_choices
from model_runtime.serving.http import Handler, HTTPServer, HTTPServer6, peer_closed
from model_runtime.serving.openai_format import (
    ChatRequest,
    StopMatcher,
    WireError,
    dumps,
    error_body,
    finish_in_words,
    usage,
    wire_finish_reason,
)
from model_runtime.serving.recovery import EngineRecovery
from model_runtime.serving.turns import FifoTurns, ServeLimits, Turn

if TYPE_CHECKING:
    from model_runtime.engine import EngineClient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
WATCH_SECONDS = 0.1  # how often a waiting or generating request checks for its client


@dataclass
class ServedRequest:
    """What happened to one chat request: when it waited, ran and ended, and how."""

    id: str
    stream: bool
    queued_at: float
    gen_id: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    stats: GenerationStats | None = None
    client_gone: bool = False
    error: str = ""


class _ClientGone(Exception):
    """A write to the client failed: it went away."""


class OpenAIServer:
    """Serves one EngineClient's loaded model over HTTP until stop(); start() returns at once.

    `reload` loads the served model again after its engine process died (the CLI passes one;
    the window reloads by itself and hears of the crash through `on_crashed`, from a server
    thread).
    """

    def __init__(
        self,
        client: EngineClient,
        model_name: str | None = None,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        api_key: str | None = None,
        *,
        limits: ServeLimits | None = None,
        reload: Callable[[], object] | None = None,
        on_crashed: Callable[[EngineCrashed], None] | None = None,
        on_finished: Callable[[ServedRequest], None] | None = None,
        log: Callable[[str], None] | None = None,
        log_requests: bool = True,
    ) -> None:
        self.client = client
        summary = client.summary
        stem = os.path.basename(summary.path).removesuffix(".gguf") if summary else "ponder"
        self.model_name = model_name or stem
        self.host = host
        self.port = port
        self.api_key = api_key or None
        self.limits = limits or ServeLimits()
        self.on_crashed = on_crashed
        self.on_finished = on_finished
        self.log = log
        self.log_requests = log_requests  # False: only the engine's crashes and reloads
        self.created = int(time.time())
        self.turns = FifoTurns(self.limits.max_waiting, self.limits.wait_seconds)
        self.recovery = EngineRecovery(reload, self._log)
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._current_gen = 0

    @property
    def leaves_this_computer(self) -> bool:
        """Whether other machines can reach the server (it listens beyond loopback)."""
        return not is_loopback(self.host)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def connections(self) -> int:
        """Connections open now (each holds a thread)."""
        return self._httpd.connections if self._httpd is not None else 0

    @property
    def max_tokens(self) -> int | None:
        """The most tokens one answer may ask for: the limit given, else the model's context."""
        if self.limits.max_tokens is not None:
            return self.limits.max_tokens
        summary = self.client.summary
        return summary.n_ctx if summary is not None else None

    def start(self) -> OpenAIServer:
        """Listen (port 0 picks a free one, then self.port tells which) and serve in a thread."""
        if self._httpd is not None:
            return self
        if self.leaves_this_computer:
            netlog.require_online(f"listen on {self.host} for other computers")
        server_class = HTTPServer6 if ":" in self.host else HTTPServer
        try:
            httpd = server_class((self.host, self.port), Handler)
        except OSError as exc:
            raise OSError(
                exc.errno, f"Cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        httpd.app = self
        self.port = httpd.server_address[1]
        self._stopping.clear()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="ponder-server"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, cancel what is running, let waiting requests go, close connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        self.recovery.stop()
        httpd.shutdown()
        if self.turns.busy:
            self.client.cancel(self._current_gen)
        deadline = time.monotonic() + timeout
        while (self.turns.busy or self.turns.waiting) and time.monotonic() < deadline:
            time.sleep(0.02)
        httpd.close_connections()  # idle keep-alive ones would hold their threads
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    def check_key(self, header: str | None) -> bool:
        if self.api_key is None:
            return True
        scheme, _, token = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        )

    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [self.model_entry()]}

    def model_entry(self) -> dict[str, Any]:
        return {
            "id": self.model_name,
            "object": "model",
            "created": self.created,
            "owned_by": "ponder",
        }

    # -- the engine's health ---------------------------------------------------------------

    def health(self) -> tuple[int, dict[str, Any]]:
        """GET /health: 200 while the model can answer, 503 while it is gone or reloading."""
        if self.recovery.ready:
            return 200, {"status": "ok"}
        status = "loading model" if self.recovery.reloading else "unavailable"
        return 503, {"status": status, "reason": self.recovery.why}

    def watch_engine(self) -> None:
        """Called by the listening thread between requests: an engine that died while idle is
        noticed now, not by the next request."""
        if self.recovery.ready:
            crash = self.client.poll_crash()
            if crash is not None:
                self._engine_died(crash)

    def _engine_died(self, crash: EngineCrashed) -> None:
        if self.recovery.crashed(str(crash)) and self.on_crashed is not None:
            self.on_crashed(crash)

    def _unavailable(self) -> WireError:
        """The error for a request that comes while the model is gone."""
        recovery = self.recovery
        if recovery.reloading:
            message = "The engine stopped and the model is being loaded again; retry shortly."
        else:
            message = "The engine stopped; the model is not loaded. Try again later."
        return WireError(
            f"{message} ({recovery.why})" if recovery.why else message,
            status=503,
            kind="server_error",
            code="model_unavailable",
            retry_after=recovery.retry_after(),
        )

    # -- one chat request ------------------------------------------------------------------

    def serve_chat(self, handler: Handler, request: ChatRequest) -> None:
        """Wait for the model, generate, and answer; the client's leaving cancels."""
        record = ServedRequest(
            id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
            stream=request.stream,
            queued_at=time.perf_counter(),
        )
        try:
            check_choices(request, self.client.max_sequences)  # n: more than fit, refused now
            granted = self._take_turn(handler, record)
        except WireError as exc:
            record.error = str(exc)
            handler.send_json(exc.status, exc.body(), exc.headers())
            granted = False
        if not granted:
            self._done(record)
            return
        try:
            self._answer(handler, request, record)
        finally:
            record.finished_at = time.perf_counter()
            self.turns.release()
            self._done(record)

    def _take_turn(self, handler: Handler, record: ServedRequest) -> bool:
        """Wait for the model: True when this request has it, False when the request ended
        without it (the client left, the server stops); WireError: refused (the queue is
        full, the wait too long, the model gone)."""
        if not self.recovery.ready:
            raise self._unavailable()
        sock = handler.connection

        def give_up() -> bool:
            return self._stopping.is_set() or peer_closed(sock) or not self.recovery.ready

        turn = self.turns.acquire(give_up)
        if turn is Turn.GRANTED:
            if self.recovery.ready:
                return True
            self.turns.release()
            raise self._unavailable()
        if turn in (Turn.FULL, Turn.TIMED_OUT):
            raise self.turns.refusal(turn)
        if not self.recovery.ready and not self._stopping.is_set():
            raise self._unavailable()
        record.client_gone = not self._stopping.is_set()
        handler.close_connection = True
        if self._stopping.is_set():
            handler.send_json(503, error_body("The server is stopping.", kind="server_error"))
        return False

    def _answer(self, handler: Handler, request: ChatRequest, record: ServedRequest) -> None:
        """Generate with the model (this request's turn) and send the answer."""
        done = threading.Event()
        sock = handler.connection
        try:
            record.started_at = time.perf_counter()
            record.gen_id = self._current_gen = self.client.new_generation_id()
            watcher = threading.Thread(
                target=self._watch, args=(sock, record, done), name="ponder-server-watch"
            )
            watcher.daemon = True
            watcher.start()
            if request.n > 1:  # several choices, decoded together (choices.py)
                events: Iterator[Any] = self.client.generate_parallel(
                    request.messages, request.params, request.n, gen_id=record.gen_id
                )
            else:
                events = self.client.generate(
                    request.messages, request.params, gen_id=record.gen_id
                )
            try:
                if request.n > 1:
                    answer_choices(self, handler, request, record, events)
                elif request.stream:
                    self._stream(handler, request, record, events)
                else:
                    self._whole(handler, request, record, events)
            except BaseException:
                self.client.cancel(record.gen_id)  # whatever broke, the model stops now
                raise
            finally:
                with contextlib.suppress(PonderError):
                    for event in events:  # drain: the engine's pipe must be empty for the next
                        if isinstance(event, Finished):
                            record.stats = event.stats
        except WireError as exc:
            record.error = str(exc)
            if handler.events_started:
                handler.close_connection = True
            else:
                handler.send_json(exc.status, exc.body(), exc.headers())
        except (_ClientGone, OSError):  # OSError: a write failed before the stream began
            record.client_gone = True
            handler.close_connection = True
        finally:
            done.set()

    def _done(self, record: ServedRequest) -> None:
        stats = record.stats
        outcome = (
            "client gone"
            if record.client_gone
            else record.error or (finish_in_words(stats) if stats else "not run")
        )
        tokens = f", {stats.n_generated} tokens, {stats.tokens_per_second:.1f} t/s" if stats else ""
        if self.log_requests:
            self._log(f"{record.id}: {outcome}{tokens}")
        if self.on_finished is not None:
            self.on_finished(record)

    def _watch(self, sock: socket.socket, record: ServedRequest, done: threading.Event) -> None:
        while not done.wait(WATCH_SECONDS):
            # Once the answer is complete (stats set, before it is sent) the client may close
            # as soon as it has read it: that is not leaving.
            if peer_closed(sock) and record.stats is None:
                record.client_gone = True
                self.client.cancel(record.gen_id)
                return

    def _next(self, events: Iterator[Event]) -> Event:
        """The next event; the engine's errors become an HTTP status and OpenAI's error."""
        try:
            return next(events)
        except ContextOverflow as exc:
            raise WireError(str(exc), code="context_length_exceeded") from None
        except GrammarError as exc:
            raise WireError(str(exc), param="grammar", code="invalid_grammar") from None
        except EngineCrashed as exc:
            self._engine_died(exc)
            raise self._unavailable() from None
        except PonderError as exc:
            raise WireError(str(exc), status=500, kind="server_error") from None

    def _whole(
        self, handler: Handler, request: ChatRequest, record: ServedRequest, events: Iterator
    ) -> None:
        reasoning: list[str] = []
        answer: list[str] = []
        stops = StopMatcher(request.stop)
        stopped = False
        while not isinstance(event := self._next(events), Finished):
            if not isinstance(event, Chunk) or stopped:
                continue
            if event.kind == "thinking":
                reasoning.append(event.text)
            elif request.stop:
                text, stopped = stops.feed(event.text)
                answer.append(text)
                if stopped:
                    self.client.cancel(record.gen_id)
            else:
                answer.append(event.text)
        record.stats = stats = event.stats
        if record.client_gone:
            raise _ClientGone
        if not stopped:
            answer.append(stops.flush())
        message: dict[str, Any] = {"role": "assistant", "content": "".join(answer)}
        text = "".join(reasoning).strip()
        if text:
            message["reasoning_content"] = text
        choice = {"index": 0, "message": message, "logprobs": None}
        choice["finish_reason"] = wire_finish_reason(stats, stopped)
        body = {
            "id": record.id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [choice],
            "usage": usage(stats),
        }
        handler.send_json(200, body)

    def _stream(
        self, handler: Handler, request: ChatRequest, record: ServedRequest, events: Iterator
    ) -> None:
        event = self._next(events)  # an error before the first token still gets its status
        # Each event is this prefix, its delta and a fixed end: no dict built per token.
        prefix = (
            f'{{"id":{dumps(record.id)},"object":"chat.completion.chunk",'
            f'"created":{int(time.time())},"model":{dumps(self.model_name)}'
        )
        head = prefix + ',"choices":[{"index":0,"delta":'
        tail = ',"logprobs":null,"finish_reason":null}]}'

        def send(delta: str) -> None:
            if not record.client_gone:
                try:
                    handler.send_event(head + delta + tail)
                except OSError:
                    record.client_gone = True
                    self.client.cancel(record.gen_id)

        handler.start_events()
        send('{"role":"assistant","content":""}')
        stops = StopMatcher(request.stop)
        stopped = False
        try:
            while not isinstance(event, Finished):
                if isinstance(event, Chunk) and not stopped:
                    text = event.text
                    if event.kind == "thinking":
                        send('{"reasoning_content":' + dumps(text) + "}")
                    else:
                        if request.stop:
                            text, stopped = stops.feed(text)
                            if stopped:
                                self.client.cancel(record.gen_id)
                        if text:
                            send('{"content":' + dumps(text) + "}")
                event = self._next(events)
        except WireError as exc:  # the engine failed mid-answer: say so in the stream
            record.error = str(exc)
            send_last = [dumps(exc.body())]
        else:
            record.stats = event.stats
            rest = "" if stopped else stops.flush()
            if rest:
                send('{"content":' + dumps(rest) + "}")
            reason = dumps(wire_finish_reason(event.stats, stopped))
            send_last = [f'{head}{{}},"logprobs":null,"finish_reason":{reason}}}]}}']
            if request.include_usage:
                send_last.append(f'{prefix},"choices":[],"usage":{dumps(usage(event.stats))}}}')
        if record.client_gone:
            raise _ClientGone
        try:
            for data in [*send_last, "[DONE]"]:
                handler.send_event(data)
            handler.end_events()
        except OSError:
            raise _ClientGone from None
