"""Formulas drawn in a child process, each within its time budget: a slow one is cut off and
shown as its source, and the next one is drawn by a fresh process."""

from __future__ import annotations

import threading

import pytest

from model_runtime.chat.math import Formula
from model_runtime.chat.math_process import FormulaRenderer
from model_runtime.chat.math_render import RenderedFormula

SLOW = Formula("+".join(f"x_{{{i}}}" for i in range(250)), display=True)  # ~1 s on ziamath


@pytest.fixture
def renderer():
    renderer = FormulaRenderer(budget=0.5)
    yield renderer
    renderer.close()
    renderer._stop()


@pytest.mark.slow
def test_a_formula_over_budget_is_cut_off_and_the_next_one_drawn(renderer: FormulaRenderer) -> None:
    assert isinstance(renderer.draw(Formula("x^2", display=False)), RenderedFormula)
    assert renderer.draw(SLOW) == "it took longer than 0.5 s to draw"
    assert isinstance(renderer.draw(Formula("\\frac{1}{2}", display=False)), RenderedFormula)
    assert renderer.starts == 2  # the slow formula's process was killed, a new one drew on


@pytest.mark.slow
def test_results_come_in_order_with_words_for_what_is_not_drawn(renderer: FormulaRenderer) -> None:
    formulas = [Formula("a", False), Formula("\\frac{1", False), Formula("\\foo", False)]
    for formula in formulas:
        renderer.request(formula)
    renderer.close()
    cancel = threading.Event()
    results = list(renderer.results(cancel))
    assert [formula for formula, _ in results] == formulas
    assert isinstance(results[0][1], RenderedFormula)
    assert results[1][1] == "a { is never closed"  # said without a round trip to the child
    assert results[2][1] == "\\foo is not a command the renderer knows"
    assert renderer._process is None  # results() ended: so did the child
