"""Passages, retrieval and the room in the context: the page with a known sentence is found
for a question about it, and what goes into the question fits."""

from __future__ import annotations

from typing import Any

import pytest

from model_runtime.attachments.budget import (
    answer_room,
    automatic_modes,
    estimate_tokens,
    fits_whole,
    include_files,
    larger_context,
    room_for_files,
)
from model_runtime.attachments.files import stored_file
from model_runtime.attachments.passages import describe_spans, span_label, split_passages
from model_runtime.attachments.prompt import Included, compose_turn
from model_runtime.attachments.reading import attach_text, read_attachment
from model_runtime.attachments.retrieval import PassageIndex, query_terms, select_passages
from tests.attachment_files import FACTS, pages_with_facts, write_pdf

FACT_PAGES = {4: 0, 9: 5, 11: 13}  # page -> FACTS index


def words(text: str) -> str:
    """Text with every run of white space one space (a PDF's lines break sentences)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def handbook(qapp: Any, tmp_path_factory: pytest.TempPathFactory) -> Included:
    """A real 12-page PDF, three known sentences on known pages."""
    facts = {page: FACTS[index][0] for page, index in FACT_PAGES.items()}
    path = write_pdf(tmp_path_factory.mktemp("pdf") / "handbook.pdf", pages_with_facts(12, facts))
    return Included(read_attachment(path), "passages")


def test_passages_stay_on_their_page_and_cover_the_text(handbook: Included) -> None:
    text = handbook.file.text
    passages = split_passages(0, "pdf", text, limit=600)
    assert all(len(p.text) <= 600 for p in passages)
    assert all("\f" not in p.text for p in passages)
    covered = "".join(text[p.start : p.end] for p in passages)
    assert covered.replace("\n", "") == text.replace("\f", "").replace("\n", "")
    assert {span_label("pdf", text, p.start, p.end) for p in passages} == {
        f"page {n}" for n in range(1, 13)
    }


def test_text_passages_say_their_lines() -> None:
    text = "".join(f"line {n} of the program\n" for n in range(1, 201))
    passages = split_passages(0, "text", text, limit=500)
    assert span_label("text", text, passages[0].start, passages[0].end) == "lines 1–22"
    spans = [(p.start, p.end) for p in (passages[0], passages[3])]
    assert describe_spans("text", text, spans) == "lines 1–22, 65–85"
    a_line = text.index("line 5 ")
    assert span_label("text", text, a_line, a_line + 5) == "line 5"


def test_query_terms_leave_out_the_small_words() -> None:
    assert query_terms("What is the secret ingredient of the harbour soup?") == [
        "secret",
        "ingredient",
        "harbour",
        "soup",
    ]
    assert query_terms("Is it in the...?") == []


@pytest.mark.parametrize(("page", "fact"), FACT_PAGES.items())
def test_the_page_with_the_known_sentence_ranks_first(
    handbook: Included, page: int, fact: int
) -> None:
    text = handbook.file.text
    passages = split_passages(0, "pdf", text)
    index = PassageIndex(passages)
    try:
        best = passages[index.rank(FACTS[fact][1])[0]]
    finally:
        index.close()
    assert span_label("pdf", text, best.start, best.end) == f"page {page}"
    # the sentence may run on into the next passage; with its neighbours, it is all there
    chosen = select_passages(FACTS[fact][1], passages, 400, lambda p: estimate_tokens(p.text))
    assert FACTS[fact][0] in words(" ".join(p.text for p in chosen))


def test_selection_fills_the_budget_in_reading_order(handbook: Included) -> None:
    passages = split_passages(0, "pdf", handbook.file.text)
    chosen = select_passages(FACTS[5][1], passages, 700, lambda p: estimate_tokens(p.text))
    assert sum(estimate_tokens(p.text) for p in chosen) <= 700
    assert chosen == sorted(chosen, key=lambda p: p.start)
    assert FACTS[5][0] in words(" ".join(p.text for p in chosen))
    nothing = select_passages("zzz qqq", passages, 500, lambda p: estimate_tokens(p.text))
    assert nothing and nothing[0] == passages[0]  # no match: the start of the file


def test_the_question_gets_the_passages_with_their_pages(handbook: Included) -> None:
    question = FACTS[13][1]
    [item] = include_files(question, [handbook], room=900)
    assert item.mode == "passages" and "11" in item.where()
    turn = compose_turn(question, [item])
    assert turn.startswith('<file name="handbook.pdf" pages="12" excerpts="page')
    assert "[page 11]\n" in turn and FACTS[13][0] in words(turn)
    assert turn.endswith(f"</file>\n\n{question}")
    assert estimate_tokens(turn) < 900 + 100


def test_whole_files_are_delimited_with_their_names_and_pages(handbook: Included) -> None:
    notes = Included(attach_text("x = 1\n", name="bug.py"))
    turn = compose_turn("Find the bug.", [notes, Included(handbook.file, "whole")])
    assert turn.startswith('<file name="bug.py">\nx = 1\n</file>\n\n<file name="handbook.pdf"')
    assert "[page 1]\n" in turn and "[page 12]\n" in turn and turn.endswith("\n\nFind the bug.")
    assert compose_turn("Just a question", []) == "Just a question"
    nothing = compose_turn("Q", [Included(handbook.file, "passages")])  # no room was left
    assert 'excerpts="">\n(No passage of this file fit in the context.)\n</file>' in nothing


def test_the_room_for_files_and_a_larger_context() -> None:
    assert answer_room(8192, 4096) == 2048 and answer_room(2048, 300) == 300
    assert room_for_files(8192, 1000, 4096) == 8192 - 1000 - 2048 - 256
    assert room_for_files(1024, 5000, 4096) == 0
    # 20,000 tokens of files: the smallest multiple of 1024 whose room takes them
    ctx = larger_context(20_000, 0, 4096, n_ctx=8192, max_ctx=131_072)
    assert room_for_files(ctx, 0, 4096) >= 20_000 > room_for_files(ctx - 1024, 0, 4096)
    assert larger_context(20_000, 0, 4096, n_ctx=8192, max_ctx=16_384) == 0  # none fits
    assert larger_context(20_000, 0, 4096, n_ctx=32_768, max_ctx=32_768) == 0  # not larger


def test_whole_where_it_fits_passages_for_the_rest() -> None:
    small = Included(stored_file("a.txt", "text", 10, "a" * 64, "short"), tokens=100)
    large = Included(stored_file("b.txt", "text", 10, "b" * 64, "long " * 4000), tokens=5000)
    assert fits_whole([small, large], 2000) == [True, False]
    assert fits_whole([large, small], 2000) == [False, True]  # the small one still goes whole
    modes = [item.mode for item in automatic_modes([large, small], 2000)]
    assert modes == ["passages", "whole"]
