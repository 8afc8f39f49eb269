"""The chat's text size: answers, reasoning, code, the question being written and the questions
asked follow the zoom (and the system's font), not the style sheet.

A change of style sheet (a theme switch) polishes every widget again and sets each one's font
anew, which would lay out every answer's text twice. So a text view here keeps its own font on
its document, and the font changes the style sheet makes to the widget are not passed on: a
theme switch lays out no text. Other widgets (a label, the box a question is written in, whose
text is short) get their font back after each change of style sheet.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTextEdit, QWidget


class ChatFonts(QObject):
    """The widgets whose text is the chat's, each with its size relative to the chat's."""

    def __init__(self, base: QFont, point_size: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._base = QFont(base)
        self.point_size = point_size  # the chat's text size now, in points
        self._widgets: dict[QWidget, float] = {}  # each widget's size, relative to the chat's

    def font(self, scale: float = 1.0) -> QFont:
        """The system's font at the chat's size (times ``scale``)."""
        font = QFont(self._base)
        font.setPointSizeF(round(self.point_size * scale, 1))
        return font

    def add(self, widget: QWidget, scale: float = 1.0) -> None:
        """Give a widget the chat's text size from now on (a rich-text view: its document)."""
        self._widgets = {w: s for w, s in self._widgets.items() if shiboken6.isValid(w)}
        self._widgets[widget] = scale
        if isinstance(widget, QTextEdit):
            widget.installEventFilter(self)
        self._set(widget, scale)

    def set_point_size(self, point_size: float) -> None:
        """A new zoom: every chat text at its new size (each lays out its text once)."""
        self.point_size = point_size
        self.reapply()

    def reapply(self) -> None:
        """After a change of style sheet: the widgets' fonts again (text views kept theirs)."""
        for widget, scale in list(self._widgets.items()):
            if shiboken6.isValid(widget):
                self._set(widget, scale)

    def keep(self, widget: QWidget) -> None:
        """The widget was polished again (a theme switch): its chat size, if it has one."""
        scale = self._widgets.get(widget)
        if scale is not None:
            self._set(widget, scale)

    def _set(self, widget: QWidget, scale: float) -> None:
        font = self.font(scale)
        if isinstance(widget, QTextEdit):
            if widget.document().defaultFont() != font:
                widget.document().setDefaultFont(font)
        elif widget.font() != font:
            widget.setFont(font)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A text view does not take the style sheet's fonts: its document has the chat's."""
        return event.type() == QEvent.Type.FontChange and isinstance(watched, QTextEdit)
