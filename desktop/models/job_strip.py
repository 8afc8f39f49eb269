"""A one-line strip for a long job on a worker thread: what it does, a bar, and Cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from desktop.common.background import Task, Tasks
from model_runtime.progress import Progress


class JobStrip(QWidget):
    """Runs one job at a time (verify, import) and shows its progress; hidden when idle."""

    ended = Signal()

    def __init__(self, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.job: Task | None = None
        self.label = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(8)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self.hide()

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(
        self,
        what: str,
        work: Callable[[Task], Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Run `work(task)` (it reports Progress values and honours task.cancel)."""
        self.label.setText(what + "…")
        self.bar.setValue(0)
        self.cancel_button.setEnabled(True)
        self.show()
        self.job = self.tasks.start(
            work, on_result=on_result, on_error=on_error, on_progress=self._progress
        )
        self.job.ended.connect(self._ended)

    def _progress(self, progress: Progress) -> None:
        self.bar.setValue(int(1000 * progress.fraction))

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel.set()
            self.cancel_button.setEnabled(False)

    def _ended(self) -> None:
        self.job = None
        self.hide()
        self.ended.emit()
