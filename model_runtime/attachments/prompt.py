"""The user turn the model sees: each file's text (or the passages used) clearly delimited
with its name and pages, then the question. R1 works best without a system prompt, so the
files go into the user turn itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from model_runtime.attachments.files import AttachedFile
from model_runtime.attachments.passages import describe_spans, span_label

Mode = Literal["whole", "passages"]
GAP = "[…]"


@dataclass(frozen=True)
class Included:
    """One file of a question: all of it, or the passages retrieval chose (offsets into its
    text). tokens is the whole file's count for the model it was counted with (0: unknown)."""

    file: AttachedFile
    mode: Mode = "whole"
    spans: tuple[tuple[int, int], ...] = field(default=())
    tokens: int = 0

    def where(self) -> str:
        """ "pages 12, 13, 47": the parts of the file that were used (empty when whole)."""
        if self.mode == "whole":
            return ""
        return describe_spans(self.file.kind, self.file.text, self.spans)

    def passages(self) -> list[tuple[str, str]]:
        """(label, text) of each passage used, in reading order."""
        text = self.file.text
        return [(span_label(self.file.kind, text, a, b), text[a:b]) for a, b in self.spans]


def _quote(name: str) -> str:
    return name.replace('"', "'").replace("\n", " ")


def file_block(item: Included) -> str:
    """One file, between <file name="…"> and </file>."""
    file = item.file
    attrs = f'name="{_quote(file.name)}"'
    if file.kind == "pdf":
        attrs += f' pages="{len(file.pages)}"'
    if item.mode == "passages":
        attrs += f' excerpts="{item.where()}"'
        body = _passages_text(item)
    elif file.kind == "pdf":
        body = "\n\n".join(
            f"[page {page.number}]\n{page.text.strip()}" for page in file.pages if page.text.strip()
        )
    else:
        body = file.text.strip("\n")
    return f"<file {attrs}>\n{body}\n</file>"


def _passages_text(item: Included) -> str:
    if not item.spans:
        return "(No passage of this file fit in the context.)"
    parts: list[str] = []
    previous_end = -1
    for (start, end), (label, text) in zip(item.spans, item.passages(), strict=True):
        if parts and start > previous_end + 1:
            parts.append(GAP)
        parts.append(f"[{label}]\n{text.strip()}")
        previous_end = end
    return "\n\n".join(parts)


def compose_turn(question: str, included: Sequence[Included]) -> str:
    """The files, then the question: what the model reads as the user's message."""
    if not included:
        return question
    blocks = [file_block(item) for item in included]
    return "\n\n".join([*blocks, question])
