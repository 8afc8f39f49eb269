"""Where an answer view's rendering stands (desktop/chat/answer_view.py): the parts rendered
once, the tail shown for now, and what goes on between steps."""

from __future__ import annotations

from dataclasses import dataclass, field

from desktop.chat.answer_document import BlockLook
from desktop.chat.plain_text import PlainWriter
from desktop.chat.segments import Piece, Segmenter


@dataclass
class RenderState:
    """Where the answer shown stands: parts rendered once, then a tail shown for now."""

    segmenter: Segmenter = field(default_factory=Segmenter)
    boxed: int | None = None  # the last formula holding a \\boxed{…} in the parts shown
    tail_boxed: int | None = None  # and in the tail
    waiting: Piece | None = None  # taken from the segmenter, shown in the next step
    text: list[str] = field(default_factory=list)  # the answer as given, piece by piece
    length: int = 0
    code_blocks: list[str] = field(default_factory=list)  # those of the parts shown
    long_code: list[str] | None = None  # the code too long for one box, while it goes on
    long_lang: str = ""
    plain: PlainWriter | None = None  # the stretch of plain text that goes on
    tail_pos: int = -1  # document position where the tail starts; -1: none shown
    tail_look: BlockLook | None = None  # the look of the block before the tail
    tail_code_blocks: list[str] = field(default_factory=list)
    tail_code: str = ""  # the long code's lines in the tail
    tail_stale: bool = False  # text came since the tail was shown
