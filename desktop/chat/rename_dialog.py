"""Rename a chat: one line for the title, wide enough to read a long one whole."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

MIN_WIDTH = 440


class RenameDialog(QDialog):
    """The title to edit, selected; Save (off while the title is empty) or Cancel."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("renameDialog")
        self.setWindowTitle("Rename chat")
        self.setMinimumWidth(MIN_WIDTH)
        label = QLabel("Title", self)
        self.edit = QLineEdit(title, self)
        self.edit.setObjectName("renameEdit")
        self.edit.selectAll()
        label.setBuddy(self.edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.edit.textChanged.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.edit)
        layout.addSpacing(6)
        layout.addWidget(self.buttons)
        self._update()

    def title(self) -> str:
        return " ".join(self.edit.text().split())

    def _update(self) -> None:
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(bool(self.title()))
        save.setToolTip("" if self.title() else "A title can't be empty")
