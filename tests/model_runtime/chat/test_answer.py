"""The Answer that streams: what it keeps of how thinking ended, and what a Continue may spend."""

from __future__ import annotations

from model_runtime.chat.answer import Answer, AnswerFigures
from model_runtime.chat.generation import Chunk, Finished, GenerationParams, GenerationStats
from model_runtime.chat.thinking import ThinkingEnded, ThinkingPolicy


def test_the_figures_keep_how_thinking_ended_why_it_stopped_and_the_first_token() -> None:
    answer = Answer()
    answer.start(1)
    answer.add(Chunk(1, "thinking", "Hmm."))
    ended = ThinkingEnded(1, "asked", 472)
    answer.add(ended)
    answer.add(Chunk(1, "answer", "Four. Four. Four."))
    stats = GenerationStats(
        n_generated=800,
        n_thinking=472,
        ttft_seconds=1.25,
        finish_reason="loop",
        thinking_ended=ended,
        finish_note="the answer was repeating itself",
    )
    answer.add(Finished(1, stats))
    figures = answer.figures
    assert figures.thinking_note == "answered on request after 472 tokens"
    assert figures.finish_note == "the answer was repeating itself"
    assert (figures.finish_reason, figures.ttft_seconds) == ("loop", 1.25)


def test_a_continued_answer_counts_its_earlier_thinking() -> None:
    before = AnswerFigures(reasoning_seconds=25.0, reasoning_tokens=800)
    answer = Answer("", "So far…", before)
    policy = ThinkingPolicy(budget_tokens=1000, budget_seconds=30.0, loop_policy="stop")
    params = GenerationParams(max_tokens=900, thinking=policy)
    assert answer.next_params(params).thinking == ThinkingPolicy(200, 5.0, "stop")
    assert answer.next_params(params).max_tokens == 900
    assert answer.next_params(GenerationParams()) == GenerationParams()
    spent = Answer("", "So far…", AnswerFigures(reasoning_seconds=40.0, reasoning_tokens=1200))
    assert spent.next_params(params).thinking == ThinkingPolicy(0, 0.0, "stop")  # ends at once
    now = answer.next_params(params, answer_now=True).thinking
    assert now.answer_now and now.budget_tokens == 200
    answer.start(2)
    answer.add(ThinkingEnded(2, "budget_tokens", 200))  # the engine counts this run only
    assert answer.thinking_note == "budget reached after 1,000 tokens"


def test_a_note_of_an_earlier_run_stays_when_a_continue_ends_by_itself() -> None:
    answer = Answer("The", "Hmm.", AnswerFigures(thinking_note="loop broken at token 80"))
    answer.start(3)
    answer.add(Chunk(3, "answer", " end."))
    answer.add(Finished(3, GenerationStats(n_generated=2, finish_reason="stop")))
    assert answer.figures.thinking_note == "loop broken at token 80"
