"""WCAG contrast of every text a window shows, from the colours actually applied.

The text's colour is what Qt paints it with: the widget's palette role after the style sheet has
polished it, an item's own foreground, a rich-text fragment's colour (answers). The background is
what is painted under it: the most common colour of the widget's rectangle in a grab of the
window (a table cell's or a code box's own colour for answer text). Disabled widgets are exempt,
as WCAG exempts inactive controls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPoint, QRect, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPalette, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QMenuBar,
    QPlainTextEdit,
    QTabBar,
    QTableWidget,
    QTextEdit,
    QTreeWidget,
    QTreeWidgetItemIterator,
    QWidget,
)

BODY, LARGE = 4.5, 3.0
Role = QPalette.ColorRole


def luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF())
        + 0.7152 * channel(colour.greenF())
        + 0.0722 * channel(colour.blueF())
    )


def ratio(a: QColor, b: QColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def needed(font: QFont) -> float:
    """WCAG: 3:1 for large text (18 pt, or 14 pt bold), 4.5:1 for the rest."""
    size = font.pointSizeF()
    large = size >= 18 or (font.bold() and size >= 14)
    return LARGE if large else BODY


@dataclass(frozen=True)
class Finding:
    where: str
    text: str
    fg: str
    bg: str
    ratio: float
    need: float

    def __str__(self) -> str:
        return (
            f"{self.where} {self.text[:40]!r}: {self.fg} on {self.bg} = {self.ratio:.2f}"
            f" (needs {self.need})"
        )


class Checker:
    """Looks at one top-level window as it is painted now."""

    def __init__(self, top: QWidget) -> None:
        self.top = top
        self.image: QImage = top.grab().toImage()
        self.checked = 0
        self.findings: list[Finding] = []

    def background(self, widget: QWidget, rect: QRect | None = None) -> QColor:
        """The most common colour under a widget's rectangle (or a part of it). Colours are
        counted in bins, so that a button's gentle gradient counts as one colour (its median)
        rather than losing to its one-colour frame."""
        area = rect if rect is not None else widget.rect()
        origin = widget.mapTo(self.top, area.topLeft())
        box = QRect(origin, area.size()).intersected(self.image.rect())
        bins: dict[int, list[int]] = {}
        step_x, step_y = max(1, box.width() // 60), max(1, box.height() // 30)
        for y in range(box.top(), box.bottom() + 1, step_y):
            for x in range(box.left(), box.right() + 1, step_x):
                pixel = self.image.pixel(x, y) & 0xFFFFFF
                key = (pixel >> 20 & 0xF) << 8 | (pixel >> 12 & 0xF) << 4 | (pixel >> 4 & 0xF)
                bins.setdefault(key, []).append(pixel)
        if not bins:
            return QColor("white")
        pixels = sorted(max(bins.values(), key=len), key=lambda p: luminance(QColor.fromRgb(p)))
        return QColor.fromRgb(pixels[len(pixels) // 2])

    def add(self, where: QWidget, text: str, fg: QColor, bg: QColor, font: QFont) -> None:
        if not text.strip():
            return
        self.checked += 1
        value, need = ratio(fg, bg), needed(font)
        if value < need:
            name = f"{type(where).__name__}#{where.objectName()}"
            self.findings.append(Finding(name, text, fg.name(), bg.name(), value, need))

    def check(self) -> Checker:
        for widget in [self.top, *self.top.findChildren(QWidget)]:
            if widget.isVisibleTo(self.top) and widget.isEnabled() and self._shown(widget):
                self._widget(widget)
        return self

    def _shown(self, widget: QWidget) -> bool:
        """Not scrolled out of sight, nor of zero size."""
        origin = widget.mapTo(self.top, QPoint(0, 0))
        return QRect(origin, widget.size()).intersects(self.image.rect()) and widget.height() > 2

    def _widget(self, w: QWidget) -> None:
        palette, font = w.palette(), w.font()
        if isinstance(w, QLabel) and w.pixmap().isNull():
            bg = self.background(w)
            self.add(w, _plain(w.text()), palette.color(w.foregroundRole()), bg, font)
            if "<a " in w.text():  # its links, in the palette's link colour
                self.add(w, "link", palette.color(Role.Link), bg, font)
        elif isinstance(w, QAbstractButton):
            self.add(w, w.text(), palette.color(w.foregroundRole()), self.background(w), font)
        elif isinstance(w, QLineEdit) and not isinstance(w.parent(), QComboBox):
            text, role = (
                (w.text(), Role.Text) if w.text() else (w.placeholderText(), Role.PlaceholderText)
            )
            self.add(w, text, palette.color(role), self.background(w), font)
        elif isinstance(w, QComboBox):
            self.add(w, w.currentText(), palette.color(Role.ButtonText), self.background(w), font)
        elif isinstance(w, QGroupBox):
            title = QRect(0, 0, w.width(), w.fontMetrics().height())
            self.add(w, w.title(), palette.color(Role.WindowText), self.background(w, title), font)
        elif isinstance(w, QTabBar):
            self._tabs(w)
        elif isinstance(w, (QMenuBar, QMenu)):
            for action in w.actions():
                if (
                    action.isSeparator()
                    or not action.isEnabled()
                    or w.actionGeometry(action).isEmpty()
                ):
                    continue
                bg = self.background(w, w.actionGeometry(action))
                self.add(w, action.text(), palette.color(Role.ButtonText), bg, font)
        elif isinstance(w, QTextEdit):
            self._document(w, w.document())
        elif isinstance(w, QPlainTextEdit):
            text, role = (
                (w.toPlainText(), Role.Text)
                if w.toPlainText()
                else (w.placeholderText(), Role.PlaceholderText)
            )
            self.add(w, text[:200], palette.color(role), self.background(w.viewport()), font)
        elif isinstance(w, QHeaderView):
            self._header(w)
        elif isinstance(w, (QListWidget, QTableWidget, QTreeWidget)):
            self._items(w)

    def _tabs(self, bar: QTabBar) -> None:
        for index in range(bar.count()):
            rect = bar.tabRect(index)
            if bar.isTabEnabled(index) and rect.isValid():
                fg = bar.tabTextColor(index)
                if not fg.isValid():
                    fg = bar.palette().color(Role.WindowText)
                self.add(bar, bar.tabText(index), fg, self.background(bar, rect), bar.font())

    def _header(self, header: QHeaderView) -> None:
        model = header.model()
        if model is None:
            return
        for section in range(header.count()):
            if header.isSectionHidden(section):
                continue
            text = str(model.headerData(section, header.orientation()) or "")
            left = header.sectionViewportPosition(section)
            rect = (
                QRect(left, 0, header.sectionSize(section), header.height())
                if header.orientation() == Qt.Orientation.Horizontal
                else QRect(0, left, header.width(), header.sectionSize(section))
            )
            fg = header.palette().color(Role.ButtonText)
            self.add(header, text, fg, self.background(header, rect), header.font())

    def _items(self, view: QAbstractItemView) -> None:
        """Each visible item: its own foreground, or the view's text colour (enabled items) or
        the style sheet's (a selected row, a heading drawn as disabled: from the pixels)."""
        model = view.model()
        for index in _indexes(view):
            rect = view.visualRect(index)
            if not rect.isValid() or not rect.intersects(view.viewport().rect()):
                continue
            text = str(index.data() or "")
            bg = self.background(view.viewport(), rect)
            brush = index.data(Qt.ItemDataRole.ForegroundRole)
            enabled = bool(model.flags(index) & Qt.ItemFlag.ItemIsEnabled)
            selected = view.selectionModel().isSelected(index)
            if isinstance(brush, (QBrush, QColor)):
                fg = QColor(brush.color() if isinstance(brush, QBrush) else brush)
            elif enabled and not selected:
                fg = view.palette().color(Role.Text)
            else:  # drawn by the style sheet's rule for the state: read from the pixels
                fg = self._ink(view.viewport(), rect, bg)
            font = index.data(Qt.ItemDataRole.FontRole)
            self.add(view, text, fg, bg, font if isinstance(font, QFont) else view.font())

    def _ink(self, widget: QWidget, rect: QRect, bg: QColor) -> QColor:
        """The colour text is painted in, from the pixels: the farthest from the background."""
        origin = widget.mapTo(self.top, rect.topLeft())
        box = QRect(origin, rect.size()).intersected(self.image.rect())
        best, best_ratio = bg, 1.0
        for y in range(box.top(), box.bottom() + 1):
            for x in range(box.left(), box.right() + 1):
                colour = QColor.fromRgb(self.image.pixel(x, y))
                value = ratio(colour, bg)
                if value > best_ratio:
                    best, best_ratio = colour, value
        return best

    def _document(self, view: QTextEdit, document: QTextDocument) -> None:
        """Each run of text in a rich-text document, on the colour of what holds it."""
        page = self.background(view.viewport())
        text_colour = view.palette().color(Role.Text)
        block = document.begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                fmt = fragment.charFormat()
                brush = fmt.foreground()
                fg = brush.color() if brush.style() != Qt.BrushStyle.NoBrush else text_colour
                bg = _held_on(document, fragment.position(), block, page)
                font = QFont(view.font())
                if fmt.fontWeight() >= QFont.Weight.Bold:
                    font.setBold(True)
                self.add(view, fragment.text(), fg, bg, font)
                it += 1
            block = block.next()


def _held_on(document: QTextDocument, position: int, block: object, page: QColor) -> QColor:
    """The colour under a fragment: its own, its cell's, its table's, its block's, the page's."""
    cursor = QTextCursor(document)
    cursor.setPosition(position)
    char = cursor.charFormat().background()
    if char.style() != Qt.BrushStyle.NoBrush:
        return char.color()
    block_bg = cursor.blockFormat().background()
    if block_bg.style() != Qt.BrushStyle.NoBrush:
        return block_bg.color()
    table = cursor.currentTable()
    if table is not None:
        cell = table.cellAt(position).format().background()
        if cell.style() != Qt.BrushStyle.NoBrush:
            return cell.color()
        frame = table.format().background()
        if frame.style() != Qt.BrushStyle.NoBrush:
            return frame.color()
    return page


def _indexes(view: QAbstractItemView, limit: int = 300) -> list[QModelIndex]:
    """Every item's index of a list, table or tree widget (up to a limit)."""
    found: list[QModelIndex] = []
    if isinstance(view, QListWidget):
        found = [view.indexFromItem(view.item(row)) for row in range(view.count())]
    elif isinstance(view, QTableWidget):
        model = view.model()
        found = [
            model.index(row, column)
            for row in range(view.rowCount())
            for column in range(view.columnCount())
        ]
    elif isinstance(view, QTreeWidget):
        it = QTreeWidgetItemIterator(view)
        while it.value() is not None and len(found) < limit:
            item = it.value()
            found += [view.indexFromItem(item, column) for column in range(view.columnCount())]
            it += 1
    return found[:limit]


def _plain(text: str) -> str:
    """A label's words, rich text or not."""
    if "<" not in text:
        return text
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def check_window(top: QWidget) -> Checker:
    """Every text of a shown window, checked as it is painted now."""
    checker = Checker(top).check()
    dump = os.environ.get("PONDER_CONTRAST_DUMP")
    if dump and checker.findings:  # to look at what failed
        name = f"{type(top).__name__}-{len(os.listdir(dump))}.png"
        checker.image.save(os.path.join(dump, name))
        print(name, *checker.findings, sep="\n  ")
    return checker
