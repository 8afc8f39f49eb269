"""Formulas in the thinking pane: its plain text is written as it streams, and each formula, once
closed, takes the place of its source (model_runtime/chat/math_text.py says when).

The reasoning stays plain text: no Markdown, its `*`, `#` and `_` are characters. A formula's
source is found where it was written, and left as it is if the text there is not what the
formula says (a line longer than the writer's limit was cut inside it).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCharFormat, QTextCursor, QTextDocument, QTextImageFormat

from desktop.chat.formula_objects import OBJECT
from desktop.chat.formulas import SCHEME, FormulaStore
from desktop.chat.plain_text import PlainWriter
from model_runtime.chat.math_text import FormulaSpan, MathScanner


class ReasoningFormulas:
    """Follows a PlainWriter: call ``written`` with each text it wrote, ``finished`` at the end."""

    def __init__(self, document: QTextDocument, writer: PlainWriter, store: FormulaStore) -> None:
        self._document = document
        self._store = store
        self.restart(writer)

    def restart(self, writer: PlainWriter) -> None:
        """Go on from the end of what is written, with this writer (text was trimmed or the pane
        was cleared)."""
        self._writer = writer
        self._scanner = MathScanner()
        self._shift = self._document.characterCount() - 1 + writer.pending_breaks
        self._cuts = writer.cuts  # cuts accounted for in the shift

    def written(self, text: str) -> None:
        if self._store.enabled:
            self._place(self._scanner.feed(text))

    def finished(self) -> None:
        """No more text comes for now."""
        if self._store.enabled:
            self._place(self._scanner.finish())

    def _place(self, spans: list[FormulaSpan]) -> None:
        for span in spans:
            length = span.end - span.start
            unplaced = self._writer.cuts - self._cuts
            for extra in range(unplaced + 1):  # cuts before it move it on
                at = span.start + self._shift + extra
                if self._text_at(at, length) == span.text:
                    self._replace(at, length, span)
                    self._shift += extra - (length - 1)
                    self._cuts += extra
                    break

    def _text_at(self, at: int, length: int) -> str:
        if at < 0 or at + length > self._document.characterCount() - 1:
            return ""
        cursor = QTextCursor(self._document)
        cursor.setPosition(at)
        cursor.setPosition(at + length, QTextCursor.MoveMode.KeepAnchor)
        return cursor.selectedText().replace("\u2029", "\n")

    def _replace(self, at: int, length: int, span: FormulaSpan) -> None:
        cursor = QTextCursor(self._document)
        cursor.beginEditBlock()
        cursor.setPosition(at)
        cursor.setPosition(at + length, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        image = QTextImageFormat()
        image.setName(f"{SCHEME}:{self._store.number(span.formula)}")
        image.setVerticalAlignment(QTextCharFormat.VerticalAlignment.AlignMiddle)
        cursor.insertImage(image)
        if span.formula.display and cursor.block().text() == OBJECT:
            centred = cursor.blockFormat()
            centred.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            cursor.setBlockFormat(centred)
        cursor.endEditBlock()
