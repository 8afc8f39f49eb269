"""Formulas inside a text view: the document's image objects named ``ponder-math:N``.

Qt's own image handler reads any other image name from disk, so this one stands in for it and
draws nothing but formulas (the view stays inert). A formula sits on the text's baseline at the
text's size: Qt centres an inline object on the line's middle (half the x-height above the
baseline) and no more, so the drawing is padded above or below to bring its own baseline there.
A display formula too wide for the view is shrunk to fit.

Until its drawing arrives a formula shows its source, muted; one that can't be drawn shows its
source in monospace, with the reason as a tooltip; the answer's boxed result is highlighted.
Copying a selection gives the formulas' LaTeX, between dollars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QRect, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QFontMetricsF,
    QHelpEvent,
    QPainter,
    QPyTextObject,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QTextEdit, QToolTip

from desktop.chat.formulas import FormulaStore, math_pixels, number_of
from model_runtime.chat.math import delimited
from model_runtime.chat.math_render import REF_SIZE

OBJECT = "\ufffc"
_WRAP = Qt.TextFlag.TextWordWrap | Qt.TextFlag.TextWrapAnywhere
HIGHLIGHT = QColor(255, 214, 102, 90)  # the boxed answer: a soft amber


@dataclass(frozen=True)
class _Box:
    """How a formula object is laid out: its size, and where the drawing (or text) starts."""

    width: float
    height: float
    top: float = 0.0  # padding above the drawing
    bottom: float = 0.0  # and below it
    em: float = 0.0  # pixels to the em of the drawing; 0: text stands in for it


class FormulaObjects(QPyTextObject):
    """Sizes and draws the formulas of one document; draws nothing for any other image.
    ``relaid`` after formulas that were shown as source were laid out again."""

    relaid = Signal()

    def __init__(
        self, document: QTextDocument, store: FormulaStore, colour: Callable[[], QColor]
    ) -> None:
        super().__init__(document)
        self.highlighted: int | None = None  # the formula holding the boxed answer
        self._document = document
        self._store = store
        self._colour = colour
        self._waiting: dict[int, set[int]] = {}  # formula -> positions laid out before it came
        self._boxes: dict[tuple[object, ...], _Box] = {}
        self._half_xs: dict[str, float] = {}
        self._default_key = document.defaultFont().key()
        store.changed.connect(self._arrived)
        document.documentLayout().registerHandler(QTextFormat.ObjectTypes.ImageObject, self)

    def intrinsicSize(self, doc: QTextDocument, pos: int, fmt: QTextFormat) -> QSizeF:
        number = number_of(fmt.toImageFormat().name())
        if number is None:
            return QSizeF(0, 0)
        box = self._box(doc, pos, fmt.toCharFormat(), number)
        return QSizeF(box.width, box.height)

    def drawObject(
        self,
        painter: QPainter,
        rect: QRectF | QRect,
        doc: QTextDocument,
        pos: int,
        fmt: QTextFormat,
    ) -> None:
        number = number_of(fmt.toImageFormat().name())
        if number is None:
            return
        rect = QRectF(rect)
        char = fmt.toCharFormat()
        box = self._box(doc, pos, char, number)
        colour = self._text_colour(char)
        if box.em:
            if number == self.highlighted:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(HIGHLIGHT)
                painter.drawRoundedRect(rect.adjusted(-2, box.top - 1, 2, 1 - box.bottom), 3, 3)
            image = self._store.image(number, box.em, colour, painter.device().devicePixelRatioF())
            if image is not None:
                size = QSizeF(image.size()) / image.devicePixelRatio()
                painter.drawImage(QRectF(rect.topLeft() + QPointF(0, box.top), size), image)
            return
        failed = self._store.reason(number) is not None
        shade = QColor(colour)
        shade.setAlphaF(0.08 if failed else 0.55)
        if failed:  # a tint of the text's own colour: right on light and dark themes alike
            painter.fillRect(rect, shade)
        else:
            colour = shade  # still being drawn: muted
        painter.setPen(colour)
        painter.setFont(_source_font(doc, char, failed))
        painter.drawText(rect.adjusted(0, box.top, 0, 0), _WRAP, self._store.formula(number).source)

    def _box(self, doc: QTextDocument, pos: int, fmt: QTextCharFormat, number: int) -> _Box:
        """The object's box: measured once per formula, state, font and text width."""
        drawing, reason = self._store.drawn(number), self._store.reason(number)
        if drawing is None and reason is None:
            self._waiting.setdefault(number, set()).add(pos)  # laid out again once drawn
        key: tuple[object, ...] = (number, drawing is None, reason is None, fmt.font().key())
        key += (_middle(fmt), doc.textWidth(), self._default_key)
        box = self._boxes.get(key)
        if box is None:
            if len(self._boxes) > 10_000:
                self._boxes.clear()
            room = doc.textWidth() - 2 * doc.documentMargin() - 8
            room = room if room > 40 else math.inf
            box = self._boxes[key] = self._measure(doc, fmt, number, room)
        return box

    def _measure(self, doc: QTextDocument, fmt: QTextCharFormat, number: int, room: float) -> _Box:
        drawing = self._store.drawn(number)
        half_x = self._half_x(fmt)
        if drawing is None:  # its source stands in for it
            source_font = _source_font(doc, fmt, self._store.reason(number) is not None)
            metrics = QFontMetricsF(source_font)
            text = self._store.formula(number).source
            width, height = metrics.horizontalAdvance(text), metrics.height()
            if width > room or "\n" in text:
                size = metrics.boundingRect(QRectF(0, 0, room, 1e6), _WRAP, text).size()
                width, height = size.width(), size.height()
            ascent = metrics.ascent()
            return _pad(fmt, half_x, width + 1, ascent, height - ascent, 0.0)
        em = math_pixels(fmt.font().resolve(doc.defaultFont()))
        if drawing.width * em / REF_SIZE > room:
            em = max(em / 3, room * REF_SIZE / drawing.width)  # shrink a wide formula to fit
        scale = em / REF_SIZE
        width, ascent, descent = drawing.width, drawing.ascent, drawing.descent
        return _pad(fmt, half_x, width * scale, ascent * scale, descent * scale, em)

    def _half_x(self, fmt: QTextCharFormat) -> float:
        """Half the x-height of the format's own font (not the document's): Qt's middle."""
        font = fmt.font()
        key = font.key()
        found = self._half_xs.get(key)
        if found is None:
            found = self._half_xs[key] = QFontMetrics(font).xHeight() / 2
        return found

    def _text_colour(self, fmt: QTextCharFormat) -> QColor:
        if fmt.hasProperty(QTextFormat.Property.ForegroundBrush):
            return fmt.foreground().color()
        return self._colour()

    def _arrived(self, numbers: set[int]) -> None:
        """Formulas were drawn (or won't be): lay out again, at once, where they were shown as
        their source (one layout for all of them, from the first to the last)."""
        doc = self._document
        positions = [
            pos
            for number in numbers
            for pos in self._waiting.pop(number, ())
            if formula_number(doc, pos) == number
        ]
        if positions:
            first = min(positions)
            doc.markContentsDirty(first, max(positions) + 1 - first)
            self.relaid.emit()


def _pad(
    fmt: QTextCharFormat, half_x: float, width: float, ascent: float, descent: float, em: float
) -> _Box:
    """The box that puts the drawing's baseline on the text's: Qt places a middle-aligned object
    with its ascent exceeding its descent by half the x-height (of the format's own font)."""
    if not _middle(fmt):
        return _Box(width, ascent + descent, em=em)
    excess = ascent - descent - half_x
    top, bottom = max(0.0, -excess), max(0.0, excess)
    return _Box(width, ascent + descent + top + bottom, top, bottom, em)


_ALIGNMENT = QTextFormat.Property.TextVerticalAlignment
_MIDDLE = QTextCharFormat.VerticalAlignment.AlignMiddle.value


def _middle(fmt: QTextCharFormat) -> bool:
    """Whether the object is middle-aligned (what formula objects ask for)."""
    return fmt.intProperty(_ALIGNMENT) == _MIDDLE


def _source_font(doc: QTextDocument, fmt: QTextCharFormat, monospace: bool) -> QFont:
    font = fmt.font().resolve(doc.defaultFont())
    if monospace:
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        fixed.setPointSizeF(max(1.0, font.pointSizeF() * 0.95) if font.pointSizeF() > 0 else 9)
        return fixed
    return font


def formula_number(doc: QTextDocument, pos: int) -> int | None:
    """The formula whose object is at pos, or None."""
    if not 0 <= pos < doc.characterCount() - 1 or doc.characterAt(pos) != OBJECT:
        return None
    cursor = QTextCursor(doc)
    cursor.setPosition(pos + 1)
    return number_of(cursor.charFormat().toImageFormat().name())


def formula_at(edit: QTextEdit, point: QPoint) -> int | None:
    """The formula under a point of the view's viewport, or None."""
    cursor = edit.cursorForPosition(point)
    doc = edit.document()
    for pos in (cursor.position(), cursor.position() - 1):
        number = formula_number(doc, pos)
        if number is not None and _object_rect(edit, pos).contains(QPointF(point)):
            return number
    return None


def _object_rect(edit: QTextEdit, pos: int) -> QRectF:
    """Where the object at pos lies, in viewport coordinates (its line's height)."""
    start, end = QTextCursor(edit.document()), QTextCursor(edit.document())
    start.setPosition(pos)
    end.setPosition(pos + 1)
    left, right = edit.cursorRect(start), edit.cursorRect(end)
    if right.top() != left.top():  # the object ends its line
        return QRectF(left.left(), left.top(), edit.viewport().width() - left.left(), left.height())
    return QRectF(left.left(), left.top(), max(1, right.left() - left.left()), left.height())


def selection_mime(edit: QTextEdit, store: FormulaStore) -> QMimeData | None:
    """What copying the view's selection gives when it holds formulas: text, each formula as
    its LaTeX between dollars (None: no formula, Qt's own copy will do)."""
    cursor = edit.textCursor()
    text = selected_text(cursor, store)
    if text == cursor.selection().toPlainText():
        return None
    data = QMimeData()
    data.setText(text)
    return data


def show_tooltip(edit: QTextEdit, store: FormulaStore, event: QEvent) -> bool:
    """Show a formula's tooltip for a tooltip event on the view's viewport; False: not one."""
    if not isinstance(event, QHelpEvent) or event.type() != QEvent.Type.ToolTip:
        return False
    tip = tooltip(edit, store, event.pos())
    if tip:
        QToolTip.showText(event.globalPos(), tip, edit.viewport())
    return bool(tip)


def tooltip(edit: QTextEdit, store: FormulaStore, point: QPoint) -> str:
    """What a tooltip says at a point: why a formula isn't drawn (or that it is being drawn),
    or the tooltip of the text there (a formula shown as source says why)."""
    number = formula_at(edit, point)
    if number is not None:
        reason = store.reason(number)
        if reason is not None:
            return f"Not rendered: {reason}"
        return "" if store.drawn(number) is not None else "Rendering the formula…"
    return edit.cursorForPosition(point).charFormat().toolTip()


def selected_text(cursor: QTextCursor, store: FormulaStore) -> str:
    """The selection as plain text, each formula as its LaTeX between dollars."""
    text = cursor.selection().toPlainText()
    if OBJECT not in text:
        return text
    doc = cursor.document()
    start, end = cursor.selectionStart(), cursor.selectionEnd()
    sources = []
    block = doc.findBlock(start)
    while block.isValid() and block.position() < end:
        runs = block.begin()  # the block's fragments: runs of one format
        while not runs.atEnd():
            fragment = runs.fragment()
            runs += 1
            if not fragment.charFormat().isImageFormat():
                continue
            number = number_of(fragment.charFormat().toImageFormat().name())
            first = max(start, fragment.position())
            last = min(end, fragment.position() + fragment.length())
            copied = delimited(store.formula(number)) if number is not None else ""
            sources += [copied] * max(0, last - first)
        block = block.next()
    pieces = text.split(OBJECT)
    out = [pieces[0]]
    for index, piece in enumerate(pieces[1:]):
        out.append(sources[index] if index < len(sources) else "")
        out.append(piece)
    return "".join(out)
