"""Polishing widgets again for a new style sheet: each widget once, and nothing laid out again.

QApplication.setStyleSheet polishes every widget in one go, and each once per ancestor (about ten
times for a widget in a chat message): half a second for a chat of 60 messages, more with every
message. A theme switch (desktop/common/theme.py) has Qt forget every widget's rules first, so
that setStyleSheet polishes none, and polishes each widget here once, parents first. The widgets
marked restyle_later (a chat's messages) are left to their owner, which polishes those on screen
at once and the others in steps (desktop/chat/view.py).

A theme changes colours only (one template: the same fonts and sizes), so the widgets polished
are repainted, not laid out again: no StyleChange, and the FontChange of a font that polishing
clears and sets again is held back. In a long chat, laying out one message lays out the whole
column again.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

RESTYLED_BY_OWNER = "restyledByOwner"  # a widget property: see restyle_later


def restyle_later(widget: QWidget) -> None:
    """Leave the widget (and what it holds) out of a theme switch's polishing: its owner
    repolishes it when that suits, so that a switch does not wait for every widget."""
    widget.setProperty(RESTYLED_BY_OWNER, True)


def forget_rules(app: QApplication) -> None:
    """Qt's style sheet style forgets the rules it matched for each widget: the next
    setStyleSheet polishes only the widgets it has rules for, so none (repolish does)."""
    app.style().unpolish(app)


def repolish(root: QWidget, after: Callable[[QWidget], None] = lambda _: None) -> list[QWidget]:
    """Polish root and the widgets in it with the active style sheet, each once and parents
    first, and repaint them; those inside marked restyle_later are left to their owners.
    ``after`` is called on each right after its polish. Returns the widgets polished."""
    polished: list[QWidget] = []
    resized: list[QWidget] = []  # their font really changed: they are told
    held, app = _FontChangesHeld(), QCoreApplication.instance()
    assert app is not None, "a QApplication comes first"
    stack = [root]
    with collector_paused():
        app.installEventFilter(held)
        try:
            while stack:
                widget = stack.pop()
                font = widget.font()
                widget.style().polish(widget)
                after(widget)
                widget.update()
                if widget.font() != font:
                    resized.append(widget)
                polished.append(widget)
                stack.extend(
                    child
                    for child in reversed(widget.children())
                    if isinstance(child, QWidget) and not child.property(RESTYLED_BY_OWNER)
                )
        finally:
            app.removeEventFilter(held)
    for widget in resized:
        QCoreApplication.sendEvent(widget, QEvent(QEvent.Type.FontChange))
    return polished


class _FontChangesHeld(QObject):
    """Polishing clears a widget's font from the style sheet and sets it again; each
    FontChange would lay the widget out, and the chat's column around it."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        return event.type() == QEvent.Type.FontChange


@contextmanager
def collector_paused() -> Iterator[None]:
    """No widget may be deleted while polishing walks a list of them, as Python's collector of
    cycles could do from a slot the polishing calls."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
