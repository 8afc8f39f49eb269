"""Answers too long for one part still read right: long code keeps its copy link, long lists
number on, huge paragraphs and tables show their text, all of it inert, streamed or not."""

from __future__ import annotations

import os
import random
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication, QTextList

from desktop.chat.answer_view import AnswerView
from tests.desktop.chat.test_answer_view import (
    CountingView,
    anchors,
    block_dump,
    has_images,
    recorder,
)

CODE_LINE = '    total = compute(value, other) + 42  # "a comment" <b>\n'
LONG_CODE = CODE_LINE * 400
HOSTILE = "<script>alert(1)</script> [x](javascript:alert(1)) ![p](http://evil/p.png) "

MIXED = (
    "Intro with `code` and a [link](https://example.org).\n\n"
    + "```python\n"
    + LONG_CODE
    + "```\n\n"
    + "".join(f"{i}. item **{i}** with a few words\n" for i in range(1, 400))
    + "\n"
    + "| a | b |\n|---|---|\n"
    + "| one | two |\n" * 800
    + "\n"
    + "> " * 3000
    + "deep\n\n"
    + ("word " * 6000)
    + "\n\n```sh\necho short\n```\n\nThe end.\n"
)


@pytest.fixture
def view(qtbot: Any) -> AnswerView:
    widget = AnswerView()
    qtbot.addWidget(widget)
    widget.resize(700, 100)
    return widget


def render(qtbot: Any, view: AnswerView, text: str) -> None:
    view.set_markdown(text)
    qtbot.waitUntil(lambda: not view.rendering, timeout=60_000)


def stream(qtbot: Any, view: AnswerView, text: str, seed: int) -> None:
    rnd = random.Random(seed)
    at = 0
    while at < len(text):
        step = rnd.randint(1, 3_000)
        view.append_markdown_streaming(text[at : at + step])
        at += step
        if rnd.random() < 0.3:  # sometimes the queue catches up between updates
            qtbot.waitUntil(lambda: not view.rendering, timeout=60_000)
    view.finish_markdown(text)
    qtbot.waitUntil(lambda: not view.rendering, timeout=60_000)


def test_long_code_copies_whole_and_numbers_the_code_after_it(qtbot: Any, view: AnswerView) -> None:
    render(qtbot, view, MIXED)
    assert view.code_blocks == [LONG_CODE.removesuffix("\n"), "echo short"]
    copy = [(href, middle) for _, href, middle in anchors(view) if href.startswith("ponder-copy")]
    assert [href for href, _ in copy] == ["ponder-copy:0", "ponder-copy:1"]
    with qtbot.waitSignal(view.code_copied) as copied:
        view.anchorClicked.emit(QUrl("ponder-copy:0"))
    assert copied.args == [0]
    assert QGuiApplication.clipboard().text() == LONG_CODE.removesuffix("\n")
    text = view.toPlainText()
    assert text.count("total = compute") == 400 and "&lt;b&gt;" not in text
    assert "python" in text.split("total = compute")[0]  # the header names the language


@pytest.mark.parametrize("seed", range(3))
def test_streaming_a_long_mixed_answer_ends_as_rendering_it_at_once(
    qtbot: Any, view: AnswerView, seed: int
) -> None:
    single = AnswerView()
    qtbot.addWidget(single)
    single.resize(700, 100)
    render(qtbot, single, MIXED)
    stream(qtbot, view, MIXED, seed)
    assert block_dump(view.document()) == block_dump(single.document())
    assert view.code_blocks == single.code_blocks
    assert view.toPlainText() == single.toPlainText()


def test_a_program_of_a_hundred_and_fifty_lines_keeps_its_box(qtbot: Any, view: AnswerView) -> None:
    code = "".join(f"    value_{i} = compute({i}, other) + 42  # step {i}\n" for i in range(150))
    text = f"Here is the program:\n\n```python\n{code}```\n\nThat is all.\n"
    assert len(code) > 6_000
    view.set_markdown(text)
    assert not view.rendering  # one part, set at once as before
    assert len(view.document().rootFrame().childFrames()) == 1  # the code box
    assert view.code_blocks == [code.removesuffix("\n")]
    streamed = AnswerView()
    qtbot.addWidget(streamed)
    streamed.resize(700, 100)
    stream(qtbot, streamed, text, seed=4)
    assert block_dump(streamed.document()) == block_dump(view.document())


def test_copy_works_while_long_code_streams(qtbot: Any, view: AnswerView) -> None:
    view.set_markdown_streaming("Look:\n\n```python\n" + LONG_CODE + "tail = 1")
    qtbot.waitUntil(lambda: not view.rendering, timeout=60_000)
    assert view.code_blocks == [LONG_CODE + "tail = 1"]
    with qtbot.waitSignal(view.code_copied):
        view.anchorClicked.emit(QUrl("ponder-copy:0"))
    assert QGuiApplication.clipboard().text() == LONG_CODE + "tail = 1"


def test_a_long_list_numbers_on_across_parts(qtbot: Any, view: AnswerView) -> None:
    render(qtbot, view, "".join(f"{i}. item {i} with some words\n" for i in range(1, 1200)))
    numbers = []
    block = view.document().begin()
    while block.isValid():
        text_list = view.document().objectForFormat(block.blockFormat())
        if isinstance(text_list, QTextList):
            numbers.append(text_list.itemText(block))
        block = block.next()
    assert numbers == [f"{i}." for i in range(1, 1200)]


def test_huge_answers_stay_inert(qtbot: Any) -> None:
    opened: list[QUrl] = []
    view = CountingView(open_url=recorder(opened))
    qtbot.addWidget(view)
    view.resize(700, 100)
    view.show()
    # A paragraph beyond the inline limit, one endless line, and a huge table: each shown
    # another way than the usual, none of them may load or link anything.
    text = (HOSTILE * 200) + "\n\n" + HOSTILE * 2000 + "\n\n| a |\n|---|\n" + "| <b> |\n" * 3000
    render(qtbot, view, text)
    view.grab()
    assert view.requests == []
    assert not has_images(view.document())
    assert {href for _, href, _ in anchors(view)} <= {"http://evil/p.png"}
    shown = view.toPlainText()
    assert shown.count("<script>alert(1)</script>") == 2200
    assert shown.count("| <b> |") == 3000
    assert opened == []
