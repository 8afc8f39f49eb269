"""OpenAI's `n`: several choices from one chat request, decoded together (engine/parallel.py).

Each choice is a thought with its own seed (the request's seed + its index): whole, the
answer has `n` choices, each with its `index`, `message.reasoning_content` and finish
reason; streamed, every chunk carries the one choice it belongs to, and each choice ends
with its own finish reason. Usage counts the prompt once and every choice's tokens. A stop
string cuts its choice there; the engine can't stop one thought alone, so that thought goes
on to its end unseen. More choices than the model's plan leaves memory for are refused
before the request waits for its turn (400, with the most that fit).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from model_runtime.chat.generation import Chunk, Finished, GenerationStats
from model_runtime.chat.thoughts import ThoughtsFinished
from model_runtime.serving.openai_format import (
    ChatRequest,
    StopMatcher,
    WireError,
    dumps,
    usage,
    wire_finish_reason,
)

if TYPE_CHECKING:
    from model_runtime.serving.http import Handler
    from model_runtime.serving.server import OpenAIServer, ServedRequest


def check_choices(request: ChatRequest, most: int) -> None:
    """Refuse more choices than the loaded model's plan leaves memory for."""
    if request.n > max(1, most):
        fit = f"at most {most} choices" if most > 1 else "one choice only"
        raise WireError(
            f"'n' is {request.n}, but the memory this model's plan leaves holds {fit} at once.",
            param="n",
            code="too_many_choices",
        )


def run_stats(finished: dict[int, GenerationStats], run: ThoughtsFinished) -> GenerationStats:
    """The request's figures for the log and usage: the prompt once, every choice's tokens."""
    stats = list(finished.values())
    return GenerationStats(
        n_prompt=run.n_prompt,
        n_evaluated=run.n_evaluated,
        n_generated=run.n_generated,
        n_thinking=sum(s.n_thinking for s in stats),
        ttft_seconds=min((s.ttft_seconds for s in stats), default=0.0),
        total_seconds=run.total_seconds,
        tokens_per_second=run.tokens_per_second,
        finish_reason="cancelled" if any(s.finish_reason == "cancelled" for s in stats) else "stop",
    )


class _Choice:
    """One choice as it streams: its stop strings, and whether one was reached."""

    def __init__(self, request: ChatRequest) -> None:
        self.stops = StopMatcher(request.stop)
        self.has_stops = bool(request.stop)
        self.stopped = False
        self.reasoning: list[str] = []
        self.answer: list[str] = []

    def feed(self, chunk: Chunk) -> tuple[str, str]:
        """(kind, text) to pass on for a chunk: nothing once a stop string was reached."""
        if self.stopped:
            return chunk.kind, ""
        if chunk.kind == "thinking" or not self.has_stops:
            return chunk.kind, chunk.text
        text, self.stopped = self.stops.feed(chunk.text)
        return "answer", text

    def rest(self) -> str:
        return "" if self.stopped else self.stops.flush()


def whole_choices(
    server: OpenAIServer, request: ChatRequest, record: ServedRequest, events: Iterator[Any]
) -> dict[str, Any]:
    """Read the whole run; OpenAI's chat.completion body with n choices."""
    choices = [_Choice(request) for _ in range(request.n)]
    finished: dict[int, GenerationStats] = {}
    while not isinstance(event := server._next(events), ThoughtsFinished):
        if isinstance(event, Chunk):
            choice = choices[event.seq]
            kind, text = choice.feed(event)
            (choice.reasoning if kind == "thinking" else choice.answer).append(text)
        elif isinstance(event, Finished):
            finished[event.seq] = event.stats
    record.stats = stats = run_stats(finished, event)
    body = []
    for index, choice in enumerate(choices):
        message: dict[str, Any] = {"role": "assistant", "content": "".join(choice.answer)}
        message["content"] += choice.rest()
        reasoning = "".join(choice.reasoning).strip()
        if reasoning:
            message["reasoning_content"] = reasoning
        reason = wire_finish_reason(finished.get(index, stats), choice.stopped)
        body.append({"index": index, "message": message, "logprobs": None, "finish_reason": reason})
    return {"object": "chat.completion", "choices": body, "usage": _usage(finished, stats)}


def _usage(finished: dict[int, GenerationStats], stats: GenerationStats) -> dict[str, Any]:
    return usage(replace(stats, n_cached=finished[0].n_cached if 0 in finished else 0))


def stream_choices(
    server: OpenAIServer,
    handler: Handler,
    request: ChatRequest,
    record: ServedRequest,
    events: Iterator[Any],
) -> list[str]:
    """Stream every choice's deltas as they come; the chunks to send last (each choice ended
    as it finished, then usage when asked for), or an error in the stream's own words."""
    event = server._next(events)  # an error before the first token still gets its status
    prefix = (
        f'{{"id":{dumps(record.id)},"object":"chat.completion.chunk",'
        f'"created":{int(time.time())},"model":{dumps(server.model_name)}'
    )

    def send(index: int, delta: str, finish: str = "null") -> None:
        if not record.client_gone:
            data = (
                f'{prefix},"choices":[{{"index":{index},"delta":{delta},'
                f'"logprobs":null,"finish_reason":{finish}}}]}}'
            )
            try:
                handler.send_event(data)
            except OSError:
                record.client_gone = True
                server.client.cancel(record.gen_id)

    handler.start_events()
    for index in range(request.n):
        send(index, '{"role":"assistant","content":""}')
    choices = [_Choice(request) for _ in range(request.n)]
    finished: dict[int, GenerationStats] = {}
    try:
        while not isinstance(event, ThoughtsFinished):
            if isinstance(event, Chunk):
                kind, text = choices[event.seq].feed(event)
                field = "reasoning_content" if kind == "thinking" else "content"
                if text:
                    send(event.seq, f'{{"{field}":{dumps(text)}}}')
            elif isinstance(event, Finished):
                finished[event.seq] = event.stats
                choice = choices[event.seq]
                rest = choice.rest()
                if rest:
                    send(event.seq, '{"content":' + dumps(rest) + "}")
                reason = dumps(wire_finish_reason(event.stats, choice.stopped))
                send(event.seq, "{}", reason)
            event = server._next(events)
    except WireError as exc:  # the engine failed mid-answer: say so in the stream
        record.error = str(exc)
        return [dumps(exc.body())]
    record.stats = stats = run_stats(finished, event)
    if request.include_usage:
        return [f'{prefix},"choices":[],"usage":{dumps(_usage(finished, stats))}}}']
    return []


def answer_choices(
    server: OpenAIServer,
    handler: Handler,
    request: ChatRequest,
    record: ServedRequest,
    events: Iterator[Any],
) -> None:
    """Send the n choices, whole or streamed; a client that went away is an OSError."""
    gone = ConnectionResetError("the client went away")
    if not request.stream:
        body = whole_choices(server, request, record, events)
        if record.client_gone:
            raise gone
        created = int(time.time())
        handler.send_json(
            200, {"id": record.id, "created": created, "model": server.model_name, **body}
        )
        return
    last = stream_choices(server, handler, request, record, events)
    if record.client_gone:
        raise gone
    for data in [*last, "[DONE]"]:
        handler.send_event(data)
    handler.end_events()
