""" "Ponder can't start" at its default size, for every way the data can be unusable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel

import desktop.dialogs.cant_start as cant_start
from desktop.dialogs.cant_start import CantStartDialog
from model_runtime.errors import ConversationStoreError, StorageError

DEEP = Path("/home/someone/a folder with a rather long name/and another one/Ponder/data")
CASES = [
    (StorageError(f"The disk that holds {DEEP} is full.", problem="full", path=DEEP), "Free"),
    (StorageError(f"{DEEP} is on a read-only disk.", problem="read-only", path=DEEP), "writable"),
    (
        StorageError(
            f"The disk that holds {DEEP} reported an error (I/O).", problem="failing", path=DEEP
        ),
        "Check the disk",
    ),
    (StorageError(f"Another program is using {DEEP}.", problem="locked", path=DEEP), "Close"),
    (
        ConversationStoreError(
            f"The conversation database {DEEP}/c.sqlite can't be opened: it is "
            "damaged (Page 21). Ponder left it untouched. Move it out of that "
            "folder to start with an empty history.",
            path=DEEP,
        ),
        "Move it out",
    ),
    (PermissionError(13, "Permission denied", str(DEEP)), "Check that Ponder may write"),
]


@pytest.mark.parametrize(("error", "todo"), CASES)
def test_the_dialog_says_what_where_and_what_to_do_unclipped(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, error: BaseException, todo: str
) -> None:
    opened: list[Any] = []
    monkeypatch.setattr(cant_start.QDesktopServices, "openUrl", opened.append)
    dialog = CantStartDialog(error, Path.cwd())
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    for label in dialog.findChildren(QLabel):
        if label.wordWrap():
            assert label.height() >= label.heightForWidth(label.width()), label.text()
    text = dialog.text()
    assert text.startswith("Ponder can't start\n\n") and str(DEEP) in text and todo in text
    assert f"Data folder: {Path.cwd()}" in text
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == text
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert [url.toLocalFile() for url in opened] == [str(Path.cwd())]
    qtbot.mouseClick(dialog.quit_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and dialog.result() == 0
