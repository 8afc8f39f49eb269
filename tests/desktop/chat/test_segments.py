"""Cutting answers into parts of bounded cost: nothing lost, the same however the text arrives."""

from __future__ import annotations

import random

import pytest

from desktop.chat.markdown import render_markdown, scan_blocks
from desktop.chat.nesting import NESTING_DEPTH, QUOTE_DEPTH, NestingFlattener, flatten_line
from desktop.chat.segments import (
    CODE_CHUNK,
    PART_COST,
    PLAIN_CHUNK,
    Code,
    CodeClose,
    CodeOpen,
    Markdown,
    Piece,
    Plain,
    Segmenter,
)

CODE_LINE = "    total = compute(value, other) + 42  # a comment\n"


def words(count: int, seed: int = 0) -> str:
    rnd = random.Random(seed)
    vocabulary = [
        "alpha",
        "beta",
        "**gamma**",
        "`delta`",
        "the",
        "of",
        "reason",
        "[x](https://e.x)",
    ]
    return " ".join(rnd.choice(vocabulary) for _ in range(count))


def paragraphs(size: int) -> str:
    out, total, seed = [], 0, 0
    while total < size:
        seed += 1
        out.append(words(60, seed))
        total += len(out[-1]) + 2
    return "\n\n".join(out)


BIG = {
    "paragraphs": paragraphs(40_000),
    "one line": words(8_000),
    "no spaces": "x" * 30_000,
    "long code": "Intro:\n```python\n" + CODE_LINE * 700 + "```\nAfter the code.\n",
    "unclosed code": "Intro\n\n```python\n" + CODE_LINE * 300,
    "indented fence": "  ```\n" + "    indented code\n" * 600 + "  ```\n\nafter\n",
    "endless code line": "```\n" + "y" * 20_000 + "\n```\n",
    "long list": "".join(f"{i}. item **{i}** with a few words\n" for i in range(1, 800)) + "\nend",
    "loose list": "".join(f"- item {i}\n\n  more about item {i}\n\n" for i in range(500)),
    "huge item": "- " + words(3_000) + "\n- second item\n\nafter\n",
    "big table": "| a | b |\n|---|---|\n" + "| one | two |\n" * 1500 + "\nafter\n",
    "quotes": ("> > > > > > quoted *line*\n>\n") * 400,
    "indented code": "\n".join(f"    code line number {i}" for i in range(2000)) + "\n\ntext\n",
    "mixed": paragraphs(6_000)
    + "\n\n```\n"
    + "z" * 12_000
    + "\n```\n\n"
    + words(4_000)
    + "\n\n- a\n- b\n\n"
    + "> " * 5000
    + "deep\n",
}


def whole(text: str) -> list[Piece]:
    segmenter = Segmenter()
    segmenter.feed(text)
    segmenter.finish()
    pieces = drain(segmenter)
    assert segmenter.done
    return pieces


def streamed(text: str, seed: int, biggest: int) -> list[Piece]:
    rnd = random.Random(seed)
    segmenter, pieces, at = Segmenter(), [], 0
    while at < len(text):
        step = rnd.randint(1, biggest)
        segmenter.feed(text[at : at + step])
        at += step
        pieces += drain(segmenter)
        segmenter.tail()
    segmenter.finish()
    pieces += drain(segmenter)
    assert segmenter.done
    return pieces


def drain(segmenter: Segmenter) -> list[Piece]:
    pieces = []
    while (piece := segmenter.next_piece()) is not None:
        pieces.append(piece)
    return pieces


def looks(pieces: list[Piece]) -> list[tuple[object, ...]]:
    """What the pieces look like once shown: runs of Markdown rendered (cut points between
    top-level blocks make no difference), stretches of plain text joined."""
    shown: list[tuple[object, ...]] = []
    run: list[str] = []

    def end_run() -> None:
        if run:
            html = [render_markdown(text).html for text in run]
            shown.append(("markdown", "\n".join(part for part in html if part)))
            run.clear()

    for piece in pieces:
        if isinstance(piece, Markdown):
            run.append(piece.text)
            continue
        end_run()
        if isinstance(piece, Plain) and not piece.first and shown and shown[-1][0] == "plain":
            shown[-1] = (*shown[-1][:2], str(shown[-1][2]) + piece.text)
        elif isinstance(piece, Plain):
            shown.append(("plain", piece.code, piece.text))
        else:
            shown.append((type(piece).__name__, getattr(piece, "text", getattr(piece, "lang", ""))))
    end_run()
    return shown


@pytest.mark.parametrize("name", sorted(BIG))
def test_streamed_text_is_cut_as_the_whole_text(name: str) -> None:
    text = BIG[name]
    expected = looks(whole(text))
    for seed, biggest in enumerate((150, 1_000, 5_000)):
        assert looks(streamed(text, seed, biggest)) == expected, (name, seed)


@pytest.mark.parametrize("name", sorted(BIG))
def test_every_piece_is_bounded(name: str) -> None:
    for pieces in (whole(BIG[name]), streamed(BIG[name], 1, 400)):
        for piece in pieces:
            if isinstance(piece, Markdown):
                assert scan_blocks(piece.text).cost <= PART_COST
            elif isinstance(piece, Plain):
                assert len(piece.text) <= PLAIN_CHUNK
            elif isinstance(piece, Code):
                assert len(piece.text) <= CODE_CHUNK


@pytest.mark.parametrize("name", ["paragraphs", "one line", "no spaces", "big table", "loose list"])
def test_nothing_is_lost(name: str) -> None:
    text = BIG[name]
    shown = "".join(p.text for p in whole(text) if isinstance(p, Markdown | Plain | Code))
    assert shown.split() == text.split()


def test_a_short_answer_is_one_part() -> None:
    text = "# Title\n\nSome *text*.\n\n```python\nprint(1)\n```\n"
    assert whole(text) == [Markdown(text)]


def test_long_code_comes_in_chunks_between_its_fences() -> None:
    pieces = whole(BIG["long code"])
    assert pieces[0] == Markdown("Intro:\n")  # a paragraph ends where a fence begins
    assert pieces[1] == CodeOpen("python")
    chunks = [p for p in pieces if isinstance(p, Code)]
    assert "".join(c.text for c in chunks) == CODE_LINE * 700
    assert all(len(c.text) <= CODE_CHUNK for c in chunks) and len(chunks) > 5
    assert all(c.text.endswith("\n") for c in chunks)  # whole lines, when they fit
    assert pieces[-2] == CodeClose()
    assert pieces[-1] == Markdown("After the code.\n")


def test_a_code_line_longer_than_a_chunk_is_cut() -> None:
    chunks = [p.text for p in whole(BIG["endless code line"]) if isinstance(p, Code)]
    assert "".join(chunks) == "y" * 20_000 + "\n"
    assert [len(c) for c in chunks[:-1]] == [CODE_CHUNK] * (20_000 // CODE_CHUNK)


def test_long_code_keeps_what_only_looks_like_a_fence() -> None:
    body = "``` not a closing fence\n" + "~~~\n" + CODE_LINE * 200 + "  ```` \n"
    pieces = whole("```\n" + body + "after\n")
    code = "".join(p.text for p in pieces if isinstance(p, Code))
    assert code == body[: -len("  ```` \n")]  # the last line closes it (longer run, spaces)
    assert pieces[-1] == Markdown("after\n")


def test_an_indented_fence_strips_its_indentation_from_the_code() -> None:
    pieces = whole(BIG["indented fence"])
    code = "".join(p.text for p in pieces if isinstance(p, Code))
    assert code == "  indented code\n" * 600


def test_a_long_list_is_cut_between_items() -> None:
    parts = [p.text for p in whole(BIG["long list"]) if isinstance(p, Markdown)]
    assert len(parts) > 2
    starts = [part.split(".", 1)[0] for part in parts[:-1]]
    assert starts[0] == "1" and all(s.isdigit() for s in starts)
    assert '<ol start="' in render_markdown(parts[1]).html  # numbering goes on


def test_a_huge_paragraph_shows_as_plain_text_until_it_ends() -> None:
    pieces = whole(BIG["huge item"])
    assert isinstance(pieces[0], Plain) and pieces[0].first
    assert pieces[-1] == Markdown("- second item\n\nafter\n")


# -- the tail ----------------------------------------------------------------------------


def test_the_tail_is_what_is_not_cut_yet() -> None:
    segmenter = Segmenter()
    segmenter.feed("First paragraph.\n\nSecond, still being wri")
    assert drain(segmenter) == []  # the second block's first line is not complete yet
    assert segmenter.tail() == Markdown("First paragraph.\n\nSecond, still being wri")
    segmenter.feed("tten\nand going on")
    assert drain(segmenter) == [Markdown("First paragraph.\n\n")]
    assert segmenter.tail() == Markdown("Second, still being written\nand going on")


def test_a_costly_tail_shows_as_plain_text_for_now() -> None:
    segmenter = Segmenter()
    segmenter.feed("| a |\n|---|\n" + "|x" * 3_000)  # a row with thousands of cells, growing
    assert drain(segmenter) == []
    tail = segmenter.tail()
    assert isinstance(tail, Plain)


def test_the_tail_of_long_code_is_its_unfinished_chunk() -> None:
    segmenter = Segmenter()
    segmenter.feed("```c\n" + CODE_LINE * 200 + "int x")
    pieces = drain(segmenter)
    assert pieces[0] == CodeOpen("c")
    tail = segmenter.tail()
    assert isinstance(tail, Code) and tail.text.endswith("int x")
    shown = "".join(p.text for p in pieces if isinstance(p, Code)) + tail.text
    assert shown == CODE_LINE * 200 + "int x"


# -- nesting -----------------------------------------------------------------------------


def test_deep_quotes_are_flattened_to_a_few_levels() -> None:
    assert flatten_line("> " * 5000 + "deep") == "> " * QUOTE_DEPTH + "deep"
    assert flatten_line(">" * 30 + " x") == ">" * QUOTE_DEPTH + "x"
    assert flatten_line("- " * 50 + "item") == "- " * NESTING_DEPTH + "item"
    mixed = "> - " * 10 + "x"
    flat = flatten_line(mixed)
    assert flat.count(">") == QUOTE_DEPTH and flat.count("-") == NESTING_DEPTH - QUOTE_DEPTH
    for fine in ("> > quote", "- - item", "1. 2. 3. x", "plain text", ">>> print(1)"):
        assert flatten_line(fine) == fine


def test_code_in_fences_is_never_flattened() -> None:
    code = "```\n" + "> " * 10 + "x\n" + "~~~\n" + "```\n" + "> " * 10 + "y\n"
    flattener = NestingFlattener()
    out = flattener.feed(code) + flattener.finish()
    assert out == "```\n" + "> " * 10 + "x\n~~~\n```\n" + "> " * QUOTE_DEPTH + "y\n"


def test_flattening_does_not_depend_on_how_the_text_arrives() -> None:
    text = ("> " * 40 + "quote\r\n" + "plain line\r" + "- " * 20 + "item\n") * 20 + "> > > >"
    at_once = NestingFlattener()
    expected = at_once.feed(text) + at_once.finish()
    assert "\r" not in expected and expected.count("\n") == 60
    for seed in range(5):
        rnd, flattener, out, at = random.Random(seed), NestingFlattener(), [], 0
        while at < len(text):
            step = rnd.randint(1, 9)
            out.append(flattener.feed(text[at : at + step]))
            at += step
        assert "".join(out) + flattener.finish() == expected


def test_ordinary_text_is_not_held_back() -> None:
    flattener = NestingFlattener()
    assert flattener.feed("Hello, wor") == "Hello, wor"
    assert flattener.feed("ld\n> > ") == "ld\n"  # could still be a deep quote
    assert flattener.feed("yes") == "> > yes"


# -- math --------------------------------------------------------------------------------


def math_answer(blocks: int) -> str:
    """Paragraphs and display math R1's way: \\[ on a line after a paragraph, no blank line."""
    out = []
    for i in range(blocks):
        out.append(
            f"Step {i}: with \\(a_{{{i}}}\\) we get:\n\\[\nx_{{{i}}} = \\frac{{{i}}}{{2}}\n\\]"
        )
        out.append(
            f"\\begin{{aligned}}\ny &= {i} \\\\\nz &= {i + 1}\n\\end{{aligned}}\n" + words(40, i)
        )
    return "\n\n".join(out) + "\n"


def math_pieces(text: str, seed: int | None) -> list[Piece]:
    segmenter, pieces = Segmenter(math=True), []
    if seed is None:
        segmenter.feed(text)
    else:
        rnd, at = random.Random(seed), 0
        while at < len(text):
            step = rnd.randint(1, 300)
            segmenter.feed(text[at : at + step])
            at += step
            pieces += drain(segmenter)
    segmenter.finish()
    return pieces + drain(segmenter)


def test_with_math_a_part_never_ends_inside_display_math() -> None:
    text = math_answer(300)
    for seed in (None, 1, 2):
        pieces = math_pieces(text, seed)
        assert "".join(p.text for p in pieces if isinstance(p, Markdown)) == text
        for piece in pieces:
            assert isinstance(piece, Markdown)
            assert piece.text.count("\\[") == piece.text.count("\\]"), piece.text[-80:]
            assert piece.text.count("\\begin") == piece.text.count("\\end")


def test_formulas_count_in_the_cost_of_a_part() -> None:
    text = " ".join(f"$x_{{{i}}}$" for i in range(400))
    assert scan_blocks(text, math=True).cost > 100 * 400
    assert scan_blocks(text).cost == len(text)  # without math, formulas are plain text
    pieces = math_pieces("\n\n".join([text] * 6), None)
    assert len(pieces) >= 6  # a paragraph of 400 formulas is a part of its own


def test_a_display_formula_too_long_for_a_part_shows_its_source_saying_why() -> None:
    huge = "x + " * 12_500
    pieces = math_pieces(f"Before.\n\n$$\n{huge}\n$$\n\nAfter.\n", None)
    plain = [p for p in pieces if isinstance(p, Plain)]
    assert plain and all(p.code and p.note.startswith("Not rendered:") for p in plain)
    assert "".join(p.text for p in plain).replace("\n", "") == f"$${huge}$$".replace("\n", "")
    assert isinstance(pieces[-1], Markdown) and pieces[-1].text == "After.\n"
