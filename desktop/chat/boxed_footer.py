"""The line under an answer that repeats its boxed result, drawn, with a Copy for its LaTeX.

DeepSeek asks R1 to "put your final answer within \\boxed{}", so the boxed result is the answer
at a glance: "Answer: x = 2 or x = 3". When only the reasoning boxed one (the answer was cut
off or stopped), it is shown all the same, marked as coming from the reasoning.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from desktop.chat.formulas import FormulaStore, math_pixels
from model_runtime.chat.boxed import BoxedAnswer
from model_runtime.chat.math import Formula
from model_runtime.chat.math_render import check


class BoxedFooter(QWidget):
    """Hidden until an answer has a boxed result; ``copied`` after Copy put its LaTeX on the
    clipboard."""

    copied = Signal(str)

    def __init__(self, formulas: FormulaStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("boxedAnswer")
        self.boxed: BoxedAnswer | None = None
        self._formulas = formulas
        self._number: int | None = None
        self._ink: QColor | None = None  # the text colour the formula was drawn in
        self.title = QLabel(self)
        self.title.setObjectName("boxedTitle")
        self.value = QLabel(self)
        self.value.setObjectName("boxedValue")
        self.value.setTextFormat(Qt.TextFormat.PlainText)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QToolButton(self)
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy the boxed answer's LaTeX")
        self.copy_button.setAutoRaise(True)
        self.copy_button.clicked.connect(self.copy)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.copy_button)
        layout.addStretch(1)
        formulas.changed.connect(self._arrived)
        formulas.enabled_changed.connect(self._math_switched)
        self.hide()

    def show_boxed(self, boxed: BoxedAnswer | None) -> None:
        """Show this boxed result (None: hide the line)."""
        self.boxed = boxed
        self.setVisible(boxed is not None)
        if boxed is None:
            self._number = None
            return
        self.title.setText("Answer (from the reasoning):" if boxed.from_reasoning else "Answer:")
        self._show_value()

    def copy(self) -> None:
        if self.boxed is not None:
            QGuiApplication.clipboard().setText(self.boxed.latex)
            self.copied.emit(self.boxed.latex)

    def _show_value(self) -> None:
        boxed = self.boxed
        if boxed is None:
            return
        formula = Formula(boxed.latex, display=False)
        drawable = self._formulas.enabled and check(formula.source) is None
        self._number = self._formulas.number(formula) if drawable else None
        image = None
        if self._number is not None:
            colour = self._ink = self.value.palette().color(QPalette.ColorRole.WindowText)
            pixels = math_pixels(self.value.font())
            ratio = self.devicePixelRatioF()
            image = self._formulas.image(self._number, pixels, colour, ratio)
        if image is None:
            self.value.setPixmap(QPixmap())
            self.value.setText(boxed.latex)
            reason = self._formulas.reason(self._number) if self._number is not None else None
            self.value.setToolTip(f"Not rendered: {reason}" if reason else "")
        else:
            self.value.setPixmap(QPixmap.fromImage(image))
            self.value.setToolTip(boxed.latex)

    def changeEvent(self, event: QEvent) -> None:
        """Another theme: the formula drawn again in its text colour."""
        super().changeEvent(event)
        restyled = event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange)
        ink = self.value.palette().color(QPalette.ColorRole.WindowText)
        if restyled and self._ink is not None and ink != self._ink:
            self._show_value()

    def _math_switched(self, _enabled: bool) -> None:
        self._show_value()

    def _arrived(self, numbers: set[int]) -> None:
        if self._number in numbers:
            self._show_value()
