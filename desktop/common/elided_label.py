"""A one-line label that cuts its text with "…" when it gets less room than the text needs,
instead of pushing its neighbours (the status bar) or widening its parent (the sidebar)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QWidget


class ElidedLabel(QLabel):
    """text() stays whole; the paint cuts it at the right. `keep` is the part it never cuts
    (a model's name): the label asks for at least that much room."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, keep: str = "") -> None:
        super().__init__(text, parent)
        self._keep = keep
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def set_keep(self, keep: str) -> None:
        """The start of the text that must show whole (empty: only "…" is sure to)."""
        self._keep = keep
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        metrics = self.fontMetrics()
        keep = metrics.horizontalAdvance(self._keep + "…") if self._keep else 0
        margins = self.contentsMargins().left() + self.contentsMargins().right()
        width = min(hint.width(), max(keep, metrics.horizontalAdvance("…" * 3)) + margins)
        return QSize(width, hint.height())

    def elided(self) -> bool:
        """Whether the text is cut now."""
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def shown_text(self) -> str:
        """The words as painted."""
        return self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width()
        )

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        self.style().drawItemText(
            painter,
            self.contentsRect(),
            int(self.alignment()),
            self.palette(),
            self.isEnabled(),
            self.shown_text(),
            self.foregroundRole(),
        )

    def event(self, event: QEvent) -> bool:
        """A cut text shows whole in its tooltip (an own tooltip wins)."""
        if event.type() == QEvent.Type.ToolTip and not self.toolTip() and self.elided():
            QToolTip.showText(event.globalPos(), self.text(), self)  # type: ignore[attr-defined]
            return True
        return super().event(event)
