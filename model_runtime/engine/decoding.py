"""One generation in the engine worker: token by token from the prompt to the answer's end.

A Decoding streams Chunk and ThinkingEnded events, ends the model's reasoning in place when
Ponder is asked to (answer now, a budget, a loop) by writing closing words and </think> into
the same KV cache, stops an answer that loops, and adds up the figures of the run.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

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
from model_runtime.chat.thinking import (
    CLOSING_LINES,
    EndReason,
    LoopDetector,
    ThinkingEnded,
    loop_stop_note,
)

if TYPE_CHECKING:
    from model_runtime.engine.token_stream import TokenStream
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
        watch = self.policy.loop_policy != "off"
        self.loops = LoopDetector() if watch else None
        self.answer_loops = LoopDetector.for_answer() if watch else None
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
        self.thinking_from: float | None = None  # when the thinking segment under way began
        self.thinking_time = 0.0  # seconds spent in thinking segments that ended
        self.ended_by: ThinkingEnded | None = None
        self.finish: FinishReason = "length"
        self.finish_note = ""
        self.stream: TokenStream | None = None
        engine.tuning.new_answer()

    def _emit(self, segments: list[Segment]) -> None:
        for segment in segments:
            self.send(Chunk(self.gen_id, segment.kind, segment.text))

    def _feed(self, text: str, now: float) -> None:
        """Stream text through the parser; a thinking segment's time runs from its first
        token to the token that closed it (the answer between segments does not count)."""
        self._emit(self.parser.feed(text))
        if self.parser.in_thinking and self.thinking_from is None:
            self.thinking_from = now
        elif not self.parser.in_thinking and self.thinking_from is not None:
            self.thinking_time += now - self.thinking_from
            self.thinking_from = None

    def thinking_seconds(self, now: float) -> float:
        """Time spent thinking so far (what the time budget and "Thought for" count)."""
        running = now - self.thinking_from if self.thinking_from is not None else 0.0
        return self.thinking_time + running

    def run(self) -> None:
        """Decode until the model stops, the length limit, Stop, or a loop Ponder stops."""
        if self.parser.in_thinking:  # asked to answer before it began, or the budget is spent
            reason, _ = self.engine.end_reason(self.policy, 0, 0.0, None)
            if self.policy.answer_now:
                reason = "asked"
            if reason is not None and not self._end_thinking(reason, ""):
                return
        stream = self.stream = self.engine.tuning.stream(self.llm, self.sampling)
        try:
            self._decode(stream)
        finally:
            stream.stop()

    def _decode(self, stream: TokenStream) -> None:
        token = stream.start(self.written)
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
            if self.finish == "loop" or self.n_generated >= self.budget:
                return
            if reason is not None:
                if not self._end_thinking(reason, detail):
                    return
                token = stream.start(self.written)  # the cache holds all but the new tokens
                continue
            token = stream.next()

    def _take(self, token: int) -> tuple[EndReason | None, str]:
        """Stream one token's text; whether Ponder should end the reasoning now, and why.
        A loop that Ponder stops (in the answer, or in the reasoning under loop policy
        "stop") sets the finish reason "loop"."""
        self.n_generated += 1
        self.written.append(token)
        thinking = self.parser.in_thinking
        text = self.decoder.decode(self.engine.piece(token))
        now = time.perf_counter()
        self._feed(text, now)
        if not thinking:
            found = self.answer_loops.feed(token, text) if self.answer_loops is not None else None
            if found is not None:
                self._stop_looping("answer", found)
            return None, ""
        self.n_thinking += 1
        if not self.parser.in_thinking or self.ended_by is not None:
            return None, ""  # the model closed it; or Ponder did already (once per answer)
        found = self.loops.feed(token, text) if self.loops is not None else None
        reason, detail = self.engine.end_reason(
            self.policy, self.n_thinking, self.thinking_seconds(now), found
        )
        if reason == "loop" and self.policy.loop_policy == "stop":
            self.ended_by = ThinkingEnded(self.gen_id, reason, self.n_thinking, detail)
            self.send(self.ended_by)
            self._stop_looping("reasoning", "")
            return None, ""
        return reason, detail

    def _stop_looping(self, where: Literal["reasoning", "answer"], detail: str) -> None:
        self.finish = "loop"
        self.finish_note = loop_stop_note(where, detail)

    def _end_thinking(self, reason: EndReason, detail: str) -> bool:
        """Write the closing words and </think> into the answer (same KV cache); False when
        the length limit leaves no room for them."""
        closing = CLOSING_LINES[reason] + THINK_CLOSE + "\n\n"
        injected = self.llm.tokenize(closing.encode("utf-8"), add_bos=False, special=True)
        if self.n_generated + len(injected) >= self.budget:
            return False
        self.ended_by = ThinkingEnded(self.gen_id, reason, self.n_thinking, detail)
        self.decoder.reset()  # a character cut by the closing words is dropped, not U+FFFD
        self._feed(closing, time.perf_counter())
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
        return GenerationStats(
            n_prompt=n_prompt,
            n_cached=n_cached,
            n_evaluated=max(0, min(self.llm.n_tokens, n_prompt) - n_cached),
            n_generated=self.n_generated,
            n_thinking=self.n_thinking,
            ttft_seconds=first_at - started,
            thinking_seconds=self.thinking_seconds(ended),
            total_seconds=ended - started,
            tokens_per_second=decode_rate(self.n_generated, first_at, ended),
            finish_reason=self.finish,
            unclosed_thinking=unclosed,
            n_injected=self.n_injected,
            thinking_ended=self.ended_by,
            finish_note=self.finish_note,
            **self._speed_figures(),
        )

    def _speed_figures(self) -> dict[str, Any]:
        """The thread count used, and the drafted tokens the model checked and kept."""
        tuning, stream = self.engine.tuning, self.stream
        return {
            "n_threads": tuning.threads.most_used(),
            "n_threads_planned": tuning.threads.governor.planned,
            "n_drafted": stream.n_drafted if stream is not None else 0,
            "n_accepted": stream.n_accepted if stream is not None else 0,
            "speculation_note": tuning.answer_note,
        }
