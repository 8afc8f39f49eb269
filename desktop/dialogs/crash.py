"""Offers the crash reports of earlier runs: read one, copy it, open its folder, delete it."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from model_runtime.crash_log import CrashReport

INTRO = (
    "Ponder stopped unexpectedly before. The report below says where; it stays on this "
    "computer. If you want to tell the developers, copy it into a bug report."
)
ALL_INTRO = (
    "Errors Ponder ran into: crashes, and errors it kept running after. Reports stay on this "
    "computer. If you want to tell the developers, copy one into a bug report."
)
NONE_YET = "No reports: Ponder has not run into an unexpected error."


class CrashReportsDialog(QDialog):
    """A list of reports, the selected one's text, and Open folder / Copy / Delete / Close."""

    def __init__(
        self,
        reports: list[CrashReport],
        folder: Path,
        parent: QWidget | None = None,
        *,
        crashed: bool = True,
    ) -> None:
        """crashed: offered at start after Ponder closed unexpectedly; else Help → Error
        reports, which lists every report kept."""
        super().__init__(parent)
        self.setObjectName("crashReportsDialog")
        self.setWindowTitle("Ponder closed unexpectedly" if crashed else "Error reports")
        self.resize(720, 460)
        self.folder = folder
        intro = QLabel(INTRO if crashed else (ALL_INTRO if reports else NONE_YET))
        intro.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("crashList")
        for report in reports:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.created))
            kind = "error, Ponder kept running" if report.survived else "crash"
            item = QListWidgetItem(f"{when} ({kind})\n{report.summary}")
            item.setData(Qt.ItemDataRole.UserRole, report)
            item.setToolTip(str(report.path))
            self.list.addItem(item)
        self.text = QPlainTextEdit()
        self.text.setObjectName("crashText")
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(self.text)
        splitter.setSizes([230, 490])

        self.open_button = QPushButton("Open folder")
        self.copy_button = QPushButton("Copy")
        self.delete_button = QPushButton("Delete")
        close = QPushButton("Close")
        close.setDefault(True)
        self.open_button.clicked.connect(self.open_folder)
        self.copy_button.clicked.connect(self.copy_report)
        self.delete_button.clicked.connect(self.delete_report)
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.copy_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        self.list.currentItemChanged.connect(self._show)
        self.list.setCurrentRow(0)
        self._show()  # an empty list too: nothing to copy or delete

    def current(self) -> CrashReport | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _show(self, *_args: object) -> None:
        report = self.current()
        self.text.setPlainText(report.text() if report is not None else "")
        for button in (self.copy_button, self.delete_button):
            button.setEnabled(report is not None)

    def open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))

    def copy_report(self) -> None:
        report = self.current()
        if report is not None:
            QGuiApplication.clipboard().setText(report.text())

    def delete_report(self) -> None:
        report = self.current()
        if report is None:
            return
        report.delete()
        self.list.takeItem(self.list.currentRow())
        if self.list.count() == 0:
            self.accept()
        else:
            self._show()
