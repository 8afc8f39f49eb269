""" "Ponder can't start": its data can't be used (a full, read-only or failing disk, a damaged
database). Says what is wrong, where, and what to do; opens the folder; Quit."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from desktop.common.error_messages import cant_start


def _label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class CantStartDialog(QDialog):
    """What is wrong, what to do, the folder; Open folder, Copy, Quit."""

    def __init__(self, exc: BaseException, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cantStartDialog")
        self.setWindowTitle("Ponder can't start")
        self.resize(560, 300)
        self.folder = folder
        problem, todo = cant_start(exc)
        icon = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize)
        icon.setPixmap(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical).pixmap(size)
        )
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        heading = _label("Ponder can't start", "cantStartHeading")
        font = heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        heading.setFont(font)
        self.problem = _label(problem, "cantStartProblem")
        self.todo = _label(todo, "cantStartTodo")
        self.todo.setVisible(bool(todo))
        self.where = _label(f"Data folder: {folder}", "cantStartFolder")
        self.labels = [heading, self.problem, self.todo, self.where]

        self.open_button = QPushButton("Open folder")
        self.open_button.setEnabled(folder.is_dir())
        self.copy_button = QPushButton("Copy")
        self.quit_button = QPushButton("Quit")
        self.quit_button.setDefault(True)
        self.open_button.clicked.connect(self.open_folder)
        self.copy_button.clicked.connect(self.copy_text)
        self.quit_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        buttons.addWidget(self.quit_button)

        words = QVBoxLayout()
        for label in self.labels:
            words.addWidget(label)
        words.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addLayout(words, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(buttons)

    def text(self) -> str:
        return "\n\n".join(label.text() for label in self.labels if label.isVisibleTo(self))

    def open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))

    def copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
