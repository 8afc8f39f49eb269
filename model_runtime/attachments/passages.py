"""A long file cut into passages that retrieval can pick from, each with where it is: a PDF's
page, or a text file's lines. Passages never cross a page, so a page number is exact."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from model_runtime.attachments.files import PAGE_BREAK

PASSAGE_CHARS = 1200  # about 300 tokens: small enough to pick, large enough to make sense
_LINE = re.compile(r"[^\n]*\n?")


@dataclass(frozen=True)
class Passage:
    """Text of one file between two offsets of its whole text (AttachedFile.text)."""

    file: int  # which of the question's files
    start: int
    end: int
    text: str


def _pages(kind: str, text: str) -> Iterable[tuple[int, int]]:
    """(start, end) of each page in text (a file without pages is one)."""
    if kind != "pdf":
        yield 0, len(text)
        return
    start = 0
    for part in text.split(PAGE_BREAK):
        yield start, start + len(part)
        start += len(part) + len(PAGE_BREAK)


def _pieces(text: str, start: int, end: int, limit: int) -> Iterable[tuple[int, int, bool]]:
    """(start, end, ends_paragraph) of each line in text[start:end], long lines cut at spaces."""
    for match in _LINE.finditer(text, start, end):
        a, b = match.span()
        if a == b:
            break
        while b - a > limit:
            cut = text.rfind(" ", a + limit // 2, a + limit)
            cut = cut + 1 if cut > a else a + limit
            yield a, cut, False
            a = cut
        blank_after = text.startswith("\n", b) or b >= end
        yield a, b, blank_after


def split_passages(file: int, kind: str, text: str, limit: int = PASSAGE_CHARS) -> list[Passage]:
    """Passages of about `limit` characters, cut at paragraph ends where it can, else at lines."""
    out: list[Passage] = []
    for page_start, page_end in _pages(kind, text):
        current: tuple[int, int] | None = None
        for a, b, paragraph_end in _pieces(text, page_start, page_end, limit):
            if current is not None and b - current[0] > limit:
                out.append(_passage(file, text, *current))
                current = None
            current = (current[0] if current else a, b)
            if paragraph_end and current[1] - current[0] >= limit // 2:
                out.append(_passage(file, text, *current))
                current = None
        if current is not None:
            out.append(_passage(file, text, *current))
    return [p for p in out if p.text.strip()]


def _passage(file: int, text: str, start: int, end: int) -> Passage:
    return Passage(file, start, end, text[start:end])


def page_of(text: str, offset: int) -> int:
    """The 1-based PDF page an offset of the whole text falls on."""
    return text.count(PAGE_BREAK, 0, offset) + 1


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def paragraph_of(text: str, offset: int) -> int:
    return text.count("\n\n", 0, offset) + 1


def span_label(kind: str, text: str, start: int, end: int) -> str:
    """Where a passage is: "page 12" (PDF), "paragraph 3" (Word), "lines 40–58" (others)."""
    if kind == "pdf":
        return f"page {page_of(text, start)}"
    if kind == "docx":
        return f"paragraph {paragraph_of(text, start)}"
    first, last = line_of(text, start), line_of(text, max(start, end - 1))
    return f"line {first}" if first == last else f"lines {first}–{last}"


def describe_spans(kind: str, text: str, spans: Sequence[tuple[int, int]]) -> str:
    """ "pages 12, 13, 47" or "lines 1–20, 80–95": where the passages used came from."""
    labels = list(dict.fromkeys(span_label(kind, text, a, b) for a, b in sorted(spans)))
    if len(labels) <= 1:
        return labels[0] if labels else ""
    word = {"pdf": "pages", "docx": "paragraphs"}.get(kind, "lines")
    return word + " " + ", ".join(label.split(" ", 1)[1] for label in labels)
