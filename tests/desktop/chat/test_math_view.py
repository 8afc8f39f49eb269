"""Math in the real views, offscreen: formulas become images drawn by the real renderer process,
sit on the baseline, stream in whole, fall back to their source with the reason, copy as LaTeX;
the boxed answer is highlighted and repeated under the answer; the switch shows the source."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QFontMetrics, QGuiApplication, QTextCursor, QTextDocument

from desktop.chat.answer_view import AnswerView
from desktop.chat.formula_objects import HIGHLIGHT, formula_number, tooltip
from desktop.chat.formulas import FormulaStore, number_of, shared_formulas
from desktop.chat.markdown import render_markdown
from desktop.chat.messages import AssistantMessage
from desktop.common.theme import theme_manager
from model_runtime.chat.math import Formula
from model_runtime.chat.math_process import FormulaRenderer
from model_runtime.chat.math_render import REF_SIZE
from model_runtime.conversations.records import StoredMessage
from tests.desktop.chat.test_answer_view import block_dump
from tests.desktop.chat.test_render_bounds import RENDER_MS, StepClock
from tests.desktop.chat.test_render_bounds import column as column  # the scroll area fixture

DRAW_MS = 90_000  # the renderer process starts, then draws on a loaded 2-core machine

ANSWER = r"""Solve $x^2 - 5x + 6 = 0$. With \(a = 1\), the formula gives:

\[
x = \frac{5 \pm \sqrt{25 - 24}}{2}
\]

\begin{aligned}
(x - 2)(x - 3) &= x^2 - 5x + 6 \\
&= 0
\end{aligned}

It costs $5 and $10; `$HOME` is code; *emphasis* stays.

So the answer is $\boxed{x = 2 \text{ or } x = 3}$.
"""
SOURCES = [
    "x^2 - 5x + 6 = 0",
    "a = 1",
    "x = \\frac{5 \\pm \\sqrt{25 - 24}}{2}",
    "\\begin{aligned}\n(x - 2)(x - 3) &= x^2 - 5x + 6 \\\\\n&= 0\n\\end{aligned}",
    "\\boxed{x = 2 \\text{ or } x = 3}",
]


@pytest.fixture
def formulas() -> Iterator[FormulaStore]:
    """The application's store, with math on (a test that switches it off switches it back)."""
    store = shared_formulas()
    store.set_enabled(True)
    yield store
    store.set_enabled(True)


@pytest.fixture
def view(qtbot: Any, formulas: FormulaStore) -> AnswerView:
    widget = AnswerView(formulas=formulas)
    qtbot.addWidget(widget)
    widget.resize(700, 100)
    widget.show()
    return widget


def settle(qtbot: Any, store: FormulaStore, *views: AnswerView, timeout: int = DRAW_MS) -> None:
    """Wait until every formula asked for is drawn (or known not to be) and shown."""
    qtbot.waitUntil(
        lambda: not store.pending and not any(v.rendering for v in views), timeout=timeout
    )


def objects(document: QTextDocument) -> list[tuple[int, int]]:
    """(position, formula number) of each formula object, in order."""
    found = []
    block = document.begin()
    while block.isValid():
        runs = block.begin()
        while not runs.atEnd():
            fragment = runs.fragment()
            number = number_of(fragment.charFormat().toImageFormat().name())
            if fragment.charFormat().isImageFormat() and number is not None:
                found += [(fragment.position() + i, number) for i in range(fragment.length())]
            runs += 1
        block = block.next()
    return found


def sources(store: FormulaStore, document: QTextDocument) -> list[str]:
    return [store.formula(number).source for _, number in objects(document)]


def point_at(view: AnswerView, position: int) -> QPoint:
    """A point of the viewport inside the object at position."""
    cursor = QTextCursor(view.document())
    cursor.setPosition(position)
    point = view.cursorRect(cursor).center()
    return QPoint(point.x() + 3, point.y())


def fragments_with_tooltips(document: QTextDocument) -> dict[str, tuple[str, bool]]:
    """text -> (tooltip, monospace) of every fragment that has a tooltip."""
    found = {}
    block = document.begin()
    while block.isValid():
        runs = block.begin()
        while not runs.atEnd():
            fragment = runs.fragment()
            fmt = fragment.charFormat()
            if fmt.toolTip():
                family = ",".join(fmt.fontFamilies() or [])
                found[fragment.text()] = (fmt.toolTip(), fmt.fontFixedPitch() or "mono" in family)
            runs += 1
        block = block.next()
    return found


# -- rendering ---------------------------------------------------------------------------


def test_formulas_become_images_and_no_latex_is_left(
    qtbot: Any, view: AnswerView, formulas: FormulaStore
) -> None:
    view.set_markdown(ANSWER)
    settle(qtbot, formulas, view)
    document = view.document()
    assert sources(formulas, document) == SOURCES
    shown = document.toPlainText()
    assert "\\frac" not in shown and "\\begin" not in shown and "\\(" not in shown
    assert "It costs $5 and $10; $HOME is code; emphasis stays." in shown
    for position, number in objects(document):
        assert formulas.drawn(number) is not None
        block = document.findBlock(position)
        display = formulas.formula(number).display
        centred = block.blockFormat().alignment() & Qt.AlignmentFlag.AlignHCenter
        assert bool(centred) == display  # display math on a centred line of its own
        if display:
            assert block.text() == "\ufffc"


def test_an_inline_formula_sits_on_the_baseline_at_the_text_size(
    qtbot: Any, view: AnswerView, formulas: FormulaStore
) -> None:
    view.set_markdown("Take $x_1$ and $\\frac{a}{b}$ here.")
    settle(qtbot, formulas, view)
    document = view.document()
    for position, number in objects(document):
        cursor = QTextCursor(document)
        cursor.setPosition(position + 1)
        fmt = cursor.charFormat()
        box = view.objects._box(document, position, fmt, number)
        drawing = formulas.drawn(number)
        assert drawing is not None
        scale = box.em / REF_SIZE
        assert box.em == pytest.approx(QFontMetrics(document.defaultFont()).height(), rel=0.5)
        above = box.top + drawing.ascent * scale  # the drawing's baseline, from the box's top
        below = box.height - above
        # Qt puts a middle-aligned object's ascent half an x-height above its descent
        half_x = QFontMetrics(fmt.font()).xHeight() / 2
        assert above - below == pytest.approx(half_x, abs=0.01)


def test_each_formula_is_drawn_once_whatever_shows_it(qtbot: Any) -> None:
    class Counting(FormulaRenderer):
        def __init__(self) -> None:
            super().__init__()
            self.asked: list[Formula] = []

        def request(self, formula: Formula) -> None:
            self.asked.append(formula)
            super().request(formula)

    renderer = Counting()
    store = FormulaStore(renderer)
    try:
        streamed, opened = AnswerView(formulas=store), AnswerView(formulas=store)
        for widget in (streamed, opened):
            qtbot.addWidget(widget)
            widget.resize(700, 100)
            widget.show()
        for end in range(1, len(ANSWER) + 1):  # a token at a time
            streamed.set_markdown_streaming(ANSWER[:end])
            if end % 20 == 0:
                settle(qtbot, store, streamed)
        streamed.finish_markdown(ANSWER)
        opened.set_markdown(ANSWER)
        settle(qtbot, store, streamed, opened)
        assert sorted(f.source for f in renderer.asked) == sorted(SOURCES)
        first = objects(opened.document())[0][1]
        image = store.image(first, 14, QColor("black"), 1.0)
        assert image is store.image(first, 14, QColor("black"), 1.0)  # kept: not painted again
        assert image is not store.image(first, 14, QColor("black"), 2.0)  # HiDPI: its own
    finally:
        store.close()


STREAMED = "See \\(x^2\\) and $$\\frac{a}{b}$$ here.\n\n\\[\ny = 1\n\\]\nand \\boxed{7} end.\n"


def test_a_formula_split_across_chunks_at_every_position_renders_as_one(
    qtbot: Any, view: AnswerView, formulas: FormulaStore
) -> None:
    single = AnswerView(formulas=formulas)
    qtbot.addWidget(single)
    single.resize(700, 100)
    single.set_markdown(STREAMED)
    settle(qtbot, formulas, single)
    for cut in range(1, len(STREAMED)):
        view.set_markdown_streaming(STREAMED[:cut])
        if STREAMED[:cut].endswith("\\(x^"):
            assert "\\(x^" in view.toPlainText()  # still open: its source, as written
        view.set_markdown_streaming(STREAMED)
        view.finish_markdown(STREAMED)
        settle(qtbot, formulas, view)
        assert block_dump(view.document()) == block_dump(single.document()), cut
        assert [n for _, n in objects(view.document())] == [
            n for _, n in objects(single.document())
        ]


# -- what can't be drawn -----------------------------------------------------------------


def test_malformed_formulas_show_their_source_in_monospace_with_the_reason(
    qtbot: Any, view: AnswerView, formulas: FormulaStore
) -> None:
    deep = "{" * 60 + "x" + "}" * 60
    huge = "x + " * 12_500  # a 50 KB display formula
    view.set_markdown(
        f"Broken $\\frac{{1$, unknown $\\foo{{x}}$, deep ${deep}$, fine $y$.\n\n$$\n{huge}\n$$\n"
    )
    settle(qtbot, formulas, view)
    notes = fragments_with_tooltips(view.document())  # refused before drawing: text
    assert notes["\\frac{1"] == ("Not rendered: a { is never closed", True)
    assert notes[deep][0].startswith("Not rendered: it is nested too deeply")
    tip, monospace = next(v for k, v in notes.items() if k.startswith("x + x + "))
    assert tip == "Not rendered: the formula is too long to draw" and monospace
    # the renderer refused this one: its object shows the source, its tooltip the reason
    assert sources(formulas, view.document()) == ["\\foo{x}", "y"]
    (unknown_at, unknown), (_, fine) = objects(view.document())
    assert formulas.reason(unknown) == "\\foo is not a command the renderer knows"
    assert tooltip(view, formulas, point_at(view, unknown_at)) == (
        "Not rendered: \\foo is not a command the renderer knows"
    )
    assert formulas.drawn(fine) is not None
    view.grab()  # the source is drawn in the object's place
    view.set_markdown("Again $\\foo{x}$.")  # known now: its source as text, said at once
    notes = fragments_with_tooltips(view.document())
    assert notes["\\foo{x}"] == ("Not rendered: \\foo is not a command the renderer knows", True)


def test_a_formula_over_its_time_budget_is_shown_as_source_with_the_reason(qtbot: Any) -> None:
    store = FormulaStore(FormulaRenderer(budget=0.5))
    slow = "+".join(f"x_{{{i}}}" for i in range(250))  # about a second on ziamath
    try:
        view = AnswerView(formulas=store)
        qtbot.addWidget(view)
        view.resize(700, 100)
        view.show()
        view.set_markdown(f"Slow:\n\n$${slow}$$\n\nand fast $z$.")
        settle(qtbot, store, view)
        (slow_at, slow_number), (_, fast) = objects(view.document())
        assert store.reason(slow_number) == "it took longer than 0.5 s to draw"
        assert store.drawn(fast) is not None  # the next formula was drawn all the same
        tip = tooltip(view, store, point_at(view, slow_at))
        assert tip == "Not rendered: it took longer than 0.5 s to draw"
        view.grab()  # drawn as its source: no error
    finally:
        store.close()


@pytest.mark.slow
def test_a_thousand_formulas_never_hold_the_window(
    qtbot: Any, column: Callable[[AnswerView], AnswerView], formulas: FormulaStore
) -> None:
    """1,000 formulas new to the renderer: the answer shows at once, each formula as its source
    until its drawing comes, and the window keeps its pace throughout."""
    view = column(AnswerView(formulas=formulas))
    text = "\n\n".join(
        " ".join(f"term $a_{{{row * 10 + col}}} = {row}^{{{col}}}$" for col in range(10))
        for row in range(100)
    )
    with StepClock().running() as clock:
        view.set_markdown(text)
        settle(qtbot, formulas, view, timeout=RENDER_MS * 3)
    assert len(objects(view.document())) == 1_000
    assert clock.longest < 1.0  # generous for a loaded machine: steps are tens of ms


# -- copy, the boxed answer, the switch --------------------------------------------------


def test_copying_a_selection_keeps_the_latex(
    qtbot: Any, view: AnswerView, formulas: FormulaStore
) -> None:
    view.set_markdown(ANSWER)
    settle(qtbot, formulas, view)
    view.selectAll()
    copied = view.createMimeDataFromSelection().text()
    assert "Solve $x^2 - 5x + 6 = 0$. With $a = 1$, the formula gives:" in copied
    assert "$$x = \\frac{5 \\pm \\sqrt{25 - 24}}{2}$$" in copied
    assert "$\\boxed{x = 2 \\text{ or } x = 3}$" in copied
    assert "\ufffc" not in copied


def stored(content: str, reasoning: str = "") -> StoredMessage:
    return StoredMessage(1, 1, None, "assistant", content, reasoning, reasoning_seconds=2.0)


def shown(qtbot: Any, formulas: FormulaStore, message: StoredMessage) -> AssistantMessage:
    """A saved answer shown in a message of its own, its formulas drawn."""
    view = AssistantMessage()
    qtbot.addWidget(view)
    view.resize(760, 400)
    view.show()
    view.show_stored(message)
    settle(qtbot, formulas, view.answer_view)
    return view


def test_the_boxed_answer_is_highlighted_and_repeated_with_a_copy(
    qtbot: Any, formulas: FormulaStore
) -> None:
    message = shown(qtbot, formulas, stored(ANSWER))
    footer = message.boxed_footer
    assert footer.isVisible() and footer.title.text() == "Answer:"
    qtbot.waitUntil(lambda: not footer.value.pixmap().isNull(), timeout=DRAW_MS)
    boxed = [n for _, n in objects(message.answer_view.document())][-1]
    assert message.answer_view.objects.highlighted == boxed
    footer.copy_button.click()
    assert QGuiApplication.clipboard().text() == "x = 2 \\text{ or } x = 3"
    assert message.copy_text() == ANSWER  # the answer copies as Markdown, LaTeX and all
    image = message.answer_view.grab().toImage()
    tint = HIGHLIGHT.rgb()
    assert any(
        abs(QColor(image.pixel(x, y)).red() - QColor(tint).red()) < 8
        and QColor(image.pixel(x, y)).blue() < 200
        for x in range(0, image.width(), 2)
        for y in range(0, image.height(), 2)
    )


def test_the_boxed_answer_is_drawn_again_in_another_themes_colour(
    qtbot: Any, formulas: FormulaStore
) -> None:
    theme = theme_manager()
    theme.use_light()
    value = shown(qtbot, formulas, stored(ANSWER)).boxed_footer.value
    qtbot.waitUntil(lambda: not value.pixmap().isNull(), timeout=DRAW_MS)

    def ink() -> int:  # the lightness of the formula's strongest ink
        image = value.pixmap().toImage()
        pixels = (
            QColor.fromRgba(image.pixel(x, y))
            for x in range(image.width())
            for y in range(image.height())
        )
        return max(((c.alpha(), c.lightness()) for c in pixels), default=(0, 0))[1]

    assert ink() < 100  # dark ink on the light theme
    try:
        theme.use_dark()
        qtbot.waitUntil(lambda: ink() > 150, timeout=DRAW_MS)  # light ink on the dark one
    finally:
        theme.use_light()


def test_a_box_only_in_the_reasoning_is_shown_as_from_the_reasoning(
    qtbot: Any, formulas: FormulaStore
) -> None:
    message = AssistantMessage()
    qtbot.addWidget(message)
    message.show_stored(stored("The answer was cut off before", "so \\boxed{42} it is"))
    assert message.boxed_footer.title.text() == "Answer (from the reasoning):"
    assert message.boxed_footer.boxed is not None and message.boxed_footer.boxed.latex == "42"
    message.show_stored(stored("No box anywhere."))
    assert message.boxed_footer.isHidden()


def test_with_math_off_the_source_shows_as_markdown_has_it(
    qtbot: Any, view: AnswerView, formulas: FormulaStore
) -> None:
    view.set_markdown(ANSWER)
    settle(qtbot, formulas, view)
    assert objects(view.document())
    formulas.set_enabled(False)
    settle(qtbot, formulas, view)
    plain = AnswerView(formulas=formulas)
    qtbot.addWidget(plain)
    plain.setHtml(render_markdown(ANSWER).html)  # what Ponder showed before math
    assert objects(view.document()) == []
    assert view.toPlainText() == plain.toPlainText()
    formulas.set_enabled(True)
    settle(qtbot, formulas, view)
    assert sources(formulas, view.document()) == SOURCES


# -- the thinking pane -------------------------------------------------------------------


REASONING = (
    "Okay, *so* I need \\(x^2 = 4\\). # not a heading, snake_case_name stays\n"
    "Then:\n\\[\nx = \\pm 2\n\\]\n"
    "It costs $5 and $10. Check $x = 2$: yes, \\boxed{2}.\n"
)


def pane_sources(pane: Any, store: FormulaStore) -> list[str]:
    return sources(store, pane.body.document())


def test_the_thinking_pane_draws_math_and_stays_plain_text(
    qtbot: Any, formulas: FormulaStore
) -> None:
    from desktop.chat.thinking_pane import ThinkingPane

    whole, streamed = ThinkingPane(formulas=formulas), ThinkingPane(formulas=formulas)
    for pane in (whole, streamed):
        qtbot.addWidget(pane)
        pane.resize(700, 300)
        pane.show()
    whole.append(REASONING)
    for char in REASONING:  # one character at a time
        streamed.append(char)
    for pane in (whole, streamed):
        pane.finish(1.0)
        pane.set_expanded(True)
    qtbot.waitUntil(
        lambda: not (formulas.pending or whole.writing or streamed.writing), timeout=DRAW_MS
    )
    expected = ["x^2 = 4", "x = \\pm 2", "x = 2", "\\boxed{2}"]
    assert pane_sources(whole, formulas) == expected
    assert pane_sources(streamed, formulas) == expected
    text = whole.body.document().toPlainText()
    assert text == streamed.body.document().toPlainText()
    assert "*so*" in text and "# not a heading" in text and "snake_case_name" in text
    assert "It costs $5 and $10." in text
    whole.body.selectAll()
    copied = whole.body.createMimeDataFromSelection().text()
    assert (
        copied
        == REASONING.replace("\\(x^2 = 4\\)", "$x^2 = 4$")
        .replace("\\[\nx = \\pm 2\n\\]", "$$x = \\pm 2$$")
        .replace("\\boxed{2}", "$\\boxed{2}$")
        .rstrip()
    )
    assert whole.text() == REASONING.rstrip()  # Copy (the pane's button) gives the source
    display = next(p for p, n in objects(whole.body.document()) if formulas.formula(n).display)
    block = whole.body.document().findBlock(display)
    assert block.blockFormat().alignment() & Qt.AlignmentFlag.AlignHCenter
    assert formula_number(whole.body.document(), display) is not None


def test_stored_reasoning_draws_its_math_when_the_pane_opens(
    qtbot: Any, formulas: FormulaStore
) -> None:
    message = AssistantMessage()
    qtbot.addWidget(message)
    message.show()
    message.show_stored(stored("So 2.", REASONING))  # the pane ended before its text came
    pane = message.thinking
    assert pane is not None and not pane.expanded
    pane.set_expanded(True)
    qtbot.waitUntil(lambda: not (formulas.pending or pane.writing), timeout=DRAW_MS)
    assert pane_sources(pane, formulas) == ["x^2 = 4", "x = \\pm 2", "x = 2", "\\boxed{2}"]


# -- a screenshot, looked at --------------------------------------------------------------


def test_screenshot_of_an_answer_with_math(
    qtbot: Any, formulas: FormulaStore, tmp_path: Path
) -> None:
    """Inline, display, aligned and boxed math, and the footer: saved as a PNG to look at
    (PONDER_SCREENSHOTS=folder keeps a copy)."""
    message = AssistantMessage()
    qtbot.addWidget(message)
    message.resize(760, 520)
    message.show()
    message.show_stored(stored(ANSWER, "Let me think: \\(x^2\\) first."))
    settle(qtbot, formulas, message.answer_view)
    qtbot.waitUntil(lambda: not message.boxed_footer.value.pixmap().isNull(), timeout=DRAW_MS)
    shot = message.grab()
    path = tmp_path / "math-answer.png"
    assert shot.save(str(path))
    keep = os.environ.get("PONDER_SCREENSHOTS")
    if keep:
        shot.save(str(Path(keep) / "math-answer.png"))
    image = shot.toImage()
    middle = image.width() // 2
    dark = [
        y
        for y in range(image.height())
        if any(QColor(image.pixel(x, y)).value() < 100 for x in range(middle - 40, middle + 40))
    ]
    assert dark  # the display formula is drawn about the middle
