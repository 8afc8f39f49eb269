"""The conversation column: one widget per message in a scroll area that follows new text."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from desktop.chat.messages import AssistantMessage, UserMessage
from desktop.chat.render_queue import RenderQueue, shared_queue
from desktop.common.repolish import restyle_later
from desktop.common.theme import theme_manager

COLUMN_MAX_WIDTH = 860


class ChatView(QScrollArea):
    """Messages stacked top to bottom; stays pinned to the bottom while the user is there.

    A long conversation shows its last messages first; older ones are built when the user
    scrolls to the top (or clicks "Show earlier messages"), so opening it stays fast. A theme
    switch restyles the messages on screen at once and the others one per step of the render
    queue, nearest first, or as they scroll into sight: all at once, a long chat would hold the
    window for seconds.
    """

    earlier_requested = Signal()

    def __init__(self, parent: QWidget | None = None, queue: RenderQueue | None = None) -> None:
        super().__init__(parent)
        self._queue = queue
        self._theme = theme_manager()
        self.restyle_waiting: list[QWidget] = []  # in the look of the theme before; nearest last
        self.setObjectName("chatView")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._column = QWidget()
        self._column.setObjectName("chatColumn")
        self._column.setMaximumWidth(COLUMN_MAX_WIDTH)
        self._layout = QVBoxLayout(self._column)
        self._layout.setContentsMargins(16, 16, 16, 16)
        self._layout.setSpacing(14)
        self.hint = QLabel(self._column)
        self.hint.setObjectName("chatHint")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self._layout.addWidget(self.hint)
        self.earlier_button = QPushButton("Show earlier messages", self._column)
        self.earlier_button.setObjectName("earlierButton")
        self.earlier_button.clicked.connect(self.earlier_requested)
        self.earlier_button.hide()
        self._layout.addWidget(self.earlier_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self._layout.addStretch(1)
        outer = QWidget()
        outer.setObjectName("chatOuter")
        outer_layout = QVBoxLayout(outer)
        outer_layout.setContentsMargins(0, 0, 0, 0)
        outer_layout.addWidget(self._column, 0, Qt.AlignmentFlag.AlignHCenter)
        self.setWidget(outer)
        self._outer = outer
        self._follow = True
        self._bottom_timer = QTimer(self)  # owned by the view: never fires after it is gone
        self._bottom_timer.setSingleShot(True)
        self._bottom_timer.setInterval(0)
        self._bottom_timer.timeout.connect(self._to_bottom)
        self._earlier_timer = QTimer(self)
        self._earlier_timer.setSingleShot(True)
        self._earlier_timer.setInterval(0)
        self._earlier_timer.timeout.connect(self._maybe_load_earlier)
        self._focus_timer = QTimer(self)  # Tab's order, once the new widgets are all made
        self._focus_timer.setSingleShot(True)
        self._focus_timer.setInterval(0)
        self._focus_timer.timeout.connect(self._order_focus)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)
        bar.actionTriggered.connect(self._on_user_scroll)  # not layout changes
        self.messages: list[QWidget] = []
        self._theme.theme_changed.connect(self._restyle)

    def _on_scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 8
        if self.restyle_waiting:
            self._restyle_on_screen()

    def _on_user_scroll(self, _action: int) -> None:
        """The user scrolled (wheel, keys, drag): at the top, build older messages."""
        self._earlier_timer.start()

    def _maybe_load_earlier(self) -> None:
        if self.verticalScrollBar().value() == 0 and self.earlier_button.isVisible():
            self.earlier_requested.emit()

    def set_earlier(self, count: int) -> None:
        """How many older messages are not built yet (0 hides the button)."""
        self.earlier_button.setText(f"Show {count:,} earlier messages")
        self.earlier_button.setVisible(count > 0)

    def prepend(self, widgets: Sequence[QWidget]) -> None:
        """Put older messages above the first one, keeping what the user looks at in place."""
        bar = self.verticalScrollBar()
        before = bar.maximum() - bar.value()
        first = self._layout.indexOf(self.earlier_button) + 1
        for offset, widget in enumerate(widgets):
            self._layout.insertWidget(first + offset, widget)
        self.messages[:0] = widgets
        self._watch(widgets)
        self._follow = False
        self._column.adjustSize()
        self._outer.adjustSize()
        bar.setValue(bar.maximum() - before)

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def set_hint(self, text: str) -> None:
        """What an empty chat shows (which model is ready, what it is)."""
        self.hint.setText(text)
        self.hint.setVisible(not self.messages)

    def append(self, widget: QWidget) -> None:
        self.hint.hide()
        self._layout.insertWidget(self._layout.count() - 1, widget)
        self.messages.append(widget)
        self._watch([widget])
        self._column.setMinimumWidth(min(COLUMN_MAX_WIDTH, max(0, self.viewport().width())))
        self.scroll_to_end()

    # -- the keyboard ---------------------------------------------------------------------------

    def _watch(self, widgets: Sequence[QWidget]) -> None:
        for widget in widgets:
            widget.installEventFilter(self)  # a reasoning pane, an editor: new Tab stops
            restyle_later(widget)  # a theme switch leaves it to _restyle
        self._focus_timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ChildAdded:
            self._focus_timer.start()
        return super().eventFilter(watched, event)

    def _order_focus(self) -> None:
        """Tab goes down the page, as the eye does: from the view into each message's stops,
        top to bottom, then on to the composer below. Messages are made after the composer,
        and Qt's Tab chain (creation order) would visit them after it.

        (Not by walking nextInFocusChain(): in PySide6 the widget it returns is tied to the one
        it was asked of, and when that one is deleted its wrappers go too: a live reasoning
        pane's document read as "already deleted".)"""
        previous: QWidget = self
        for stop in [self.earlier_button, *self._stops()]:
            QWidget.setTabOrder(previous, stop)
            previous = stop

    def _stops(self) -> list[QWidget]:
        """Each message's Tab stops, top to bottom: by the part of the message they are in (its
        layout's order: files, reasoning, text, buttons), then in the order they were made."""
        stops: list[QWidget] = []
        for message in self.messages:
            own = [w for w in message.findChildren(QWidget) if _takes_tab(w)]
            stops += sorted(own, key=functools.partial(_part, message))  # stable: made order
        return stops

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._column.setMinimumWidth(min(COLUMN_MAX_WIDTH, max(0, self.viewport().width())))
        if self.restyle_waiting:
            self._restyle_on_screen()

    # -- a theme switch -------------------------------------------------------------------------

    def _restyle(self) -> None:
        """The theme changed: the messages on screen take its look now, the others wait in
        ``restyle_waiting`` for their turn."""
        self.restyle_waiting = list(self.messages)
        self._restyle_on_screen()
        self._render_queue().remove(self)
        if self.restyle_waiting:
            self._render_queue().add(self, self._restyle_next)

    def _restyle_next(self) -> bool:
        """One step of the render queue: the nearest message waiting takes the new look. True
        while others wait."""
        while self.restyle_waiting:
            message = self.restyle_waiting.pop()
            if shiboken6.isValid(message):
                self._theme.restyle(message)
                break
        return bool(self.restyle_waiting)

    def _restyle_on_screen(self) -> None:
        """Messages on screen that still wait take the new look now, before they are painted;
        the others wait, the farthest from the screen first in the list."""
        waiting = [m for m in self.restyle_waiting if shiboken6.isValid(m)]
        distances = self._distances(waiting)
        order = sorted(range(len(waiting)), key=distances.__getitem__, reverse=True)
        self.restyle_waiting = [waiting[i] for i in order]
        shown = [waiting[i] for i in order if distances[i] == 0 and waiting[i].isVisible()]
        for message in shown:
            self.restyle_waiting.remove(message)
            self._theme.restyle(message)

    def _distances(self, messages: Sequence[QWidget]) -> list[int]:
        """How far each message is from the part of the chat on screen, in pixels (0: on it)."""
        offset = self._column.mapTo(self.viewport(), QPoint(0, 0)).y()
        height = self.viewport().height()
        distances = []
        for message in messages:
            top = offset + message.y()
            distances.append(max(0, top - height + 1, 1 - top - message.height()))
        return distances

    def _render_queue(self) -> RenderQueue:
        if self._queue is None:
            self._queue = shared_queue()
        return self._queue

    def scroll_to_end(self) -> None:
        self._follow = True
        self._bottom_timer.start()  # after the layout has grown

    def _to_bottom(self) -> None:
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def add_user_message(self, text: str) -> UserMessage:
        widget = UserMessage(text)
        self.append(widget)
        return widget

    def add_assistant_message(self) -> AssistantMessage:
        widget = AssistantMessage()
        self.append(widget)
        return widget

    def clear(self) -> None:
        for widget in self.messages:
            self._layout.removeWidget(widget)
            widget.hide()  # gone at once, not when the event loop deletes it
            widget.deleteLater()
        self.messages.clear()
        self.restyle_waiting.clear()
        self._render_queue().remove(self)
        self.earlier_button.hide()
        self.hint.show()


def _takes_tab(widget: QWidget) -> bool:
    return bool(widget.focusPolicy().value & Qt.FocusPolicy.TabFocus.value)


def _part(message: QWidget, widget: QWidget) -> int:
    """Where in the message's layout the part that holds the widget is."""
    part: QWidget | None = widget
    while part is not None and part.parentWidget() is not message:
        part = part.parentWidget()
    layout = message.layout()
    return layout.indexOf(part) if layout is not None and part is not None else 0
