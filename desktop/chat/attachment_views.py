"""Saved files on the messages: the files a question went with (each opens its text), and under
the answer the passages retrieval used ("report.pdf: pages 12, 13, 47"), each openable."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from model_runtime.attachments.files import KIND_NAMES, stored_file
from model_runtime.attachments.prompt import Included
from model_runtime.conversations.attachments import StoredAttachment
from model_runtime.units import size_text

TextOf = Callable[[str], str]  # sha256 -> the stored text
MAX_PASSAGE_BUTTONS = 8  # more passages than this: the rest in a menu


class PassageDialog(QDialog):
    """A file's text, or one passage of it, to read (and select and copy)."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("passageDialog")
        self.setWindowTitle(title)
        self.resize(800, 520)  # a PDF's lines, unwrapped
        heading = QLabel(title, self)
        heading.setObjectName("sectionTitle")
        heading.setTextFormat(Qt.TextFormat.PlainText)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setPlainText(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)


def _open(parent: QWidget, title: str, text: str) -> PassageDialog:
    dialog = PassageDialog(title, text, parent.window())
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


def _included(attachment: StoredAttachment, text_of: TextOf) -> Included:
    file = stored_file(
        attachment.name,
        attachment.kind,
        attachment.size,
        attachment.sha256,
        text_of(attachment.sha256),
    )
    return Included(file, attachment.mode, attachment.spans, attachment.tokens)


class AttachedFiles(QWidget):
    """The files a question went with: a button each ("report.pdf · PDF · 2.3 MB")."""

    def __init__(
        self,
        files: Sequence[StoredAttachment],
        text_of: TextOf,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("attachedFiles")
        self.files = list(files)
        self._text_of = text_of
        self.buttons: list[QToolButton] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        for attachment in self.files:
            button = QToolButton(self)
            button.setObjectName("attachedFile")
            kind = KIND_NAMES.get(attachment.kind, attachment.kind)
            how = " · relevant passages" if attachment.mode == "passages" else ""
            button.setText(f"{attachment.name} · {kind} · {size_text(attachment.size)}{how}")
            button.setToolTip("Show the text that was read from this file")
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(lambda _=False, a=attachment: self.open(a))
            layout.addWidget(button)
            self.buttons.append(button)
        layout.addStretch(1)

    def open(self, attachment: StoredAttachment) -> PassageDialog:
        return _open(self, attachment.name, self._text_of(attachment.sha256))


class SourcesRow(QWidget):
    """Under an answer: which passages of which file went into its question."""

    def __init__(
        self,
        files: Sequence[StoredAttachment],
        text_of: TextOf,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sourcesRow")
        self.items = [_included(attachment, text_of) for attachment in files]
        self.buttons: list[QToolButton] = []
        self.labels: list[QLabel] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for item in self.items:
            layout.addWidget(self._row(item))

    def _row(self, item: Included) -> QWidget:
        row = QWidget(self)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        label = QLabel(f"From {item.file.name}, {item.where() or 'no passage'}:", row)
        label.setObjectName("sourcesLabel")
        label.setTextFormat(Qt.TextFormat.PlainText)
        self.labels.append(label)
        layout.addWidget(label)
        passages = item.passages()
        for index, (where, text) in enumerate(passages[:MAX_PASSAGE_BUTTONS]):
            layout.addWidget(self._button(row, item, where, text, index))
        if len(passages) > MAX_PASSAGE_BUTTONS:
            more = QToolButton(row)
            more.setText(f"+{len(passages) - MAX_PASSAGE_BUTTONS} more")
            more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            menu = QMenu(more)
            for where, text in passages[MAX_PASSAGE_BUTTONS:]:
                action = QAction(where, menu)
                action.triggered.connect(
                    lambda _=False, w=where, t=text, f=item.file.name: _open(self, f"{f}: {w}", t)
                )
                menu.addAction(action)
            more.setMenu(menu)
            layout.addWidget(more)
        layout.addStretch(1)
        return row

    def _button(
        self, row: QWidget, item: Included, where: str, text: str, index: int
    ) -> QToolButton:
        button = QToolButton(row)
        button.setObjectName("sourceButton")
        button.setText(where)
        button.setToolTip(f"Show this passage of {item.file.name}")
        button.setAutoRaise(True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.clicked.connect(
            lambda _=False, w=where, t=text: _open(self, f"{item.file.name}: {w}", t)
        )
        self.buttons.append(button)
        return button
