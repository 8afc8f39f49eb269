"""The boxed answer: the content of the last `\\boxed{…}` in a text.

DeepSeek advises asking R1 to "put your final answer within \\boxed{}", and its distills do so in
their thinking and their answers. The chat shows the boxed answer at a glance; a vote over
several thoughts groups them by it. Braces nest (`\\boxed{\\frac{1}{2}}`); a box still open at the
end of the text (the answer was cut off) does not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def boxed_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each closed box's content in text, in order; escaped braces (`\\{`)
    don't open or close one. Linear in the length of text."""
    spans: list[tuple[int, int]] = []
    position = 0
    while (match := _BOX.search(text, position)) is not None:
        end = closing_brace(text, match.end())
        if end is None:
            break  # open to the end: nothing after it can close
        spans.append((match.end(), end))
        position = end + 1
    return spans


def last_boxed(text: str) -> str | None:
    """The content of the last closed `\\boxed{…}` (or `\\fbox{…}`) in text, stripped; None
    when there is none."""
    spans = boxed_spans(text)
    if not spans:
        return None
    start, end = spans[-1]
    return text[start:end].strip()


def closing_brace(text: str, start: int, stop: int | None = None) -> int | None:
    """The index of the brace that closes the one opened just before start (looking no further
    than stop), or None."""
    depth = 1
    index = start
    stop = len(text) if stop is None else min(stop, len(text))
    while index < stop:
        char = text[index]
        if char == "\\":
            index += 2  # an escaped character, \{ or \} among them
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


@dataclass(frozen=True)
class BoxedAnswer:
    """The boxed result of an answer: its LaTeX, and whether it came from the reasoning (the
    model boxed it while thinking, and the answer was cut off or stopped before it did)."""

    latex: str
    from_reasoning: bool = False


def boxed_answer(answer: str, reasoning: str = "") -> BoxedAnswer | None:
    """The last boxed result of the answer; when the answer has none, the reasoning's."""
    found = last_boxed(answer)
    if found:
        return BoxedAnswer(found)
    found = last_boxed(reasoning)
    return BoxedAnswer(found, from_reasoning=True) if found else None
