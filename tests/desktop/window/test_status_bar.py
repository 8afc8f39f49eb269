"""The status bar's speed: the threads that decoded an answer on a busy CPU, and the guesses
of speculative decoding the model kept."""

from __future__ import annotations

from typing import Any

from desktop.window.status_bar import StatusBar
from model_runtime.chat.generation import GenerationStats


def test_the_speed_says_threads_and_drafts_when_they_matter(qtbot: Any) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show_speed(GenerationStats(tokens_per_second=61.25, n_threads=2, n_threads_planned=2))
    assert bar.speed_label.text() == "61.2 tokens/s"
    assert bar.speed_label.toolTip() == ""
    busy = GenerationStats(
        tokens_per_second=48.0,
        n_threads=1,
        n_threads_planned=2,
        n_drafted=1200,
        n_accepted=960,
        speculation_note="The draft model x.gguf failed (its context is full); drafting is off.",
    )
    bar.show_speed(busy)
    assert bar.speed_label.text() == "48.0 tokens/s · 1 of 2 threads · 960 of 1,200 guesses kept"
    tip = bar.speed_label.toolTip()
    assert "fewer threads" in tip and "Speculative decoding" in tip and "x.gguf failed" in tip
    bar.show_speed(None)
    assert bar.speed_label.text() == "" and bar.speed_label.toolTip() == ""
