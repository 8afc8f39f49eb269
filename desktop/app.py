"""Entry point of the desktop app: `ponder [MODEL.gguf]`."""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from model_runtime import __version__
from model_runtime.errors import PonderError

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ponder", description="Ponder: private reasoning chat.")
    parser.add_argument("--version", action="version", version=f"Ponder {__version__}")
    parser.add_argument("model", nargs="?", help="a .gguf file to load at start")
    parser.add_argument("--starter", action="store_true", help="load the starter model at start")
    return parser.parse_args(argv)


def load_theme() -> str:
    theme = RESOURCES / "themes" / "light.qss"
    return theme.read_text(encoding="utf-8") if theme.is_file() else ""


def create_application() -> QApplication:
    """The QApplication with Ponder's name, icon and theme (reused if one exists)."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Ponder")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("ponder")
    icon = RESOURCES / "icons" / "ponder.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    app.setStyleSheet(load_theme())
    return app


def create_window() -> MainWindow:
    """The main window with its own engine process (started on the first load)."""
    from model_runtime.conversations import default_store

    from .engine_bridge import EngineBridge
    from .main_window import MainWindow
    from .sidebar import UNDO_SECONDS

    store = default_store()
    store.purge_deleted(older_than_seconds=UNDO_SECONDS)  # deletions the app closed on
    return MainWindow(EngineBridge(), store)


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = create_application()
    try:
        window = create_window()
    except PonderError as exc:  # e.g. a conversation database from a newer Ponder
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "Ponder can't start", str(exc))
        return 1
    window.show()
    if args.model:
        window.load_model(args.model)
    elif args.starter:
        window.load_starter()
    return int(app.exec())
