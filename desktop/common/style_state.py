"""Widget states the theme styles by property (`QLabel[warning="true"]`), set and re-applied."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def set_state(widget: QWidget, name: str, value: object) -> None:
    """Set a property the style sheet matches on; Qt re-reads the sheet only when asked."""
    if widget.property(name) == value:
        return
    widget.setProperty(name, value)
    widget.style().unpolish(widget)
    widget.style().polish(widget)
