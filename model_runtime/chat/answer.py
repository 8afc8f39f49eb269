"""An answer as it streams and after: its text, its reasoning, and what the engine measured.

The chat's controller (GUI or CLI) feeds it the engine's events; widgets only show it, and what
is saved comes from here. Reasoning time and tokens are the engine's own figures
(GenerationStats), added to those of earlier runs when an answer is continued.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from model_runtime.chat.generation import (
    Chunk,
    Event,
    Finished,
    GenerationParams,
    GenerationStats,
)
from model_runtime.chat.thinking import ThinkingEnded


@dataclass(frozen=True)
class AnswerFigures:
    """What the engine measured for an answer, saved beside it."""

    reasoning_seconds: float = 0.0
    reasoning_tokens: int = 0
    n_prompt: int = 0
    n_generated: int = 0
    tokens_per_second: float = 0.0
    finish_reason: str = ""
    thinking_note: str = ""  # how Ponder ended the thinking ("answered on request after …")
    finish_note: str = ""  # why Ponder stopped the answer ("the answer was repeating itself")
    ttft_seconds: float = 0.0  # the last run's time to its first token


def _joined(parts: list[str]) -> str:
    """Join streamed pieces once, keeping the result as the single part (no quadratic joins)."""
    if len(parts) > 1:
        parts[:] = ["".join(parts)]
    return parts[0] if parts else ""


class Answer:
    """One assistant message while it streams: text, reasoning, how thinking ended, figures."""

    def __init__(
        self, content: str = "", reasoning: str = "", figures: AnswerFigures | None = None
    ) -> None:
        self._answer = [content] if content else []
        self._reasoning = [reasoning] if reasoning else []
        self._before = figures or AnswerFigures()  # what earlier runs of it measured
        self.gen_id = 0
        self.stats: GenerationStats | None = None  # of the run that streams now
        self.thinking_ended: ThinkingEnded | None = None
        self.in_thinking = False  # the last text streamed was reasoning
        self.dirty = False  # text streamed since it was last saved

    @property
    def answer(self) -> str:
        return _joined(self._answer)

    @property
    def reasoning(self) -> str:
        return _joined(self._reasoning)

    def start(self, gen_id: int) -> None:
        """A run begins (a new answer, or a Continue): what came before stays, figures add up."""
        self._before = self.figures
        self.gen_id = gen_id
        self.stats = None
        self.thinking_ended = None
        self.in_thinking = False

    def add(self, event: Event) -> None:
        """Take one of the engine's events for this answer's run."""
        if isinstance(event, Chunk):
            (self._reasoning if event.kind == "thinking" else self._answer).append(event.text)
            self.in_thinking = event.kind == "thinking"
            self.dirty = True
        elif isinstance(event, ThinkingEnded):
            self.thinking_ended = self._counted_whole(event)
        elif isinstance(event, Finished):
            self.stats = event.stats
            self.in_thinking = False
            if event.stats.thinking_ended is not None:
                self.thinking_ended = self._counted_whole(event.stats.thinking_ended)

    def _counted_whole(self, ended: ThinkingEnded) -> ThinkingEnded:
        """The engine counts this run's tokens; the answer's reasoning began in earlier ones."""
        return replace(ended, at_token=ended.at_token + self._before.reasoning_tokens)

    @property
    def thinking_note(self) -> str:
        """How Ponder ended this answer's thinking, in words ('' when the model did)."""
        if self.thinking_ended is not None:
            return self.thinking_ended.describe()
        return self._before.thinking_note

    def next_params(
        self, params: GenerationParams, *, answer_now: bool = False
    ) -> GenerationParams:
        """The parameters of this answer's next run (Continue): its thinking budgets are what
        earlier runs left of them; answer_now closes its reasoning before the first token."""
        figures = self.figures
        thinking = params.thinking.after(figures.reasoning_tokens, figures.reasoning_seconds)
        return replace(params, thinking=replace(thinking, answer_now=answer_now))

    @property
    def finished(self) -> bool:
        return self.stats is not None

    @property
    def figures(self) -> AnswerFigures:
        """Everything measured so far: earlier runs plus the one that finished."""
        before, stats = self._before, self.stats
        if stats is None:
            return before
        return AnswerFigures(
            reasoning_seconds=before.reasoning_seconds + stats.thinking_seconds,
            reasoning_tokens=before.reasoning_tokens + stats.n_thinking,
            n_prompt=stats.n_prompt,
            n_generated=before.n_generated + stats.n_generated,
            tokens_per_second=stats.tokens_per_second,
            finish_reason=stats.finish_reason,
            thinking_note=self.thinking_note,
            finish_note=stats.finish_note,
            ttft_seconds=stats.ttft_seconds,
        )
