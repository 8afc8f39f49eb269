"""Starting Ponder with a data folder it can't use: a damaged database, a read-only or a full
disk. desktop.app.main() runs for real; it must show "Ponder can't start" with the path and
what to do, return 1, and leave every file as it was."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel

from desktop import app as desktop_app
from desktop.dialogs.cant_start import CantStartDialog
from desktop.window.main_window import MainWindow
from tests.disks import Tmpfs, damage_mid_file, fill_store

DIALOG_S = 60


def files(folder: Path) -> dict[str, bytes]:
    """Every file under folder (the crash reports' folder aside) and its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "crashes" not in p.parts
    }


def start_and_read_the_dialog() -> tuple[int, str]:
    """desktop.app.main() until its "can't start" dialog shows; the dialog's text, checked
    at its default size, and main()'s exit code once it is closed."""
    seen: dict[str, Any] = {}
    poll = QTimer()
    ticks = [0]

    def look() -> None:
        ticks[0] += 1
        if ticks[0] > DIALOG_S * 20:
            poll.stop()
            QApplication.closeAllWindows()
            return
        dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, CantStartDialog)]
        if not dialogs or not dialogs[0].isVisible():
            return
        poll.stop()
        dialog = dialogs[0]
        seen["windows"] = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
        ]
        seen["clipped"] = [
            label.text()
            for label in dialog.findChildren(QLabel)
            if label.wordWrap() and label.height() < label.heightForWidth(label.width())
        ]
        seen["text"] = dialog.text()
        dialog.quit_button.click()

    poll.timeout.connect(look)
    poll.start(50)
    code = desktop_app.main([])
    # As in tests/desktop/dialogs: let Qt's queued Quit land in an exec() of its own.
    QTimer.singleShot(0, QApplication.instance().quit)  # type: ignore[union-attr]
    QApplication.instance().exec()  # type: ignore[union-attr]
    assert "text" in seen, "the dialog did not show"
    assert seen["clipped"] == [] and seen["windows"] == []
    return code, seen["text"]


def test_a_damaged_database_stops_the_start_and_is_left_untouched(
    qtbot: Any, ponder_home: Path
) -> None:
    data = ponder_home / "data"
    path = data / "conversations.sqlite"
    fill_store(path)
    damage_mid_file(path)
    before = files(data)
    code, text = start_and_read_the_dialog()
    assert code == 1
    assert text.startswith("Ponder can't start\n\n")
    assert f"The conversation database {path} can't be opened: it is damaged" in text
    assert "Move it out of that folder to start with an empty history" in text
    assert f"Data folder: {data}" in text
    assert files(data) == before  # no -wal or -shm, no migration, no recovered answers


def test_a_read_only_data_folder_stops_the_start(
    qtbot: Any, tmpfs: Callable[..., Tmpfs], ponder_home: Path
) -> None:
    disk = tmpfs(ponder_home / "data", "4m")
    fill_store(disk.path / "conversations.sqlite", conversations=2)
    disk.read_only()
    before = files(disk.path)
    code, text = start_and_read_the_dialog()
    assert code == 1
    assert f"{disk.path} is on a read-only disk." in text
    assert "Make the folder writable, or start Ponder with PONDER_HOME set" in text
    assert "Ponder changed nothing there." in text
    assert files(disk.path) == before


def test_a_full_disk_stops_the_start(
    qtbot: Any, tmpfs: Callable[..., Tmpfs], ponder_home: Path
) -> None:
    disk = tmpfs(ponder_home / "data", "2m")
    path = disk.path / "conversations.sqlite"
    fill_store(path, conversations=2)
    db = sqlite3.connect(path)  # an answer that was streaming when the last run ended
    db.execute("UPDATE messages SET state = 'streaming' WHERE id = 2")
    db.commit()
    db.close()
    disk.fill()
    before = files(disk.path)
    code, text = start_and_read_the_dialog()
    assert code == 1
    assert f"The disk that holds {disk.path} is full." in text
    assert "Free some space on that disk (a few megabytes), then start Ponder again." in text
    assert files(disk.path) == before
