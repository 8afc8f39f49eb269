"""Guards against a Qt binding that corrupts the interpreter (PySide6 6.12.0 on Python 3.11)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QLabel


def test_void_calls_keep_none_alive(qtbot) -> None:
    """6.12.0 dropped a reference to None per void call: a few thousand calls aborted Python."""
    label = QLabel()
    qtbot.addWidget(label)
    url = QUrl("https://example.org")
    before = sys.getrefcount(None)
    for _ in range(5000):
        url.setPath("/a")
        label.setText("x")
    assert sys.getrefcount(None) >= before - 50
