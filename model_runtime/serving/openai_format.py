"""OpenAI's chat-completions format: requests to Ponder's types and back, without any HTTP.

Shared by Ponder's own server (requests in) and the remote engine (requests out). Fields
beyond OpenAI's that llama-server also reads are accepted: ``grammar`` (GBNF), ``top_k``,
``min_p``, ``repeat_penalty``; ``reasoning_budget`` caps the reasoning in tokens.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from model_runtime.chat.generation import GenerationParams, GenerationStats, Message, Role
from model_runtime.chat.thinking import ThinkingPolicy
from model_runtime.engine.grammar import grammar_problem

MAX_STOPS = 16
MAX_CHOICES = 64  # 'n': as many thoughts as the engine runs at once at most
MAX_STOP_CHARS = 1000
INT32_MAX = 2**31 - 1  # llama.cpp takes top_k and the like as 32-bit integers
_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


class WireError(Exception):
    """A request Ponder's server refuses, with the HTTP status and OpenAI's error fields."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code
        self.kind = kind
        self.retry_after = retry_after  # seconds, sent as Retry-After: worth trying again then

    def body(self) -> dict[str, Any]:
        return error_body(str(self), kind=self.kind, code=self.code, param=self.param)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


def error_body(
    message: str, *, kind: str = "invalid_request_error", code: str | None = None, param=None
) -> dict[str, Any]:
    """OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass(frozen=True)
class ChatRequest:
    """A chat-completions request, checked and turned into Ponder's own types."""

    messages: tuple[Message, ...]
    params: GenerationParams
    stream: bool = False
    include_usage: bool = False
    stop: tuple[str, ...] = ()
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    n: int = 1  # choices, decoded together (serving/choices.py)


def _number(body: dict, name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"'{name}' must be a number.", param=name)
    if not low <= value <= high:
        raise WireError(f"'{name}' must be between {low:g} and {high:g}.", param=name)
    return float(value)


def _integer(body: dict, name: str, low: int, high: int = INT32_MAX) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"'{name}' must be an integer.", param=name)
    if value < low:
        raise WireError(f"'{name}' must be at least {low}.", param=name)
    if value > high:
        raise WireError(f"'{name}' must be at most {high:,}.", param=name)
    return value


def _text(value: str, where: str) -> str:
    """A string that can go to the model: UTF-8 can't encode a lone surrogate ("\\ud800")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise WireError(
            f"{where} contains a lone surrogate (an escape like \\ud800 without its pair).",
            param=where,
        ) from None
    return value


def _content(value: Any, where: str) -> str:
    """A message's text: a string, null, or a list of text parts."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _text(value, where)
    if isinstance(value, list):
        texts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise WireError(f"{where}: only text content parts are supported.", param=where)
            text = part.get("text")
            if not isinstance(text, str):
                raise WireError(f"{where}: a text part needs a string 'text'.", param=where)
            texts.append(text)
        return _text("".join(texts), where)
    raise WireError(f"{where} must be a string or a list of text parts.", param=where)


def _messages(value: Any) -> tuple[Message, ...]:
    if value is None:
        raise WireError("'messages' is required.", param="messages")
    if not isinstance(value, list) or not value:
        raise WireError("'messages' must be a non-empty list.", param="messages")
    out = []
    for i, item in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise WireError(f"{where} must be an object.", param=where)
        role = item.get("role")
        if role not in _ROLES:
            raise WireError(
                f"{where}.role must be one of system, developer, user, assistant "
                f"(got {role!r}); tools are not supported.",
                param=f"{where}.role",
            )
        content = _content(item.get("content"), f"{where}.content")
        reasoning = item.get("reasoning_content") or item.get("reasoning") or ""
        if not isinstance(reasoning, str):
            raise WireError(f"{where}.reasoning_content must be a string.", param=where)
        reasoning = _text(reasoning, f"{where}.reasoning_content")
        out.append(Message(_ROLES[role], content, reasoning if role == "assistant" else ""))
    return tuple(out)


def _stops(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise WireError("'stop' must be a string or a list of strings.", param="stop")
    if len(stops) > MAX_STOPS:
        raise WireError(f"'stop' takes at most {MAX_STOPS} strings.", param="stop")
    if any(len(s) > MAX_STOP_CHARS for s in stops):
        raise WireError(f"A stop string may be at most {MAX_STOP_CHARS} characters.", param="stop")
    return tuple(_text(s, "stop") for s in stops if s)


def _grammar(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError("'grammar' must be a string of GBNF.", param="grammar")
    if not value:
        return None
    problem = grammar_problem(value)
    if problem is not None:
        raise WireError(problem, param="grammar", code="invalid_grammar")
    return value


def _max_tokens(body: dict, limit: int | None) -> int:
    """The answer's length limit: the one asked for (at most `limit`), else the default."""
    name = (
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    )
    asked = _integer(body, name, 1)
    default = GenerationParams().max_tokens
    if asked is None:
        return default if limit is None else min(default, limit)
    if limit is not None and asked > limit:
        raise WireError(
            f"'{name}' is {asked:,}, but this server allows at most {limit:,} tokens per answer.",
            param=name,
        )
    return asked


def parse_chat_request(body: Any, *, max_tokens: int | None = None) -> ChatRequest:
    """Check a decoded JSON body; WireError (400) says what is wrong with it. `max_tokens`:
    the most tokens one answer may ask for (None: no limit but the context)."""
    if not isinstance(body, dict):
        raise WireError("The request body must be a JSON object.")
    messages = _messages(body.get("messages"))
    for name in ("stream", "logprobs"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise WireError(f"'{name}' must be true or false.", param=name)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise WireError("'stream_options' must be an object.", param="stream_options")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise WireError("'model' must be a string.", param="model")
    grammar = _grammar(body.get("grammar"))
    defaults = GenerationParams()
    temperature = _number(body, "temperature", 0.0, 2.0)
    top_p = _number(body, "top_p", 0.0, 1.0)
    min_p = _number(body, "min_p", 0.0, 1.0)
    repeat_penalty = _number(body, "repeat_penalty", 0.0, 10.0)
    top_k = _integer(body, "top_k", 0)
    budget = _integer(body, "reasoning_budget", 0)
    seed = _integer(body, "seed", -(2**63), 2**64 - 1)
    n = _integer(body, "n", 1, MAX_CHOICES)
    params = GenerationParams(
        max_tokens=_max_tokens(body, max_tokens),
        temperature=temperature if temperature is not None else defaults.temperature,
        top_p=top_p if top_p is not None else defaults.top_p,
        top_k=top_k if top_k is not None else defaults.top_k,
        min_p=min_p if min_p is not None else defaults.min_p,
        repeat_penalty=repeat_penalty if repeat_penalty is not None else defaults.repeat_penalty,
        seed=seed,
        grammar=grammar,
        thinking=ThinkingPolicy(budget_tokens=budget) if budget is not None else ThinkingPolicy(),
    )
    return ChatRequest(
        messages=messages,
        params=params,
        stream=bool(body.get("stream")),
        include_usage=bool(options and options.get("include_usage")),
        stop=_stops(body.get("stop")),
        model=model,
        n=n or 1,
    )


def messages_to_wire(messages: Sequence[Message], keep_reasoning: bool = False) -> list[dict]:
    """Ponder's messages as OpenAI's; past reasoning goes back only when asked (R1: don't)."""
    out = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if keep_reasoning and message.reasoning and message.role == "assistant":
            item["reasoning_content"] = message.reasoning
        out.append(item)
    return out


def wire_finish_reason(stats: GenerationStats, stopped: bool = False) -> str:
    """OpenAI's finish_reason for how a generation ended. OpenAI documents stop, length,
    content_filter and tool_calls only: an answer Ponder stopped because it looped is "stop"
    on the wire (the model stopped for a reason of Ponder's), and the log says "loop"."""
    if stopped:
        return "stop"
    return "length" if stats.finish_reason == "length" else "stop"


def finish_in_words(stats: GenerationStats) -> str:
    """How a generation ended, for the server's log (a loop says what the client was sent)."""
    if stats.finish_reason == "loop":
        return f'loop: {stats.finish_note or "it was repeating itself"}; sent as "stop"'
    return stats.finish_reason


def usage(stats: GenerationStats) -> dict[str, Any]:
    """OpenAI's usage object, with the reasoning tokens counted apart."""
    return {
        "prompt_tokens": stats.n_prompt,
        "completion_tokens": stats.n_generated,
        "total_tokens": stats.n_prompt + stats.n_generated,
        "prompt_tokens_details": {"cached_tokens": stats.n_cached},
        "completion_tokens_details": {"reasoning_tokens": stats.n_thinking},
    }


def dumps(value: Any) -> str:
    """Compact JSON, non-ASCII kept as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class StopMatcher:
    """Finds stop strings in streamed text, holding back only what could start one."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """The text that is safe to send now, and whether a stop string was reached."""
        buf = self._held + text
        hits = [at for at in (buf.find(stop) for stop in self._stops) if at >= 0]
        if hits:
            self._held = ""
            return buf[: min(hits)], True
        hold = 0
        for stop in self._stops:
            for k in range(min(len(stop) - 1, len(buf)), hold, -1):
                if buf.endswith(stop[:k]):
                    hold = k
                    break
        self._held = buf[len(buf) - hold :] if hold else ""
        return buf[: len(buf) - hold], False

    def flush(self) -> str:
        """The held-back text, once the stream has ended without a stop string."""
        held, self._held = self._held, ""
        return held
