"""The formulas of every view: each drawn once, off the GUI thread, and kept as images.

A formula in an answer or in the reasoning becomes an image object named ``ponder-math:N`` in
the view's document (desktop/chat/formula_objects.py sizes and draws it). Its LaTeX goes to the
renderer process once (model_runtime/chat/math_process.py, with its time budget); the SVG that
comes back is painted by QtSvg into an image at the size, colour and device pixel ratio asked
for, and kept. Until it comes, the view shows the formula's source; when it can't be drawn,
the source in monospace, with the reason as a tooltip.

One store serves the application (``shared_formulas``); it also holds the View menu's "Render
math" switch, which the views follow.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import shiboken6
from markdown_it.common.utils import escapeHtml
from PySide6.QtCore import QByteArray, QCoreApplication, QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontInfo, QFontMetricsF, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from desktop.common.background import Tasks
from desktop.common.throttle import Throttle
from model_runtime.chat.math import Formula
from model_runtime.chat.math_process import FormulaRenderer, Result
from model_runtime.chat.math_render import REF_SIZE, RenderedFormula, check

SCHEME = "ponder-math"
KEEP_DRAWINGS = 4_000  # SVG drawings kept (a formula dropped is asked for again if shown)
KEEP_IMAGES = 600  # images kept, at a size, colour and pixel ratio each
BATCH_MS = 40  # drawings that arrive together are shown together: one layout, one repaint
MATH_X_HEIGHT = 0.473  # of the math font (STIX Two Math), in ems
MOST_SCALE = 1.25  # formulas grow to the text's x-height, at most by this much
FALLBACK_STYLE = "font-family: monospace;"  # no background: a dark theme keeps its text


class FormulaStore(QObject):
    """Formulas by number; ``changed(numbers)`` once those formulas are drawn or known not to
    be (a set: the drawings that arrived within BATCH_MS)."""

    changed = Signal(object)
    enabled_changed = Signal(bool)

    def __init__(self, renderer: FormulaRenderer | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._renderer = renderer or FormulaRenderer()
        self._enabled = True
        self._numbers: dict[Formula, int] = {}
        self._formulas: list[Formula] = []
        self._drawn: OrderedDict[int, RenderedFormula] = OrderedDict()
        self._reasons: dict[int, str] = {}
        self._asked: set[int] = set()  # sent to the renderer, no answer yet
        self._svg: OrderedDict[int, QSvgRenderer] = OrderedDict()
        self._images: OrderedDict[tuple[int, int, int, float], QImage] = OrderedDict()
        self._tasks = Tasks(self)
        self._running = False
        self._arrivals: set[int] = set()
        self._batch = Throttle(self._announce, BATCH_MS, self)

    # -- the switch ------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Math is rendered (else every view shows the LaTeX source, as Markdown has it)."""
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        if enabled != self._enabled:
            self._enabled = enabled
            self.enabled_changed.emit(enabled)

    # -- formulas --------------------------------------------------------------------------

    def number(self, formula: Formula) -> int:
        """The formula's number, asking the renderer for it the first time it is seen."""
        found = self._numbers.get(formula)
        if found is None:
            found = self._numbers[formula] = len(self._formulas)
            self._formulas.append(formula)
        if found not in self._drawn and found not in self._reasons:
            self._ask(found)
        return found

    def formula(self, number: int) -> Formula:
        return self._formulas[number]

    def drawn(self, number: int) -> RenderedFormula | None:
        """The formula's drawing, or None (not yet, or never: see ``reason``)."""
        drawing = self._drawn.get(number)
        if drawing is not None:
            self._drawn.move_to_end(number)
        elif number not in self._reasons and 0 <= number < len(self._formulas):
            self._ask(number)  # dropped to keep memory bounded, and shown again
        return drawing

    def reason(self, number: int) -> str | None:
        """Why the formula is shown as its source, or None."""
        return self._reasons.get(number)

    @property
    def pending(self) -> bool:
        """Formulas are still being drawn (or their drawings not announced yet)."""
        return bool(self._asked or self._arrivals)

    def html(self, formula: Formula, *, block: bool) -> str:
        """The formula as rich text: its image object, or its source when it can't be drawn."""
        reason = check(formula.source)
        number = self.number(formula) if reason is None else None
        if number is not None:
            reason = self._reasons.get(number)
        if reason is not None:
            return fallback_html(formula, reason, block=block)
        image = f'<img src="{SCHEME}:{number}" style="vertical-align: middle;" />'
        return f'<p align="center">{image}</p>\n' if block else image

    def image(self, number: int, pixels: float, colour: QColor, ratio: float) -> QImage | None:
        """The drawing at ``pixels`` to the em, in colour, for a device of that pixel ratio."""
        drawing = self.drawn(number)
        if drawing is None:
            return None
        key = (number, round(pixels * 4), colour.rgba(), ratio)
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
            return image
        image = self._paint(number, drawing, pixels / REF_SIZE, colour, ratio)
        self._images[key] = image
        if len(self._images) > KEEP_IMAGES:
            self._images.popitem(last=False)
        return image

    def _paint(
        self, number: int, drawing: RenderedFormula, scale: float, colour: QColor, ratio: float
    ) -> QImage:
        return paint(self._svg_renderer(number, drawing), drawing, scale, colour, ratio)

    def _svg_renderer(self, number: int, drawing: RenderedFormula) -> QSvgRenderer:
        renderer = self._svg.get(number)
        if renderer is None:
            renderer = self._svg[number] = QSvgRenderer(QByteArray(drawing.svg.encode()), self)
            if len(self._svg) > KEEP_IMAGES:
                self._svg.popitem(last=False)[1].deleteLater()
        return renderer

    # -- the renderer ----------------------------------------------------------------------

    def _ask(self, number: int) -> None:
        if number in self._asked:
            return
        self._asked.add(number)
        self._renderer.request(self._formulas[number])
        if not self._running:
            self._running = True
            self._tasks.start(
                lambda task: self._renderer.results(task.cancel),
                on_progress=self._arrived,
                on_result=lambda _none: self._stopped(),
                on_error=lambda _exc: self._stopped(),
            )

    def _arrived(self, value: tuple[Formula, Result]) -> None:
        self.put(*value)

    def put(self, formula: Formula, result: Result) -> int:
        """Keep a formula's drawing (or why there is none), as the renderer gives it; the views
        showing it are told within BATCH_MS. Returns its number."""
        number = self._numbers.get(formula)
        if number is None:
            number = self._numbers[formula] = len(self._formulas)
            self._formulas.append(formula)
        self._asked.discard(number)
        if isinstance(result, RenderedFormula):
            self._drawn[number] = result
            if len(self._drawn) > KEEP_DRAWINGS:
                self._drawn.popitem(last=False)
        else:
            self._reasons[number] = result
        self._arrivals.add(number)
        self._batch()
        return number

    def _announce(self) -> None:
        arrived, self._arrivals = self._arrivals, set()
        self.changed.emit(arrived)

    def _stopped(self) -> None:
        self._running = False

    def close(self) -> None:
        """Stop the renderer process and wait for it (the window closes, the app quits); a
        formula asked for later starts it again."""
        if self._running:  # the drawing loop sees the cancel within 0.2 s, and ends the child
            self._tasks.cancel_all()
            self._tasks.wait(10)
        self._running = False
        self._asked.clear()


def paint(
    svg: QSvgRenderer, drawing: RenderedFormula, scale: float, colour: QColor, ratio: float
) -> QImage:
    """The SVG drawing as an image: scaled, in one colour, for a device of that pixel ratio."""
    width, height = drawing.width * scale, drawing.height * scale
    image = QImage(
        max(1, math.ceil(width * ratio)),
        max(1, math.ceil(height * ratio)),
        QImage.Format.Format_ARGB32_Premultiplied,
    )
    image.setDevicePixelRatio(ratio)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    svg.render(painter, QRectF(0, 0, width, height))
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    painter.fillRect(QRectF(0, 0, width, height), colour)  # the drawing in the text colour
    painter.end()
    return image


def math_pixels(font: QFont) -> float:
    """Pixels to the em for formulas in text of this font: its size, grown so that the math's
    x-height meets the text's (as MathJax matches the font height; sans fonts are taller)."""
    pixels = QFontInfo(font).pixelSize() or REF_SIZE / 2
    grow = QFontMetricsF(font).xHeight() / (MATH_X_HEIGHT * pixels)
    return pixels * min(MOST_SCALE, max(1.0, grow))


def fallback_html(formula: Formula, reason: str, *, block: bool) -> str:
    """A formula that is not drawn: its source in monospace, the reason as its tooltip."""
    title = escapeHtml(f"Not rendered: {reason}")
    source = escapeHtml(formula.source)
    if block:
        return (
            f'<pre title="{title}" style="margin-top: 4px; margin-bottom: 12px;">{source}</pre>\n'
        )
    return f'<code title="{title}" style="{FALLBACK_STYLE}">{source}</code>'


def number_of(name: str) -> int | None:
    """The formula number of an image name (``ponder-math:N``), or None for other images."""
    prefix = SCHEME + ":"
    if not name.startswith(prefix) or not name[len(prefix) :].isdigit():
        return None
    return int(name[len(prefix) :])


_shared: FormulaStore | None = None


def stop_renderer() -> None:
    """Stop the application store's renderer process, if it runs (a main window closes)."""
    if _shared is not None and shiboken6.isValid(_shared):
        _shared.close()


def shared_formulas() -> FormulaStore:
    """The application's store (made on first use; its renderer stops when the app quits)."""
    global _shared
    if _shared is None or not shiboken6.isValid(_shared):
        app = QCoreApplication.instance()
        _shared = FormulaStore(parent=app)
        if app is not None:
            app.aboutToQuit.connect(_shared.close)
    return _shared
