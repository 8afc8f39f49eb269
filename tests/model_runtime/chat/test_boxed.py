import pytest

from model_runtime.chat.boxed import (
    BoxedAnswer,
    boxed_answer,
    boxed_spans,
    closing_brace,
    last_boxed,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is \\boxed{42}.", "42"),
        ("\\boxed{1} then \\boxed{ 2 }", "2"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed {x = 2 \\text{ or } x = 3}", "x = 2 \\text{ or } x = 3"),
        ("$\\boxed{\\{1, 2\\}}$", "\\{1, 2\\}"),  # escaped braces are the set's, not the box's
        ("\\fbox{7}", "7"),
        ("\\boxed{3} and then \\boxed{\\frac{1", "3"),  # the last box is cut off: the one before
        ("\\boxed{\\frac{1", None),
        ("no box here", None),
        ("\\boxed", None),
        ("", None),
    ],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


def test_deep_nesting_and_long_text_are_linear() -> None:
    deep = "\\boxed{" + "{" * 5000 + "x" + "}" * 5000 + "}"
    assert last_boxed(deep) == "{" * 5000 + "x" + "}" * 5000
    many = " ".join(f"\\boxed{{{i}}}" for i in range(20_000))
    assert last_boxed(many) == "19999"
    assert len(boxed_spans(many)) == 20_000


def test_closing_brace_looks_no_further_than_asked() -> None:
    text = "\\boxed{a{b}c} tail"
    assert closing_brace(text, 7) == 12
    assert closing_brace(text, 7, stop=12) is None  # the closing brace lies at the limit


def test_the_boxed_answer_comes_from_the_answer_else_from_the_reasoning() -> None:
    assert boxed_answer("So \\boxed{2}.", "I think \\boxed{3}") == BoxedAnswer("2")
    assert boxed_answer("It was cut off at \\boxed{", "so \\boxed{3}") == BoxedAnswer("3", True)
    assert boxed_answer("No box.", "None here either.") is None
