"""Sizes in one place: every dialog opens no larger than the screen's free area, and as tall as
its wrapped words need at its width (heightForWidth), so what a user sees first is not cut.

`install(app)` fits each dialog when it first shows; a dialog whose words change later (the
welcome, once the hardware is known) calls fit_to_screen again. Tests pass a screen size.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog, QFrame, QScrollArea, QWidget

# What the window manager adds around a window (a title bar, borders), kept free of the screen.
FRAME = QSize(16, 48)
FITTED = "ponderFitted"  # a dialog's property once its first show was fitted


def available_size(widget: QWidget) -> QSize:
    """The free area of the widget's screen (without panels and docks)."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry().size()


def room_on(screen: QSize) -> QSize:
    """What a window's own area may take of a screen's free area."""
    width, height = screen.width() - FRAME.width(), screen.height() - FRAME.height()
    return QSize(max(200, width), max(150, height))


def within_screen(size: QSize, widget: QWidget, screen: QSize | None = None) -> QSize:
    """A window's default size, no larger than the screen's free area (a main window opened
    on a small screen must show its composer and status bar)."""
    room = room_on(screen if screen is not None else available_size(widget))
    return size.boundedTo(room)


def needed_height(widget: QWidget, width: int) -> int:
    """The height the widget's layout needs at this width (wrapped labels included)."""
    layout = widget.layout()
    if layout is None:
        return widget.sizeHint().height()
    if layout.hasHeightForWidth():
        return layout.totalHeightForWidth(width)
    return layout.totalSizeHint().height()


def fit_to_screen(widget: QWidget, screen: QSize | None = None) -> QSize:
    """Resize a window to fit `screen` (default: the one it is on): at most its free area,
    at least as tall as the words need at its width. Returns the size it got."""
    room = room_on(screen if screen is not None else available_size(widget))
    minimum = widget.minimumSize()
    widget.setMinimumSize(min(minimum.width(), room.width()), min(minimum.height(), room.height()))
    width = min(widget.width(), room.width())
    height = min(max(widget.height(), needed_height(widget, width)), room.height())
    widget.resize(width, height)
    return widget.size()


class FittingScroll(QScrollArea):
    """A page that scrolls only when the screen is too small for it: it asks for the whole
    height its content needs at its width, so a fitted dialog shows it all when it can."""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content.setAutoFillBackground(False)
        self.viewport().setAutoFillBackground(False)
        content.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the words changed: the dialog may grow to show them
        return super().eventFilter(watched, event)

    def sizeHint(self) -> QSize:
        content = self.widget()
        if content is None:
            return super().sizeHint()
        width = self.viewport().width() if self.isVisible() else content.sizeHint().width()
        layout = content.layout()
        if layout is not None and layout.hasHeightForWidth():
            height = layout.totalHeightForWidth(width)
        else:
            height = content.sizeHint().height()
        return QSize(content.sizeHint().width(), height + 2 * self.frameWidth())

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), 80)


class _Refit(QObject):
    """Grows its dialog when the dialog's words change (within the screen it was fitted to)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        layout = event.type() == QEvent.Type.LayoutRequest
        if layout and isinstance(watched, QWidget) and watched.isVisible():
            fit_to_screen(watched, screen_of(watched))
        return False


def keep_fitted(dialog: QWidget) -> None:
    """Fit the dialog again each time its layout changes (words that arrive after it opened:
    the welcome's hardware, an editor's connection error): it grows, up to the screen."""
    refit = _Refit(dialog)
    dialog.installEventFilter(refit)


class ScreenFit(QObject):
    """Fits every dialog to its screen when it first shows (an application-wide filter)."""

    def __init__(self, screen: QSize | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.screen = screen  # None: the screen each dialog is on (tests pass one)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Show
            and isinstance(watched, QDialog)
            and watched.isWindow()
            and not watched.property(FITTED)
        ):
            watched.setProperty(FITTED, True)
            watched.setProperty("ponderScreen", self.screen)
            fit_to_screen(watched, self.screen)
        return False


def install(app: QApplication, screen: QSize | None = None) -> ScreenFit:
    """Fit every dialog of the application from now on; returns the filter (remove it with
    app.removeEventFilter)."""
    fit = ScreenFit(screen, app)
    app.installEventFilter(fit)
    return fit


def screen_of(widget: QWidget) -> QSize | None:
    """The screen size the dialog was fitted to (None: its real screen)."""
    value = widget.property("ponderScreen")
    return value if isinstance(value, QSize) else None
