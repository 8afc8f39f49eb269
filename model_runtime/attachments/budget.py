"""Does it fit? The room files have in the context, the choice between whole files and
retrieved passages, and a larger context that would take them whole."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from model_runtime.attachments.files import PAGE_BREAK
from model_runtime.attachments.passages import PASSAGE_CHARS, Passage, split_passages
from model_runtime.attachments.prompt import Included, Mode, compose_turn
from model_runtime.attachments.retrieval import PassageIndex, select_passages

MIN_ANSWER_ROOM = 512
QUESTION_ROOM = 256  # the question itself and the files' delimiters
FILE_OVERHEAD = 24  # tokens of one file's <file …> lines
MIN_PASSAGE_ROOM = 256  # less than this left for passages: retrieval can't help
CHARS_PER_TOKEN = 3.5  # an estimate for when no model can count (a remote engine, none loaded)
CONTEXT_STEP = 1024
MIN_PASSAGE_CHARS = 300

Counter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """About how many tokens a text takes, without a tokenizer (errs on the high side)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def answer_room(n_ctx: int, max_tokens: int) -> int:
    """The context kept free for the answer (its reasoning included)."""
    return min(max_tokens, max(MIN_ANSWER_ROOM, n_ctx // 4))


def room_for_files(n_ctx: int, history_tokens: int, max_tokens: int) -> int:
    """Tokens the files of the next question may take (0 when the context is full)."""
    return max(0, n_ctx - history_tokens - answer_room(n_ctx, max_tokens) - QUESTION_ROOM)


def larger_context(
    needed: int, history_tokens: int, max_tokens: int, n_ctx: int, max_ctx: int
) -> int:
    """The smallest context (a multiple of CONTEXT_STEP, at most max_ctx) whose room takes
    `needed` tokens of files; 0 when none up to max_ctx does, or it would not be larger."""
    size = max(n_ctx + CONTEXT_STEP, CONTEXT_STEP)
    while size <= max_ctx:
        if room_for_files(size, history_tokens, max_tokens) >= needed:
            return size
        size += CONTEXT_STEP
    if max_ctx > n_ctx and room_for_files(max_ctx, history_tokens, max_tokens) >= needed:
        return max_ctx
    return 0


def cost(item: Included) -> int:
    """What a file takes when included whole."""
    return (item.tokens or estimate_tokens(item.file.text)) + FILE_OVERHEAD


def fits_whole(items: Sequence[Included], room: int) -> list[bool]:
    """For each file, in order: whether it fits whole beside the ones before it that do."""
    out, used = [], 0
    for item in items:
        fits = used + cost(item) <= room
        used += cost(item) if fits else 0
        out.append(fits)
    return out


def automatic_modes(items: Sequence[Included], room: int) -> list[Included]:
    """Whole where it fits (in order), passages for the rest (the command line's choice)."""
    mode: Mode
    out = []
    for item, fits in zip(items, fits_whole(items, room), strict=True):
        mode = "whole" if fits else "passages"
        out.append(replace(item, mode=mode))
    return out


def include_files(
    question: str,
    items: Sequence[Included],
    room: int,
    count: Counter | None = None,
) -> list[Included]:
    """What of each file goes in: whole ones as they are; for those marked "passages", the
    passages that best match the question, filling the room the whole ones leave. With a
    counter, the passages' turn is counted for real and trimmed until it fits."""
    whole = sum(cost(item) for item in items if item.mode == "whole")
    chosen = [i for i, item in enumerate(items) if item.mode == "passages"]
    if not chosen:
        return list(items)
    left = room - whole - FILE_OVERHEAD * len(chosen)
    ratio = {
        i: (items[i].tokens or estimate_tokens(items[i].file.text))
        / max(1, len(items[i].file.text))
        for i in chosen
    }
    passages: list[Passage] = []
    for i in chosen:
        # small rooms get small passages, so that several places of the file can go in
        limit = int(min(PASSAGE_CHARS, max(MIN_PASSAGE_CHARS, left / ratio[i] / 4)))
        passages += split_passages(i, items[i].file.kind, items[i].file.text, limit)

    def tokens(passage: Passage) -> int:
        return math.ceil(len(passage.text) * ratio[passage.file] * 1.1) + 4

    picked = select_passages(question, passages, max(0, left), tokens)
    result = _with_spans(items, picked)
    if count is None:
        return result
    budget = room - whole
    while picked:
        turn = compose_turn("", [r for r in result if r.mode == "passages"])
        if count(turn) <= budget:
            break
        picked = _drop_one(question, picked)  # the estimate was short: drop the weakest
        result = _with_spans(items, picked)
    return result


def _with_spans(items: Sequence[Included], picked: Sequence[Passage]) -> list[Included]:
    """items with the picked passages as spans; passages that follow each other on one page
    become one span."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for passage in picked:
        runs = spans.setdefault(passage.file, [])
        gap = items[passage.file].file.text[runs[-1][1] : passage.start] if runs else "\f"
        if len(gap) <= 1 and PAGE_BREAK not in gap:
            runs[-1] = (runs[-1][0], passage.end)
        else:
            runs.append((passage.start, passage.end))
    return [
        replace(item, spans=tuple(spans.get(i, ()))) if item.mode == "passages" else item
        for i, item in enumerate(items)
    ]


def _drop_one(question: str, picked: list[Passage]) -> list[Passage]:
    """picked without its weakest passage (the last in the ranking; the last one if none rank)."""
    index = PassageIndex(picked)
    try:
        ranked = index.rank(question)
    finally:
        index.close()
    unranked = [i for i in range(len(picked)) if i not in ranked]
    weakest = (unranked or ranked)[-1]
    return [p for i, p in enumerate(picked) if i != weakest]


@dataclass(frozen=True)
class ContextRoom:
    """The loaded model's context as the next question finds it: its size, what the
    conversation already takes, the answer's length limit, and the longest context the
    planner says fits this computer (0: unknown)."""

    n_ctx: int
    history: int = 0
    max_tokens: int = 4096
    max_ctx: int = 0

    @property
    def free(self) -> int:
        """Tokens the files may take."""
        return room_for_files(self.n_ctx, self.history, self.max_tokens)

    def larger(self, needed: int) -> int:
        """A context that would take `needed` tokens of files (0: none fits this computer)."""
        return larger_context(needed, self.history, self.max_tokens, self.n_ctx, self.max_ctx)
