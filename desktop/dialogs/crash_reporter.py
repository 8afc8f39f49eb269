"""The GUI's side of crash handling: hooks installed at start, reports offered on the next one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QWidget

from desktop.dialogs.crash import CrashReportsDialog
from model_runtime.crash_log import (
    CrashHandler,
    CrashReport,
    all_reports,
    crash_dir,
    mark_offered,
    pending_reports,
)


class CrashReporter(QObject):
    """Owns the CrashHandler. Its signals may be emitted on any thread: connect them queued."""

    expected_error = Signal(object)  # a PonderError nobody caught: shown in words, no report
    report_written = Signal(str)  # the path of a new report (a crash, or an error survived)
    error_survived = Signal(str)  # a report's summary: an error Ponder went on after

    def __init__(self, folder: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = folder or crash_dir()
        self.handler = CrashHandler(
            self.folder,
            on_expected=self._relay_expected,
            on_report=self._relay_report,
        )

    def _relay_report(self, path: Path) -> None:
        self.report_written.emit(str(path))
        report = CrashReport(path)
        if report.survived:
            self.error_survived.emit(report.summary)

    def _relay_expected(self, exc: BaseException) -> None:
        self.expected_error.emit(exc)

    def install(self) -> None:
        self.handler.install()

    def uninstall(self) -> None:
        self.handler.uninstall()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Around the event loop: an exception in a slot is an error Ponder survives, reported
        as such, and not offered at the next start as a crash."""
        with self.handler.running():
            yield

    def offer_pending(self, parent: QWidget | None) -> CrashReportsDialog | None:
        """Show the reports of earlier runs that were not offered yet (non-modal); None if none."""
        reports = pending_reports(self.folder)
        if not reports:
            return None
        mark_offered(reports, self.folder)
        dialog = CrashReportsDialog(reports, self.folder, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog


def show_all_reports(parent: QWidget | None, folder: Path | None = None) -> CrashReportsDialog:
    """Help → Error reports: every report kept, crashes and errors Ponder survived."""
    folder = folder or crash_dir()
    dialog = CrashReportsDialog(all_reports(folder), folder, parent, crashed=False)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
