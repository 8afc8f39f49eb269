from fractions import Fraction

import pytest

from model_runtime.chat.vote import normalise, number_value, tally


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("x = 3", "x=3"),
        ("x = 3", "3"),  # a leading "x =" is dropped
        ("x_1 = 3", "3"),
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("\\tfrac12", "\\frac{1}{2}"),
        ("\\frac12", "\\frac{1}{2}"),
        ("0.5", "\\frac{1}{2}"),
        ("0.50", "1/2"),
        ("-\\frac{1}{2}", "-0.5"),
        ("\\frac{-1}{2}", "-0.5"),
        ("2", "2.0"),
        ("1,000", "1000"),
        ("1{,}000", "1000"),
        ("42.", "42"),
        ("42,", "42"),
        ("\\left( 1, 2 \\right)", "(1,2)"),
        ("\\left[0, 1\\right)", "[0,1)"),
        ("\\sqrt2", "\\sqrt{2}"),
        ("2\\sqrt{2}", "2 \\sqrt{2}"),
        ("x^{2} + 1", "x^2+1"),
        ("\\text{(B)}", "B"),
        ("(B)", "\\textbf{B}"),
        ("\\text{New York}", "New York"),
        ("$7$", "7"),
        ("5\\,\\text{cm}", "5 \\text{cm}"),
        ("50\\%", "50%"),
        ("\\displaystyle \\frac{3}{4}", "0.75"),
    ],
)
def test_the_same_answer_written_two_ways_counts_once(one: str, other: str) -> None:
    assert normalise(one) == normalise(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("0.333", "\\frac{1}{3}"),  # a rounded decimal is not the fraction: only exact values
        ("1,5", "1.5"),  # a decimal comma or a pair: ambiguous, so not read as a number
        ("3", "-3"),
        ("x^2", "x^3"),
        ("\\sqrt{2}", "2"),
        ("New York", "NewYork"),
        ("B", "b"),
        ("(1, 2)", "[1, 2]"),
    ],
)
def test_different_answers_stay_apart(one: str, other: str) -> None:
    assert normalise(one) != normalise(other)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", Fraction(3)),
        ("-2.50", Fraction(-5, 2)),
        (".5", Fraction(1, 2)),
        ("12,345,678", Fraction(12345678)),
        ("3/4", Fraction(3, 4)),
        ("\\frac{6}{8}", Fraction(3, 4)),
        ("1/0", None),
        ("\\frac{1}{0}", None),
        ("1,23", None),
        ("x", None),
        ("", None),
    ],
)
def test_number_value(text: str, value: Fraction | None) -> None:
    assert number_value(text) == value


@pytest.mark.parametrize(
    "broken",
    ["\\frac{1}", "}{", "\\left(", "\\frac{", "\\", "{{{", "\\text{", "$$", "\x00\ud800"],
)
def test_malformed_content_is_its_own_answer_and_never_raises(broken: str) -> None:
    key = normalise(broken)
    assert isinstance(key, str)
    answers = [f"\\boxed{{{broken}}}" if "{" not in broken else broken, "\\boxed{3}"]
    counted = tally(answers)  # never raises, whatever the box holds
    assert sum(g.count for g in counted.groups) + len(counted.unanswered) == 2


def test_the_majority_wins_and_the_line_reads_like_the_issue() -> None:
    answers = [f"So \\boxed{{x = {v}}}." for v in (3, 2, 3, 3, 2, 3, 3, 2)]
    counted = tally(answers)
    assert counted.describe() == "x = 3 — 5 of 8 · x = 2 — 3 of 8"
    assert counted.winner is not None and counted.winner.sequences == (0, 2, 3, 5, 6)
    assert counted.verdict() == "The majority: x = 3, 5 of 8."
    assert counted.group_of(4) is counted.groups[1]
    assert not counted.tied and not counted.on_text


def test_equal_values_written_differently_group_and_show_the_first_spelling() -> None:
    counted = tally(["\\boxed{\\dfrac{1}{2}}", "\\boxed{0.5}", "\\boxed{1/2}", "\\boxed{2}"])
    assert [(g.answer, g.count) for g in counted.groups] == [("\\dfrac{1}{2}", 3), ("2", 1)]


def test_a_tie_says_so_and_shows_the_earliest() -> None:
    counted = tally(["\\boxed{2}", "\\boxed{3}", "\\boxed{3}", "\\boxed{2}"])
    assert [g.answer for g in counted.tied] == ["2", "3"]
    assert counted.winner is not None and counted.winner.answer == "2"
    assert counted.verdict() == "A tie: 2 and 3, 2 of 4 each; the first is shown."


def test_a_tie_of_many_answers_counts_them_rather_than_naming_them() -> None:
    counted = tally(["\\boxed{1}", "\\boxed{2}", "\\boxed{3}"])
    assert counted.verdict() == "A tie: 3 answers have 1 of 3 each; the first is shown."


def test_a_plurality_is_not_called_a_majority() -> None:
    counted = tally(["\\boxed{1}", "\\boxed{1}", "\\boxed{2}", "\\boxed{3}", ""])
    assert counted.verdict() == "The most votes: 1, 2 of 5."
    assert counted.describe() == "1 — 2 of 5 · 2 — 1 of 5 · 3 — 1 of 5 · no boxed answer — 1 of 5"


def test_thoughts_without_a_box_do_not_vote_when_others_boxed() -> None:
    counted = tally(["The answer is 4.", "\\boxed{4}", "", "\\boxed{5} or \\boxed{4"])
    assert [(g.answer, g.sequences) for g in counted.groups] == [("4", (1,)), ("5", (3,))]
    assert counted.unanswered == (0, 2)


def test_without_any_box_the_vote_is_on_the_text() -> None:
    counted = tally(["Paris.", "Paris", "  Paris  ", "Lyon", ""])
    assert counted.on_text
    assert [(g.answer, g.count) for g in counted.groups] == [("Paris.", 3), ("Lyon", 1)]
    assert counted.describe() == "Paris. — 3 of 5 · Lyon — 1 of 5 · no answer — 1 of 5"
    assert "the vote is on the answers' text" in counted.verdict()


def test_no_answer_at_all() -> None:
    counted = tally(["", "", ""])
    assert counted.winner is None and counted.groups == ()
    assert counted.verdict() == "None of the 3 thoughts gave an answer to vote on."


def test_a_long_answer_is_cut_in_the_line() -> None:
    counted = tally(["word " * 40])
    assert len(counted.groups[0].shown) == 60 and counted.groups[0].shown.endswith("…")
