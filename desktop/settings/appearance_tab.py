"""Settings → Appearance: the theme (follow the system, light, dark) and the chat's text size.

Both apply at once and are remembered (desktop/common/appearance.py); the View menu offers the
same choices, and each follows the other.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop.common.appearance import SYSTEM, ZOOM_STEPS
from desktop.common.theme import ThemeManager, theme_manager

THEME_WORDS = {SYSTEM: "Follow the system", "light": "Light", "dark": "Dark"}
NOTE = (
    "Ponder uses your system's font. The chat's text size applies to answers, reasoning, code "
    "and the box you write in; Ctrl+= and Ctrl+- change it, Ctrl+0 sets it back."
)


class AppearanceTab(QWidget):
    """Two choices, applied as they are made."""

    def __init__(self, theme: ThemeManager | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme if theme is not None else theme_manager()
        self.theme_choice = QComboBox(self)
        self.theme_choice.setObjectName("themeChoice")
        for choice, words in THEME_WORDS.items():
            self.theme_choice.addItem(words, choice)
        self.theme_choice.setToolTip(
            "Follow the system: light or dark as your desktop is, switching when it does"
        )
        self.zoom = QComboBox(self)
        self.zoom.setObjectName("zoomChoice")
        for step in ZOOM_STEPS:
            self.zoom.addItem(f"{step} %", step)
        self.reset_button = QPushButton("Normal size", self)
        self.reset_button.clicked.connect(self.theme.reset_zoom)
        note = QLabel(NOTE, self)
        note.setObjectName("settingsNote")
        note.setWordWrap(True)
        note.setTextFormat(Qt.TextFormat.PlainText)
        size_row = QHBoxLayout()
        size_row.addWidget(self.zoom)
        size_row.addWidget(self.reset_button)
        size_row.addStretch(1)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow("Theme", self.theme_choice)
        form.addRow("Chat text size", size_row)
        form.addRow(note)
        self._show_theme(self.theme.choice)
        self._show_zoom(self.theme.zoom)
        self.theme_choice.currentIndexChanged.connect(self._theme_chosen)
        self.zoom.currentIndexChanged.connect(self._zoom_chosen)
        self.theme.choice_changed.connect(self._show_theme)
        self.theme.zoom_changed.connect(self._show_zoom)

    def _theme_chosen(self, index: int) -> None:
        self.theme.set_theme(str(self.theme_choice.itemData(index)))

    def _zoom_chosen(self, index: int) -> None:
        self.theme.set_zoom(int(self.zoom.itemData(index)))

    def _show_theme(self, choice: str) -> None:
        self.theme_choice.blockSignals(True)
        self.theme_choice.setCurrentIndex(self.theme_choice.findData(choice))
        self.theme_choice.blockSignals(False)

    def _show_zoom(self, zoom: int) -> None:
        self.zoom.blockSignals(True)
        self.zoom.setCurrentIndex(self.zoom.findData(zoom))
        self.zoom.blockSignals(False)
        self.reset_button.setEnabled(zoom != 100)
