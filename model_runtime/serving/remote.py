"""Remote engines: any OpenAI-compatible endpoint (llama-server, vLLM, SGLang, Ollama, Ponder's
own server) as a model source, with the same events as EngineClient.generate.

Reasoning comes from ``reasoning_content`` (or ``reasoning``) deltas when the server
separates it (llama-server ``--reasoning-format deepseek``, vLLM's reasoning parsers), else
from ``<think>`` tags in the content. Every request is refused in offline mode before a socket
opens, and written to the network log as "remote-engine". Stop closes the connection. When a
stream breaks after text arrived, the events already yielded stand and RemoteAnswerCutOff
(carrying the partial text) says the answer was cut off.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from model_runtime import __version__, netlog
from model_runtime.chat.generation import (
    Event,
    Finished,
    FinishReason,
    GenerationParams,
    GenerationStats,
    Message,
    decode_rate,
)
from model_runtime.chat.thinking import is_r1_family
from model_runtime.errors import (
    RemoteAnswerCutOff,
    RemoteAuthFailed,
    RemoteEngineError,
    RemoteTimeout,
    RemoteUnreachable,
)
from model_runtime.netlog import is_loopback
from model_runtime.serving.endpoints import Endpoint, normalize_base_url
from model_runtime.serving.openai_format import messages_to_wire
from model_runtime.serving.remote_stream import (
    MalformedChunk,
    RemoteStream,
    chunk_choices,
    chunk_usage,
)

WHY = "remote-engine"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 300.0  # a big model on slow machines may think over a long prompt for minutes


class RemoteEngine:
    """An OpenAI-compatible endpoint as an engine: generate() streams Chunk … Finished."""

    can_answer_now = False  # the remote server decides when its model stops reasoning

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        *,
        name: str = "",
        starts_in_thinking: bool | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.model = model
        self.name = name or self.base_url  # the endpoint's name where it was saved
        self._api_key = api_key or None
        self.starts_in_thinking = starts_in_thinking
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._http: Any = None
        self._gen_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._cancelled: set[int] = set()  # generations stopped, kept until they end
        self._current_gen = 0
        self._socket: socket.socket | None = None

    @classmethod
    def from_endpoint(cls, endpoint: Endpoint, **kwargs: Any) -> RemoteEngine:
        """A saved endpoint, with its API key from the keyring."""
        return cls(
            endpoint.base_url,
            endpoint.model,
            endpoint.api_key(),
            starts_in_thinking=endpoint.starts_in_thinking,
            name=endpoint.name,
            **kwargs,
        )

    @property
    def model_name(self) -> str:
        """The endpoint's model, or the endpoint's name when it serves whatever it has."""
        return self.model or self.name

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def leaves_this_computer(self) -> bool:
        """Whether prompts go to another machine (anything but loopback)."""
        return not is_loopback(self.host)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------

    @staticmethod
    def _before_request(request: Any) -> None:
        """httpx hook, before any socket opens: refuse in offline mode, else log."""
        from model_runtime.models import hub_client

        netlog.require_online(f"connect to the remote engine at {request.url.host}")
        hub_client.log_request(request, why=WHY)

    def _client(self) -> Any:
        """httpx's client, whose requests the network log follows to their end (answered or
        failed, the bytes each way), as the Hub's do."""
        if self._http is None:
            import httpx2

            from model_runtime.models import hub_client

            headers = {"User-Agent": f"ponder/{__version__}"}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            self._http = hub_client.LoggedClient(
                no_network_final=False,  # this engine says "cannot reach" in its own words
                headers=headers,
                timeout=httpx2.Timeout(
                    connect=self.connect_timeout,
                    read=self.read_timeout,
                    write=self.connect_timeout,
                    pool=self.connect_timeout,
                ),
                event_hooks={
                    "request": [self._before_request],
                    "response": [hub_client.after_response],
                },
                trust_env=self.leaves_this_computer,  # loopback never goes through a proxy
            )
        return self._http

    def _unreachable(self, exc: Exception) -> RemoteEngineError:
        import httpx2

        if isinstance(exc, httpx2.TimeoutException):
            return RemoteUnreachable(
                f"The remote engine at {self.base_url} did not answer within "
                f"{self.connect_timeout:g} s."
            )
        reason = exc.__context__ or exc
        if isinstance(reason, ConnectionRefusedError) or "refused" in str(exc).lower():
            why = "the connection was refused (is the server running, on this port?)"
        else:
            why = str(exc) or type(exc).__name__
        return RemoteUnreachable(f"Cannot reach the remote engine at {self.base_url}: {why}.")

    def _refused(self, response: Any) -> RemoteEngineError:
        """The error for an HTTP error status, with the server's own message if it sent one."""
        try:
            response.read()
            error = response.json().get("error")
            message = error.get("message") if isinstance(error, dict) else error
        except (ValueError, AttributeError, OSError, RecursionError):
            message = ""
        message = str(message or response.text[:300] or response.reason_phrase)[:300].strip()
        status = response.status_code
        if status in (401, 403):
            what = "needs an API key" if not self._api_key else "refused the API key"
            return RemoteAuthFailed(
                f"The remote engine at {self.base_url} {what} (HTTP {status}: {message})."
            )
        return RemoteEngineError(
            f"The remote engine at {self.base_url} refused the request (HTTP {status}: {message})."
        )

    def list_models(self) -> list[str]:
        """The model ids the server offers (GET /models)."""
        import httpx2

        netlog.require_online(f"connect to the remote engine at {self.host}")
        try:
            response = self._client().get(self.base_url + "/models")
        except httpx2.TransportError as exc:
            raise self._unreachable(exc) from None
        if response.status_code >= 400:
            raise self._refused(response)
        try:
            data = response.json()["data"]
            if not isinstance(data, list):
                raise TypeError
            return [str(item["id"]) for item in data]
        except (ValueError, KeyError, TypeError, RecursionError):
            raise RemoteEngineError(
                f"{self.base_url}/models did not answer like an OpenAI-compatible server."
            ) from None

    def resolve_model(self) -> str:
        """The model to ask for: the one chosen, or the first the server lists."""
        if self.model is None:
            models = self.list_models()
            if not models:
                raise RemoteEngineError(f"The remote engine at {self.base_url} offers no model.")
            self.model = models[0]
        return self.model

    # -- generation ------------------------------------------------------------------------

    def new_generation_id(self) -> int:
        return next(self._gen_ids)

    def cancel(self, gen_id: int | None = None) -> None:
        """Stop a generation (the current one if no id is given) by closing its connection."""
        with self._lock:
            gen_id = gen_id or self._current_gen
            self._cancelled.add(gen_id)
            if self._socket is not None and gen_id == self._current_gen:
                with contextlib.suppress(OSError):
                    self._socket.shutdown(socket.SHUT_RDWR)  # wakes a blocked read

    def answer_now(self, gen_id: int | None = None) -> None:
        """Not possible remotely: the server's own settings decide (can_answer_now is False)."""

    def _is_cancelled(self, gen_id: int) -> bool:
        return gen_id in self._cancelled

    def _body(self, model: str, messages: Sequence[Message], params: GenerationParams) -> dict:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages_to_wire(messages, params.keep_reasoning),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.grammar:
            body["grammar"] = params.grammar  # llama-server's extension
        return body

    def generate(
        self,
        messages: Sequence[Message],
        params: GenerationParams | None = None,
        *,
        gen_id: int | None = None,
    ) -> Iterator[Event]:
        """Stream the answer's events; the last one is Finished. Cancel with cancel()."""
        import httpx2

        params = params or GenerationParams()
        gen_id = gen_id if gen_id is not None else self.new_generation_id()
        netlog.require_online(f"connect to the remote engine at {self.host}")
        with self._lock:
            self._current_gen = gen_id
        model = self.resolve_model()
        hint = self.starts_in_thinking
        stream = RemoteStream(gen_id, is_r1_family(model) if hint is None else hint)
        body = self._body(model, messages, params)
        started = time.perf_counter()
        usage: dict[str, Any] = {}
        finish: FinishReason | None = None
        broken: tuple[str, bool] | None = None  # why the stream broke, and whether it stalled
        try:
            with self._client().stream(
                "POST", self.base_url + "/chat/completions", json=body
            ) as response:
                if response.status_code >= 400:
                    raise self._refused(response)
                network = response.extensions.get("network_stream")
                with self._lock:
                    self._socket = network.get_extra_info("socket") if network else None
                for line in response.iter_lines():
                    if self._is_cancelled(gen_id):
                        finish = "cancelled"
                        break
                    if not line.startswith("data:"):
                        continue  # blank lines between events, comments, "event:" lines
                    data = line[5:].strip()
                    if data == "[DONE]":
                        finish = finish or "stop"
                        break
                    chunk = self._decode(data, stream)
                    usage = chunk["usage"] or usage
                    for delta, reason in chunk["choices"]:
                        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                        if isinstance(reasoning, str) and reasoning:
                            yield from stream.reasoning(reasoning)
                        content = delta.get("content")
                        if isinstance(content, str) and content:
                            yield from stream.content(content)
                        if reason:
                            finish = "length" if reason == "length" else "stop"
                if finish is None and self._is_cancelled(gen_id):
                    finish = "cancelled"
                if finish is None:
                    broken = ("the server closed the stream before it ended", False)
        except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
            raise self._unreachable(exc) from None
        except httpx2.TransportError as exc:
            if not self._is_cancelled(gen_id):
                stalled = isinstance(exc, httpx2.ReadTimeout)
                why = f"the server sent nothing for {self.read_timeout:g} s"
                broken = (why if stalled else "the connection dropped", stalled)
            finish = "cancelled"
        finally:
            with self._lock:
                self._socket = None
                self._cancelled.discard(gen_id)
        yield from stream.finish()  # text held back as a possible tag is text after all
        if broken is not None:
            raise self._cut_off(stream, *broken)
        yield Finished(gen_id, self._stats(stream, usage, finish, started))

    def _decode(self, data: str, stream: RemoteStream) -> dict[str, Any]:
        """One event's chunk, its shape checked: {"choices": [(delta, finish_reason)], "usage"}."""
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError):
            raise self._cut_off(stream, "the server sent something that is not JSON") from None
        if not isinstance(chunk, dict):
            raise self._cut_off(stream, "the server sent something unexpected")
        error = chunk.get("error")
        if error:
            message = error.get("message") if isinstance(error, dict) else error
            raise self._cut_off(stream, f"the server reported an error: {str(message)[:300]}")
        try:
            return {
                "choices": chunk_choices(chunk.get("choices")),
                "usage": chunk_usage(chunk.get("usage")),
            }
        except MalformedChunk as exc:
            raise self._cut_off(stream, f"the server sent a malformed chunk ({exc})") from None

    def _cut_off(self, stream: RemoteStream, why: str, stalled: bool = False) -> RemoteEngineError:
        """The error for a broken stream: a timeout or drop before any text, else a cut-off."""
        reasoning, answer = stream.partial()
        if not reasoning and not answer:
            cls = RemoteTimeout if stalled else RemoteEngineError
            return cls(f"The remote engine at {self.base_url} failed: {why}.")
        kept = f"{len(answer):,} characters of answer" if answer else "only reasoning"
        return RemoteAnswerCutOff(
            f"The answer from {self.base_url} was cut off: {why}. What arrived ({kept}) is kept.",
            reasoning=reasoning,
            answer=answer,
        )

    @staticmethod
    def _stats(
        stream: RemoteStream, usage: dict[str, Any], finish: FinishReason | None, started: float
    ) -> GenerationStats:
        """The run's figures, from the server's usage (counts checked by _usage) if it sent one."""
        ended = time.perf_counter()
        first_at = stream.first_at or ended
        n_generated = usage.get("completion_tokens") or stream.n_deltas
        details = usage.get("completion_tokens_details") or {}
        n_thinking = details.get("reasoning_tokens") or stream.n_thinking_deltas
        prompt_details = usage.get("prompt_tokens_details") or {}
        thinking_done = stream.answer_at or (ended if stream.n_thinking_deltas else None)
        return GenerationStats(
            n_prompt=usage.get("prompt_tokens") or 0,
            n_cached=prompt_details.get("cached_tokens") or 0,
            n_generated=n_generated,
            n_thinking=min(n_thinking, n_generated),
            ttft_seconds=first_at - started,
            thinking_seconds=(thinking_done - first_at) if thinking_done else 0.0,
            total_seconds=ended - started,
            tokens_per_second=decode_rate(n_generated, first_at, ended),
            finish_reason=finish or "stop",
            unclosed_thinking=stream.unclosed,
        )
