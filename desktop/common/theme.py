"""The active theme: the Fusion style, a palette and the style sheet, all made from one table of
colours (desktop/common/colours.py): light, dark, or whichever the system uses, live.

The style sheet is resources/themes/ponder.qss with the theme's colours and the font sizes filled
in, relative to the system's font. ThemeManager applies both to the QApplication and says so with
``theme_changed``. The chat's text size (zoom) is not the style sheet's: chat_fonts.py.

A switch polishes each widget once for the new style sheet (desktop/common/repolish.py), not in
one go as Qt would, and leaves a chat's messages to the chat view, which restyles those on screen
at once and the others in steps. Views built from the colours (rendered answers) render again
when they are polished in a theme other than the one they were rendered in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QTableWidget,
    QTreeWidget,
    QTreeWidgetItemIterator,
    QWidget,
)

from desktop.common.appearance import (
    DEFAULT_ZOOM,
    SYSTEM,
    Appearance,
    load_appearance,
    save_appearance,
    step_zoom,
    valid_theme,
    valid_zoom,
)
from desktop.common.chat_fonts import ChatFonts
from desktop.common.colours import DARK, LIGHT, NAMES, THEMES, Colours, current, set_current
from desktop.common.repolish import collector_paused, forget_rules, repolish
from model_runtime.paths import resources_dir

log = logging.getLogger("ponder.theme")
TEMPLATE = resources_dir() / "themes" / "ponder.qss"
FALLBACK_POINT_SIZE = 9.0  # when the system's font has a pixel size only
_TOKEN = re.compile(r"@font\(([0-9.]+)\)|@([a-z_]+)")

Role = QPalette.ColorRole
Group = QPalette.ColorGroup


def palette_for(c: Colours) -> QPalette:
    """The Qt palette of a theme: every role, and the disabled ones, from its table."""
    button = QColor(c.button)
    roles = {
        Role.Window: c.window,
        Role.WindowText: c.text,
        Role.Base: c.base,
        Role.AlternateBase: c.raised,
        Role.ToolTipBase: c.base,
        Role.ToolTipText: c.text,
        Role.PlaceholderText: c.muted,
        Role.Text: c.text,
        Role.Button: c.button,
        Role.ButtonText: c.text,
        Role.BrightText: c.on_accent,
        Role.Highlight: c.accent,
        Role.HighlightedText: c.on_accent,
        Role.Link: c.link,
        Role.LinkVisited: c.link,
        Role.Light: button.lighter(130 if c.dark else 150).name(),
        Role.Midlight: button.lighter(115).name(),
        Role.Mid: c.border_strong,
        Role.Dark: button.darker(160 if c.dark else 135).name(),
        Role.Shadow: c.shadow,
    }
    if hasattr(Role, "Accent"):  # Qt 6.6
        roles[Role.Accent] = c.accent
    palette = QPalette()
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (Role.WindowText, Role.Text, Role.ButtonText, Role.PlaceholderText):
        palette.setColor(Group.Disabled, role, QColor(c.disabled_text))
    palette.setColor(Group.Disabled, Role.Button, QColor(c.disabled_bg))
    palette.setColor(Group.Disabled, Role.Base, QColor(c.window))
    palette.setColor(Group.Disabled, Role.Highlight, QColor(c.accent_disabled))
    palette.setColor(Group.Disabled, Role.HighlightedText, QColor(c.on_accent_disabled))
    return palette


def style_sheet(template: str, c: Colours, point_size: float) -> str:
    """The style sheet with a theme's colours and the sizes filled in; a colour the theme lacks
    becomes the palette's text colour (and a note in the log)."""
    unknown: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        factor, name = match.groups()
        if factor is not None:
            return f"{point_size * float(factor):.1f}pt"
        if name in NAMES and name != "pygments":
            return str(getattr(c, name))
        unknown.add(name)
        return "palette(text)"

    sheet = _TOKEN.sub(fill, template)
    if unknown:
        log.warning("The style sheet names colours no theme has: %s", ", ".join(sorted(unknown)))
    return sheet


def recolour_items(widgets: Iterable[QWidget], before: Colours, after: Colours) -> None:
    """Items of the tables and trees among widgets coloured from one theme's table (an error in
    red, a note greyed) take the same colour of the other."""
    same = {
        getattr(before, name).lower(): QColor(getattr(after, name))
        for name in NAMES
        if name != "pygments"
    }
    for view in widgets:
        if isinstance(view, QTreeWidget):
            it = QTreeWidgetItemIterator(view)
            while it.value() is not None:
                item = it.value()
                for column in range(view.columnCount()):
                    colour = _counterpart(item.foreground(column), same)
                    if colour is not None:
                        item.setForeground(column, colour)
                it += 1
        elif isinstance(view, QTableWidget):
            for row in range(view.rowCount()):
                for column in range(view.columnCount()):
                    cell = view.item(row, column)
                    colour = _counterpart(cell.foreground(), same) if cell is not None else None
                    if cell is not None and colour is not None:
                        cell.setForeground(colour)


def _counterpart(brush: QBrush, same: dict[str, QColor]) -> QColor | None:
    """The new theme's colour for an item's colour from the old one (None: not the table's)."""
    if brush.style() == Qt.BrushStyle.NoBrush:
        return None
    return same.get(brush.color().name())


def read_template(path: Path = TEMPLATE) -> str:
    """The style sheet's text; none when it can't be read (the palette alone still applies)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        log.warning("Can't read the style sheet %s (%s): the palette alone applies.", path, exc)
        return ""


class ThemeManager(QObject):
    """Applies the chosen theme and text size to the application, and follows the system."""

    theme_changed = Signal(object)  # Colours: now applied; content built from colours renders again
    zoom_changed = Signal(int)  # the chat's text size, in percent
    choice_changed = Signal(str)  # "system", "light" or "dark"

    def __init__(self, app: QApplication, template: Path = TEMPLATE) -> None:
        super().__init__(app)
        self._app = app
        saved = load_appearance()
        self._choice, self._zoom = saved.theme, saved.zoom
        font = app.font()
        self._point_size = font.pointSizeF() if font.pointSizeF() > 0 else FALLBACK_POINT_SIZE
        self._system_palette = QPalette(app.palette())
        self._system_sheet = app.styleSheet()
        hints = QGuiApplication.styleHints()
        self._scheme = hints.colorScheme()
        hints.colorSchemeChanged.connect(self._on_system_scheme)
        self._template_path = template
        self._template: str | None = None
        self.colours = current()
        self.chat = ChatFonts(font, self.chat_point_size, self)  # the chat's text size

    @property
    def choice(self) -> str:
        return self._choice

    @property
    def zoom(self) -> int:
        return self._zoom

    @property
    def chat_point_size(self) -> float:
        """The chat's text size now (the system's font, zoomed)."""
        return self._point_size * self._zoom / 100

    def install(self) -> None:
        """At start: the Fusion style (the same on every system) and the chosen theme."""
        self._app.setStyle("Fusion")
        self._apply(force=True)

    def system_is_dark(self) -> bool:
        """The system's colour scheme; when it does not say, its palette tells."""
        if self._scheme == Qt.ColorScheme.Dark:
            return True
        if self._scheme == Qt.ColorScheme.Light:
            return False
        return self._system_palette.color(Role.Window).lightness() < 128

    def resolve(self) -> Colours:
        """The colours of the choice: the system's theme for "system"."""
        if self._choice == SYSTEM:
            return DARK if self.system_is_dark() else LIGHT
        return THEMES[self._choice]

    # -- the person's choices ----------------------------------------------------------------

    def set_theme(self, choice: str, *, at_once: bool = False) -> None:
        """Light, dark or "system", applied at once and remembered; an unknown one follows
        the system (said in the log). at_once: Qt polishes every widget in one go, the chat's
        messages too, as switches did before (bench/theme_switch.py compares the two)."""
        choice = valid_theme(choice)
        if choice != self._choice:
            self._choice = choice
            self._save()
            self.choice_changed.emit(choice)
        self._apply(at_once=at_once)

    def follow_system(self) -> None:
        self.set_theme(SYSTEM)

    def use_light(self) -> None:
        self.set_theme("light")

    def use_dark(self) -> None:
        self.set_theme("dark")

    def set_zoom(self, percent: int) -> None:
        """The chat's text size in percent (the nearest step), applied and remembered."""
        zoom = valid_zoom(percent)
        if zoom == self._zoom:
            return
        self._zoom = zoom
        self._save()
        self.chat.set_point_size(self.chat_point_size)
        self.zoom_changed.emit(zoom)

    def zoom_in(self) -> None:
        self.set_zoom(step_zoom(self._zoom, 1))

    def zoom_out(self) -> None:
        self.set_zoom(step_zoom(self._zoom, -1))

    def reset_zoom(self) -> None:
        self.set_zoom(DEFAULT_ZOOM)

    # -- applying ----------------------------------------------------------------------------

    def style_sheet(self) -> str:
        if self._template is None:
            self._template = read_template(self._template_path)
        return style_sheet(self._template, self.colours, self._point_size)

    def _on_system_scheme(self, scheme: Qt.ColorScheme) -> None:
        """The system switched between light and dark: follow it if that is the choice."""
        self._scheme = scheme
        if self._choice == SYSTEM:
            self._apply()

    def _apply(self, *, force: bool = False, at_once: bool = False) -> None:
        colours, before = self.resolve(), self.colours
        changed = colours != before
        if not (changed or force):
            return
        self.colours = colours
        set_current(colours)
        self._app.setPalette(palette_for(colours))
        polished = self._set_style_sheet(self.style_sheet(), at_once=at_once)
        if changed:
            recolour_items(polished, before, colours)
            self.theme_changed.emit(colours)

    def _set_style_sheet(self, sheet: str, *, at_once: bool) -> list[QWidget]:
        """A new style sheet: each widget polished with it once, but those left to their
        owners (desktop/common/repolish.py). at_once, or with no sheet before or none now, Qt
        polishes every widget itself, once per ancestor, and sets fonts anew (the chat's are
        set again). Returns the widgets polished (Qt's way: its trees and tables)."""
        if at_once or not (sheet and self._app.styleSheet()):
            with collector_paused():  # Qt walks a list of widgets made first
                self._app.setStyleSheet(sheet)
            self.chat.reapply()
            windows = self._app.topLevelWidgets()
            kinds = (QTreeWidget, QTableWidget)
            return [view for w in windows for kind in kinds for view in w.findChildren(kind)]
        forget_rules(self._app)
        self._app.setStyleSheet(sheet)
        return [widget for window in self._app.topLevelWidgets() for widget in self.restyle(window)]

    def restyle(self, root: QWidget) -> list[QWidget]:
        """Polish root and what it holds for the style sheet now (but the widgets left to their
        owners), keeping the chat's text sizes, which polishing resets; returns the widgets."""
        return repolish(root, self.chat.keep)

    def _save(self) -> None:
        save_appearance(Appearance(self._choice, self._zoom))

    def restore(self) -> None:
        """Put back the look from before this manager (the system's palette, light colours)."""
        QGuiApplication.styleHints().colorSchemeChanged.disconnect(self._on_system_scheme)
        set_current(LIGHT)
        self._app.setPalette(self._system_palette)
        with collector_paused():
            self._app.setStyleSheet(self._system_sheet)


_shared: ThemeManager | None = None


def theme_manager() -> ThemeManager:
    """The application's manager (made on first use, owned by the application)."""
    global _shared
    if _shared is None or not shiboken6.isValid(_shared):
        app = QApplication.instance()
        assert isinstance(app, QApplication), "a QApplication comes first"
        _shared = ThemeManager(app)
    return _shared


def release_theme_manager() -> None:
    """Forget the application's manager and undo what it applied (each test starts afresh)."""
    global _shared
    if _shared is not None and shiboken6.isValid(_shared):
        _shared.restore()
        _shared.deleteLater()
    _shared = None
