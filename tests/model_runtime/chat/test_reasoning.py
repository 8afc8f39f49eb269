"""The streaming reasoning parser gives the same split however the text is chunked."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from model_runtime.chat.reasoning import ReasoningParser, Segment, split_reasoning, strip_reasoning

Result = list[tuple[str, str]]


def merged(segments: list[Segment]) -> Result:
    """Join neighbouring segments of one kind, as a view appending chunks would."""
    out: Result = []
    for segment in segments:
        assert segment.text, "empty segment emitted"
        if out and out[-1][0] == segment.kind:
            out[-1] = (segment.kind, out[-1][1] + segment.text)
        else:
            out.append((segment.kind, segment.text))
    return out


def parse_chunks(chunks: list[str], *, starts_in_thinking: bool = False) -> Result:
    parser = ReasoningParser(starts_in_thinking=starts_in_thinking)
    segments: list[Segment] = []
    for chunk in chunks:
        result = parser.feed(chunk)
        # Within one feed() result neighbours always differ in kind.
        assert all(a.kind != b.kind for a, b in itertools.pairwise(result))
        segments += result
    segments += parser.finish()
    return merged(segments)


def reference(text: str, *, starts_in_thinking: bool = False) -> Result:
    """The rules of the module docstring, applied character by character to a whole text."""
    thinking = seen = starts_in_thinking
    at_start = True
    chars: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        if thinking and text.startswith("</think>", i):
            thinking, at_start, i = False, True, i + len("</think>")
        elif not thinking and text.startswith("<think>", i):
            thinking = seen = at_start = True
            i += len("<think>")
        elif not thinking and not seen and text.startswith("</think>", i):
            i += len("</think>")
        else:
            if not (at_start and text[i].isspace()):
                at_start = False
                chars.append(("thinking" if thinking else "answer", text[i]))
            i += 1
    return [
        (k, "".join(c for _, c in group)) for k, group in itertools.groupby(chars, lambda p: p[0])
    ]


# (text, starts_in_thinking, expected)
CASES: list[tuple[str, bool, Result]] = [
    (
        "<think>\nI reason.\n</think>\n\nThe answer.",
        False,
        [("thinking", "I reason.\n"), ("answer", "The answer.")],
    ),
    (
        "Let me think.\n</think>\n\nAnswer",
        True,
        [("thinking", "Let me think.\n"), ("answer", "Answer")],
    ),
    ("<think>\nstill going", False, [("thinking", "still going")]),
    ("\nstill going, no close", True, [("thinking", "still going, no close")]),
    (
        "<think>a</think>\n\nB<think>\nc\n</think>D",
        False,
        [("thinking", "a"), ("answer", "B"), ("thinking", "c\n"), ("answer", "D")],
    ),
    (
        "x < y, a</b>, <thinking> </thin <thin",
        False,
        [("answer", "x < y, a</b>, <thinking> </thin <thin")],
    ),
    (
        "<think>I wrote <think> and </thin k</think>ok",
        False,
        [("thinking", "I wrote <think> and </thin k"), ("answer", "ok")],
    ),
    ("reasoning</think>\n\nanswer", False, [("answer", "reasoning\n\nanswer")]),
    (
        "<think>r</think>Use </think> to close.",
        False,
        [("thinking", "r"), ("answer", "Use </think> to close.")],
    ),
    ("<think>\n\n</think>\n\nHi", False, [("answer", "Hi")]),
    ("", False, []),
    ("", True, []),
    ("  \n", False, []),
    ("<<think>>x</think>>", False, [("answer", "<"), ("thinking", ">x"), ("answer", ">")]),
    ("<think></think><think></think>", False, []),
    ("<think>a</think> <think>b</think>c", False, [("thinking", "ab"), ("answer", "c")]),
    (
        "<think>\n  a  b\n</think>\n\n  c d ",
        False,
        [("thinking", "a  b\n"), ("answer", "c d ")],
    ),
    ("ends in a partial <thi", False, [("answer", "ends in a partial <thi")]),
    ("thinking ends in </thin", True, [("thinking", "thinking ends in </thin")]),
    ("<think>x</think></think>", False, [("thinking", "x"), ("answer", "</think>")]),
    ("</think></think>a<think>b", False, [("answer", "a"), ("thinking", "b")]),
]
IDS = [f"case{i}" for i in range(len(CASES))]


@pytest.mark.parametrize(("text", "starts", "expected"), CASES, ids=IDS)
def test_whole_text(text: str, starts: bool, expected: Result) -> None:
    assert parse_chunks([text], starts_in_thinking=starts) == expected
    assert reference(text, starts_in_thinking=starts) == expected


@pytest.mark.parametrize(("text", "starts", "expected"), CASES, ids=IDS)
def test_every_two_chunk_split(text: str, starts: bool, expected: Result) -> None:
    for i in range(len(text) + 1):
        assert parse_chunks([text[:i], text[i:]], starts_in_thinking=starts) == expected, i


@pytest.mark.parametrize(("text", "starts", "expected"), CASES, ids=IDS)
def test_every_three_chunk_split(text: str, starts: bool, expected: Result) -> None:
    for i, j in itertools.combinations_with_replacement(range(len(text) + 1), 2):
        chunks = [text[:i], text[i:j], text[j:]]
        assert parse_chunks(chunks, starts_in_thinking=starts) == expected, (i, j)


@pytest.mark.parametrize(("text", "starts", "expected"), CASES, ids=IDS)
def test_one_character_at_a_time(text: str, starts: bool, expected: Result) -> None:
    assert parse_chunks(list(text), starts_in_thinking=starts) == expected


def test_random_texts_and_chunkings_match_the_reference() -> None:
    pieces = ["<think>", "</think>", "<", "</", "<th", "think", ">", "a", "b ", " ", "\n", "</thin"]
    rng = random.Random(20250128)
    for _ in range(1500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        starts = rng.random() < 0.5
        cuts = sorted(rng.randint(0, len(text)) for _ in range(rng.randint(0, 5)))
        chunks = [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)])]
        assert parse_chunks(chunks, starts_in_thinking=starts) == reference(
            text, starts_in_thinking=starts
        ), (text, starts, chunks)


def held_back(prefix: str, *, starts_in_thinking: bool) -> str:
    """What feeding ``prefix`` leaves unemitted until the next chunk or finish()."""
    parser = ReasoningParser(starts_in_thinking=starts_in_thinking)
    parser.feed(prefix)
    return "".join(s.text for s in parser.finish())  # finish() emits only what was held


@pytest.mark.parametrize(("text", "starts", "expected"), CASES, ids=IDS)
def test_holds_back_only_a_possible_partial_tag(text: str, starts: bool, expected: Result) -> None:
    for i in range(len(text) + 1):
        prefix = text[:i]
        held = held_back(prefix, starts_in_thinking=starts)
        assert prefix.endswith(held)
        assert held == "" or any(tag.startswith(held) for tag in ("<think>", "</think>"))


def test_text_that_cannot_be_a_tag_is_emitted_at_once() -> None:
    parser = ReasoningParser()
    assert parser.feed("a < b") == [Segment("answer", "a < b")]
    assert parser.feed(", x </ y") == [Segment("answer", ", x </ y")]
    assert parser.feed(" <thinking>") == [Segment("answer", " <thinking>")]
    assert parser.finish() == []


def test_a_possible_partial_tag_waits_and_comes_back_unchanged() -> None:
    parser = ReasoningParser()
    assert parser.feed("a <") == [Segment("answer", "a ")]
    assert parser.feed("th") == []
    assert parser.feed("inker") == [Segment("answer", "<thinker")]
    assert parser.feed("</thin") == []  # could still be a stray close tag
    assert parser.feed("g") == [Segment("answer", "</thing")]
    assert parser.feed("<think>r</think>A") == [Segment("thinking", "r"), Segment("answer", "A")]
    # Once thinking has been seen, only the open tag is special in an answer.
    assert parser.feed("</thin") == [Segment("answer", "</thin")]
    assert parser.feed("<thin") == []
    assert parser.finish() == [Segment("answer", "<thin")]


def test_tag_split_at_every_position_switches_state() -> None:
    for i in range(1, len("<think>")):
        parser = ReasoningParser()
        assert parser.feed("Q" + "<think>"[:i]) == [Segment("answer", "Q")]
        assert not parser.in_thinking
        assert parser.feed("<think>"[i:] + "r") == [Segment("thinking", "r")]
        assert parser.in_thinking


def test_template_opened_thinking_sees_only_the_close_tag() -> None:
    parser = ReasoningParser(starts_in_thinking=True)
    assert parser.in_thinking
    assert parser.state == "thinking"
    assert parser.thinking_segments == 1
    assert parser.feed("\n") == []
    assert parser.feed("Okay, the user asks <think>?") == [
        Segment("thinking", "Okay, the user asks <think>?")
    ]
    assert parser.feed("\n</th") == [Segment("thinking", "\n")]
    assert parser.feed("ink>\n") == []
    assert not parser.in_thinking
    assert parser.state == "answer"
    assert parser.feed("\n42") == [Segment("answer", "42")]
    assert parser.finish() == []
    assert not parser.unclosed
    assert parser.thinking_segments == 1


def test_missing_close_tag_is_all_thinking_and_reported() -> None:
    parser = ReasoningParser()
    assert parser.feed("<think>\nhmm") == [Segment("thinking", "hmm")]
    assert parser.feed(" </thi") == [Segment("thinking", " ")]
    assert not parser.unclosed
    assert parser.finish() == [Segment("thinking", "</thi")]
    assert parser.finished
    assert parser.unclosed
    assert parser.in_thinking


def test_several_thinking_segments_are_counted() -> None:
    parser = ReasoningParser()
    out = parser.feed("<think>a</think>B<think>c</think>D<think>")
    assert out == [
        Segment("thinking", "a"),
        Segment("answer", "B"),
        Segment("thinking", "c"),
        Segment("answer", "D"),
    ]
    assert parser.thinking_segments == 3
    assert parser.thinking_chars == 2
    assert parser.answer_chars == 2
    assert parser.finish() == []
    assert parser.unclosed


def test_stray_close_tag_before_any_thinking_is_dropped_and_counted() -> None:
    parser = ReasoningParser()
    assert parser.feed("reasoning\n</") == [Segment("answer", "reasoning\n")]
    assert parser.feed("think>\n\nanswer") == [Segment("answer", "\n\nanswer")]
    assert parser.stray_close_tags == 1
    assert parser.thinking_segments == 0
    assert parser.finish() == []
    assert not parser.unclosed


def test_leading_whitespace_is_stripped_across_chunks_but_not_inside() -> None:
    parser = ReasoningParser()
    assert parser.feed("<think>") == []
    assert parser.feed("\n") == []
    assert parser.feed("  ") == []
    assert parser.feed("a \n b") == [Segment("thinking", "a \n b")]
    assert parser.feed("\n</think>\n") == [Segment("thinking", "\n")]
    assert parser.feed("\n") == []
    assert parser.feed(" x  y ") == [Segment("answer", "x  y ")]
    assert parser.finish() == []


def test_feed_after_finish_is_an_error() -> None:
    parser = ReasoningParser()
    parser.finish()
    assert parser.finish() == []
    with pytest.raises(RuntimeError):
        parser.feed("x")


def test_custom_tags() -> None:
    parser = ReasoningParser(open_tag="<reasoning>", close_tag="</reasoning>")
    chunks = ["<reas", "oning>why</rea", "soning>so <think>"]
    out = merged([s for chunk in chunks for s in parser.feed(chunk)] + parser.finish())
    assert out == [("thinking", "why"), ("answer", "so <think>")]


@pytest.mark.parametrize(("open_tag", "close_tag"), [("", "</t>"), ("<t>", ""), ("<t>", "<t>")])
def test_bad_tags_are_refused(open_tag: str, close_tag: str) -> None:
    with pytest.raises(ValueError):
        ReasoningParser(open_tag=open_tag, close_tag=close_tag)


def test_segment_is_frozen() -> None:
    segment = Segment("answer", "x")
    with pytest.raises(AttributeError):
        segment.text = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "starts", "expected"),
    [
        ("<think>\nwhy\n</think>\n\nbecause", False, ("why", "because")),
        ("why\n</think>\n\nbecause", True, ("why", "because")),
        ("why\n</think>\n\nbecause", False, ("why", "because")),  # template opened it
        ("just an answer", False, ("", "just an answer")),
        ("<think>\nnever closed", False, ("never closed", "")),
        ("<think>a</think>B\n<think>c</think>\nD", False, ("a\n\nc", "B\n\nD")),
        ("Use </think> after <think>r</think> x", False, ("Use\n\nr", "after\n\nx")),
        ("", False, ("", "")),
    ],
)
def test_split_reasoning(text: str, starts: bool, expected: tuple[str, str]) -> None:
    assert split_reasoning(text, starts_in_thinking=starts) == expected


def test_strip_reasoning_keeps_only_the_answer() -> None:
    assert strip_reasoning("<think>\nsecret\n</think>\n\nThe answer is 4.") == "The answer is 4."
    assert strip_reasoning("secret\n</think>\n\nThe answer is 4.") == "The answer is 4."
    assert strip_reasoning("<think>a</think>One<think>b</think>Two") == "One\n\nTwo"
    assert strip_reasoning("No reasoning here, a < b.") == "No reasoning here, a < b."


def time_one_char_at_a_time(text: str, *, starts_in_thinking: bool = False) -> float:
    parser = ReasoningParser(starts_in_thinking=starts_in_thinking)
    started = time.perf_counter()
    for ch in text:
        parser.feed(ch)
    parser.finish()
    return time.perf_counter() - started


@pytest.mark.parametrize(
    "unit",
    [
        "<think>\nstep < x, </thin ok\n</think>\n\nanswer a<b <th c ",
        "<",
        "</think",
        "plain prose without any angle brackets at all. ",
    ],
    ids=["mixed", "all-open-brackets", "partial-close", "prose"],
)
def test_one_character_at_a_time_over_100k_is_fast(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    elapsed = min(time_one_char_at_a_time(text), time_one_char_at_a_time(text))
    assert elapsed < 0.5, f"{elapsed:.3f} s"


@pytest.mark.parametrize("unit", ["</think>x", "<think>x</think>y", "<thi", "</thin"])
def test_large_chunks_are_linear(unit: str) -> None:
    """Many tags (or stray close tags) in one chunk must not rescan the chunk for each."""
    started = time.perf_counter()
    parse_chunks([unit * 100_000])
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"{elapsed:.3f} s"  # a rescan per tag would take far longer
    small = unit * 1_000
    assert parse_chunks([small]) == reference(small)


def test_continuing_keeps_the_first_whitespace_and_knows_thinking_happened() -> None:
    answer = ReasoningParser(continuing=True)
    assert answer.feed(" time, there was") == [Segment("answer", " time, there was")]
    assert answer.feed(" a </think> tag") == [Segment("answer", " a </think> tag")]
    thinking = ReasoningParser(starts_in_thinking=True, continuing=True)
    assert thinking.feed(" more thought</think>\n\nAnswer") == [
        Segment("thinking", " more thought"),
        Segment("answer", "Answer"),
    ]
