"""Entry point of the desktop app: `ponder [MODEL.gguf]`."""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from model_runtime import __version__
from model_runtime.errors import PonderError

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from desktop.dialogs.crash_reporter import CrashReporter
    from desktop.window.main_window import MainWindow


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ponder", description="Ponder: private reasoning chat.")
    parser.add_argument("--version", action="version", version=f"Ponder {__version__}")
    parser.add_argument("model", nargs="?", help="a .gguf file to load at start")
    parser.add_argument("--starter", action="store_true", help="load the starter model at start")
    hook = parser.add_argument_group("automation, for smoke tests of bundles (installer/README.md)")
    hook.add_argument("--ask", metavar="QUESTION", help="once the model has loaded, ask this")
    hook.add_argument("--screenshot", metavar="PNG", help="then save the window to this file")
    hook.add_argument("--quit-when-done", action="store_true", help="then quit")
    return parser.parse_args(argv)


def create_application() -> QApplication:
    """The QApplication with Ponder's name, icon and theme (reused if one exists): Fusion,
    light or dark as chosen (following the system unless told), live."""
    from PySide6.QtWidgets import QApplication

    from desktop.common import screen_fit
    from desktop.common.identity import app_icon
    from desktop.common.theme import theme_manager

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Ponder")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("ponder")
    app.setWindowIcon(app_icon())
    theme_manager().install()
    if not app.property("ponderScreenFit"):  # every dialog fits its screen (once per app)
        app.setProperty("ponderScreenFit", True)
        screen_fit.install(app)
    return app


def create_window() -> MainWindow:
    """The main window with its own engine process (started on the first load)."""
    from desktop.chat.sidebar import UNDO_SECONDS
    from desktop.engines.bridge import EngineBridge
    from desktop.window.main_window import MainWindow
    from model_runtime.conversations.store import default_store

    store = default_store()
    try:
        store.purge_deleted(older_than_seconds=UNDO_SECONDS)  # deletions the app closed on
        return MainWindow(EngineBridge(), store)
    except BaseException:
        store.close()
        raise


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from desktop.dialogs.crash_reporter import CrashReporter

    reporter = CrashReporter()
    reporter.install()  # from here on, an unexpected exception leaves a report
    try:
        return run(args, reporter)
    finally:
        reporter.uninstall()


def run(args: argparse.Namespace, reporter: CrashReporter) -> int:
    """Show the window, then the welcome (first run) or earlier crash reports, and run."""
    from PySide6.QtCore import Qt, QTimer

    from desktop.common.error_messages import describe
    from desktop.window.automation import ScriptedRun, process_age
    from model_runtime.paths import is_first_run, mark_welcomed

    app = create_application()
    try:
        window = create_window()
    except (PonderError, OSError) as exc:  # a newer or damaged database, a full or read-only disk
        return cant_start(exc)
    reporter.expected_error.connect(  # queued: the error may come from any thread
        lambda exc: window.banner.show_error(*describe(exc)), Qt.ConnectionType.QueuedConnection
    )
    reporter.error_survived.connect(window.show_survived_error, Qt.ConnectionType.QueuedConnection)
    window.show()
    scripted = args.ask is not None or args.screenshot is not None or args.quit_when_done
    if scripted:
        ScriptedRun(
            window, ask=args.ask, screenshot=args.screenshot, quit_when_done=args.quit_when_done
        ).start(process_age())
    else:
        QTimer.singleShot(0, lambda: reporter.offer_pending(window))
        if is_first_run():
            QTimer.singleShot(0, window.show_welcome)
            with contextlib.suppress(OSError):  # a read-only config folder: welcomed again
                mark_welcomed()
    if args.model:
        window.load_model(args.model)
    elif args.starter:
        window.load_starter()
    with reporter.running():  # an exception in a slot is an error the app goes on after
        return int(app.exec())


def cant_start(exc: BaseException) -> int:
    """Say that Ponder's data can't be used, where, and what to do; nothing was changed."""
    from desktop.dialogs.cant_start import CantStartDialog
    from model_runtime.paths import data_dir

    CantStartDialog(exc, data_dir(create=False)).exec()
    return 1
