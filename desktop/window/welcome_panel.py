"""What a new window shows before a model is loaded: how to start, in two buttons."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from model_runtime.models.starter import INSTALL_HINT, STARTER_NOTE


class WelcomePanel(QWidget):
    """Open a GGUF file, or try the starter model that ships with the install."""

    open_requested = Signal()
    starter_requested = Signal()

    def __init__(self, starter_available: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomePanel")
        self._starter_available = starter_available
        title = QLabel("Ponder", self)
        title.setObjectName("welcomeTitle")
        subtitle = QLabel(
            "Private reasoning on your own computer. Nothing you write leaves this machine.", self
        )
        subtitle.setObjectName("welcomeSubtitle")
        subtitle.setWordWrap(True)
        subtitle.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        subtitle.setFixedWidth(480)  # wrapped labels need a width, or the layout squeezes them
        self.open_button = QPushButton("Open a GGUF model…", self)
        self.open_button.setObjectName("openModelButton")
        self.open_button.clicked.connect(self.open_requested)
        self.starter_button = QPushButton("Try the starter model", self)
        self.starter_button.setObjectName("starterButton")
        self.starter_button.clicked.connect(self.starter_requested)
        self.starter_button.setEnabled(starter_available)
        note = QLabel(
            STARTER_NOTE if starter_available else f"Starter model not installed: {INSTALL_HINT}",
            self,
        )
        note.setObjectName("welcomeNote")
        note.setWordWrap(True)
        note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        for widget in (title, subtitle):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(18)
        for button in (self.open_button, self.starter_button):
            button.setMinimumWidth(280)
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(6)
        note.setFixedWidth(460)
        note.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(note, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)

    def showEvent(self, event) -> None:
        """Wrapped labels get their height once the theme's fonts apply."""
        super().showEvent(event)
        for label in self.findChildren(QLabel):
            if label.wordWrap():
                label.ensurePolished()
                label.setMinimumHeight(label.heightForWidth(label.width()))

    def set_loading(self, loading: bool) -> None:
        self.open_button.setDisabled(loading)
        self.starter_button.setEnabled(self._starter_available and not loading)
