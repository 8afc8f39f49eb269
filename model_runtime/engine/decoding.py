"""One generation in the engine worker: token by token from the prompt to the answer's end.

A Decoding streams Chunk and ThinkingEnded events, ends the model's reasoning in place when
Ponder is asked to (answer now, a budget, a loop) by writing closing words and </think> into
the same KV cache, and adds up the figures of the run.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from model_runtime.chat.generation import (
    Chunk,
    Event,
    FinishReason,
    GenerationParams,
    GenerationStats,
    decode_rate,
)
from model_runtime.chat.reasoning import CLOSE_TAG as THINK_CLOSE
from model_runtime.chat.reasoning import ReasoningParser, Segment
from model_runtime.chat.thinking import CLOSING_LINES, EndReason, LoopDetector, ThinkingEnded

if TYPE_CHECKING:
    from model_runtime.engine.worker import Engine


class Decoding:
    """The state of one answer while the worker decodes it."""

    def __init__(
        self,
        engine: Engine,
        gen_id: int,
        params: GenerationParams,
        send: Callable[[Event], None],
        *,
        tokens: list[int],
        starts_in_thinking: bool,
        continuing: bool,
        budget: int,
    ) -> None:
        from llama_cpp import LlamaGrammar

        self.engine = engine
        self.llm = engine.llm
        self.gen_id = gen_id
        self.send = send
        self.policy = params.thinking
        self.budget = budget  # tokens it may write (the length limit, or what the context holds)
        self.written = list(tokens)  # the prompt and every token since: the KV cache's content
        self.parser = ReasoningParser(starts_in_thinking=starts_in_thinking, continuing=continuing)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.loops = LoopDetector() if self.policy.loop_policy != "off" else None
        self.sampling = {
            "top_k": params.top_k,
            "top_p": params.top_p,
            "min_p": params.min_p,
            "temp": params.temperature,
            "repeat_penalty": params.repeat_penalty,
            "grammar": (
                LlamaGrammar.from_string(params.grammar, verbose=False) if params.grammar else None
            ),
        }
        self.n_generated = self.n_thinking = self.n_injected = 0
        self.first_at: float | None = None
        self.thinking_done_at: float | None = None
        self.ended_by: ThinkingEnded | None = None
        self.finish: FinishReason = "length"

    def _emit(self, segments: list[Segment]) -> None:
        for segment in segments:
            self.send(Chunk(self.gen_id, segment.kind, segment.text))

    def run(self) -> None:
        """Decode until the model stops, the length limit, Stop, or a loop policy of "stop".

        Raises StopIteration when llama.cpp's generator ends (the context is full).
        """
        stream: Generator[int, None, None] = self.llm.generate(self.written, **self.sampling)
        token = next(stream)
        while True:
            if self.first_at is None:
                self.first_at = time.perf_counter()
                self.engine.set_abort_polling(False)
            if self.engine.cancelled():
                self.finish = "cancelled"
                return
            if self.engine.is_end_of_generation(token):
                self.finish = "stop"
                return
            reason, detail = self._take(token)
            if reason == "loop" and self.policy.loop_policy == "stop":
                self.ended_by = ThinkingEnded(self.gen_id, reason, self.n_thinking, detail)
                self.send(self.ended_by)
                self.finish = "loop"
                return
            if self.n_generated >= self.budget:
                return
            if reason is not None:
                if not self._end_thinking(reason, detail):
                    return
                stream.close()  # a new generate() finds all but the new tokens in its KV cache
                stream = self.llm.generate(self.written, **self.sampling)
            token = next(stream)

    def _take(self, token: int) -> tuple[EndReason | None, str]:
        """Stream one token's text; whether Ponder should end the reasoning now, and why."""
        self.n_generated += 1
        self.written.append(token)
        thinking = self.parser.in_thinking
        text = self.decoder.decode(self.engine.piece(token))
        self._emit(self.parser.feed(text))
        if not thinking:
            return None, ""
        self.n_thinking += 1
        if not self.parser.in_thinking:
            self.thinking_done_at = time.perf_counter()
            return None, ""
        if self.ended_by is not None:  # Ponder ends the reasoning once per answer
            return None, ""
        found = self.loops.feed(token, text) if self.loops is not None else None
        return self.engine.end_reason(self.policy, self.n_thinking, self.first_at, found)

    def _end_thinking(self, reason: EndReason, detail: str) -> bool:
        """Write the closing words and </think> into the answer (same KV cache); False when
        the length limit leaves no room for them."""
        self.ended_by = ThinkingEnded(self.gen_id, reason, self.n_thinking, detail)
        closing = CLOSING_LINES[reason] + THINK_CLOSE + "\n\n"
        injected = self.llm.tokenize(closing.encode("utf-8"), add_bos=False, special=True)
        if self.n_generated + len(injected) >= self.budget:
            return False
        self.decoder.reset()  # a character cut by the closing words is dropped, not U+FFFD
        self._emit(self.parser.feed(closing))
        self.thinking_done_at = time.perf_counter()
        self.n_injected += len(injected)
        self.send(self.ended_by)
        self.written += injected
        return True

    def close(self, started: float, *, n_prompt: int, n_cached: int) -> GenerationStats:
        """Flush what the parser held back; the run's figures.

        The bytes of a character the length limit cut in two are dropped: flushing them
        would end the answer with U+FFFD."""
        self.decoder.reset()
        unclosed = self.parser.in_thinking
        self._emit(self.parser.finish())
        ended = time.perf_counter()
        first_at = self.first_at if self.first_at is not None else ended
        thinking_done_at = ended if unclosed else self.thinking_done_at
        return GenerationStats(
            n_prompt=n_prompt,
            n_cached=n_cached,
            n_evaluated=max(0, min(self.llm.n_tokens, n_prompt) - n_cached),
            n_generated=self.n_generated,
            n_thinking=self.n_thinking,
            ttft_seconds=first_at - started,
            thinking_seconds=(thinking_done_at - first_at) if thinking_done_at else 0.0,
            total_seconds=ended - started,
            tokens_per_second=decode_rate(self.n_generated, first_at, ended),
            finish_reason=self.finish,
            unclosed_thinking=unclosed,
            n_injected=self.n_injected,
            thinking_ended=self.ended_by,
        )
