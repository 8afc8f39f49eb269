"""The "On this computer" tab: stored models with Load, Verify, Delete, Reveal, and imports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.common.background import Task, Tasks
from desktop.common.inline_notice import InlineNotice
from desktop.engines.fit_badge import FitBadge, estimate_fit, plan_fit
from desktop.models.download_bridge import DownloadBridge
from desktop.models.import_choices import cached_quants, choose_cached_quant, choose_import_mode
from desktop.models.job_strip import JobStrip
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.models.download_queue import TERMINAL
from model_runtime.models.importing import ImportMode, import_from_hf_cache, import_gguf
from model_runtime.models.manifest import COMPLETE, DOWNLOADING, FAILED, PAUSED
from model_runtime.models.store import StoredModel, VerifyResult
from model_runtime.units import size_text

MODEL, QUANT, SIZE, STATE, FIT = range(5)
STATE_WORDS = {COMPLETE: "Ready", PAUSED: "Paused", FAILED: "Failed", DOWNLOADING: "Interrupted"}


class StoreTab(QWidget):
    """Every model in the store, with what can be done to it."""

    load_requested = Signal(str)  # model path
    changed = Signal()  # a model was deleted, imported or verified
    task_done = Signal()  # a verify or import ended (for tests and the status line)

    def __init__(self, bridge: DownloadBridge, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.store = bridge.store
        self.tasks = tasks
        self.hardware: HardwareInfo | None = None
        self._fits: dict[tuple[str, str], FitBadge | BaseException] = {}
        self._planning: Task | None = None
        self.models: list[StoredModel] = []

        self.table = QTableWidget(0, 5, self)
        self.table.setObjectName("storeTable")
        self.table.setHorizontalHeaderLabels(
            ["Model", "Quant", "Size", "State", "On this computer"]
        )
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(MODEL, QHeaderView.ResizeMode.Stretch)
        for column, width in ((QUANT, 90), (SIZE, 140), (STATE, 100), (FIT, 170)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            self.table.setColumnWidth(column, width)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.load_selected())

        self.load_button = QPushButton("Load", self)
        self.load_button.setObjectName("primaryButton")
        self.verify_button = QPushButton("Verify", self)
        self.delete_button = QPushButton("Delete…", self)
        self.reveal_button = QPushButton("Show in folder", self)
        self.reveal_button.setToolTip("Open the model's folder in the file manager")
        self.import_button = QPushButton("Import a GGUF…", self)
        self.cache_button = QPushButton("Find in Hugging Face cache…", self)
        self.load_button.clicked.connect(self.load_selected)
        self.verify_button.clicked.connect(self.verify_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.reveal_button.clicked.connect(self.reveal_selected)
        self.import_button.clicked.connect(lambda: self.import_file())
        self.cache_button.clicked.connect(self.find_in_hf_cache)

        self.notice = InlineNotice(self)
        self.job = JobStrip(tasks, self)
        self.job.ended.connect(self._job_ended)
        self.summary = QLabel(self)
        self.summary.setObjectName("tabNote")
        self.summary.setWordWrap(True)  # a long store path must not widen the dialog
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        actions = QHBoxLayout()
        for button in (
            self.load_button,
            self.verify_button,
            self.delete_button,
            self.reveal_button,
        ):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.import_button)
        actions.addWidget(self.cache_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.job)
        layout.addLayout(actions)
        layout.addWidget(self.summary)
        self.refresh()

    # -- the list --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the store again and redraw the table, keeping the selection."""
        chosen = self.selected()
        self.models = self.store.models()
        active = {
            p.model_id
            for p in self.bridge.downloads()
            if p.state in ("queued", "downloading", "checking")
        }
        self.table.setRowCount(len(self.models))
        for row, model in enumerate(self.models):
            man = model.manifest
            on_disk = self.store.disk_usage(model.model_id)
            size = size_text(man.total_size)
            if model.state != COMPLETE:
                size = f"{size_text(on_disk)} of {size}"
            state = (
                "Downloading"
                if model.model_id in active
                else STATE_WORDS.get(model.state, model.state)
            )
            cells = [man.name, man.quant or "—", size, state, ""]
            items = [QTableWidgetItem(text) for text in cells]
            for column, item in enumerate(items):
                self.table.setItem(row, column, item)
            items[SIZE].setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
            items[MODEL].setToolTip(
                f"{model.model_id}\n{model.folder}"
                + (f"\nFrom {man.repo_id}" if man.repo_id else "")
            )
            state_item = items[STATE]
            if model.state == FAILED:
                state_item.setForeground(QBrush(QColor("#b3261e")))
                state_item.setToolTip(man.error or "")
            elif model.state == COMPLETE:
                state_item.setToolTip("Every file matches its sha256.")
            self._show_fit(row, model)
        if chosen is not None:
            self.select(chosen.model_id)
        total = self.store.disk_usage() if self.store.root.exists() else 0
        count = len(self.models)
        self.summary.setText(
            f"{count} model{'s' if count != 1 else ''} · {size_text(total)} in {self.store.root}"
            if count
            else f"No models yet. Download one under Recommended or Search, or import a GGUF. "
            f"Models are kept in {self.store.root}."
        )
        self._update_buttons()
        self._plan_fits()

    def select(self, model_id: str) -> bool:
        """Select a model's row; False when it is not listed."""
        for row, model in enumerate(self.models):
            if model.model_id == model_id:
                self.table.selectRow(row)
                return True
        return False

    def selected(self) -> StoredModel | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.models):
            return None
        return self.models[rows[0].row()]

    def _update_buttons(self) -> None:
        model = self.selected()
        busy = self.job.busy
        self.load_button.setEnabled(model is not None and model.state == COMPLETE)
        self.verify_button.setEnabled(model is not None and not busy)
        self.delete_button.setEnabled(model is not None and not busy)
        self.reveal_button.setEnabled(model is not None)
        self.import_button.setEnabled(not busy)
        self.cache_button.setEnabled(not busy)

    # -- fit badges from the planner -------------------------------------------------------

    def set_hardware(self, hw: HardwareInfo) -> None:
        self.hardware = hw
        for row, model in enumerate(self.models):
            self._show_fit(row, model)
        self._plan_fits()

    def _fit_key(self, model: StoredModel) -> tuple[str, str]:
        return model.model_id, model.manifest.updated

    def _show_fit(self, row: int, model: StoredModel) -> None:
        item = self.table.item(row, FIT)
        if item is None:
            return
        found = self._fits.get(self._fit_key(model))
        if found is None and model.state != COMPLETE and self.hardware is not None:
            found = estimate_fit(model.manifest.total_size, self.hardware)  # no header yet
        if isinstance(found, FitBadge):
            item.setText(f"● {found.text}")
            item.setForeground(QBrush(QColor(found.color)))
            item.setToolTip(found.tooltip)
        elif found is not None:
            item.setText("unknown")
            item.setToolTip(str(found))
        else:
            item.setText("")

    def _plan_fits(self) -> None:
        """Plan each complete model from its header, in the background, once per version."""
        hw = self.hardware
        todo = [
            m for m in self.models if m.state == COMPLETE and self._fit_key(m) not in self._fits
        ]
        if hw is None or not todo or self._planning is not None:
            return

        def work(task: Task) -> None:
            for model in todo:
                if task.cancel.is_set():
                    return
                try:
                    found: FitBadge | BaseException = plan_fit(model.model_path, hw)
                except Exception as exc:
                    found = exc
                task.report((self._fit_key(model), found))

        self._planning = self.tasks.start(work, on_progress=self._on_fit)
        self._planning.ended.connect(self._planning_ended)

    def _on_fit(self, result: tuple[tuple[str, str], FitBadge | BaseException]) -> None:
        key, found = result
        self._fits[key] = found
        for row, model in enumerate(self.models):
            if self._fit_key(model) == key:
                self._show_fit(row, model)

    def _planning_ended(self) -> None:
        self._planning = None
        self._plan_fits()  # models that arrived meanwhile

    # -- actions ---------------------------------------------------------------------------

    def load_selected(self) -> None:
        model = self.selected()
        if model is not None and model.state == COMPLETE:
            self.load_requested.emit(str(model.model_path))

    def delete_selected(self) -> None:
        model = self.selected()
        if model is None:
            return
        size = size_text(self.store.disk_usage(model.model_id))
        answer = QMessageBox.question(
            self,
            "Delete this model?",
            f"Delete {model.manifest.name} ({model.manifest.quant or 'GGUF'}) and its files "
            f"({size})? This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        running = self.bridge.manager.progress(model.model_id)
        if running is not None and running.state not in TERMINAL:
            self.bridge.cancel(model.model_id)  # stops the download and deletes its files
            self.notice.show_info(f"Deleting {model.manifest.name} when its download stops.")
            return
        try:
            freed = self.store.delete(model.model_id)
        except Exception as exc:
            self.notice.show_error(exc)
            return
        self.notice.show_info(f"Deleted {model.manifest.name}; {size_text(freed)} freed.")
        self.refresh()
        self.changed.emit()

    def reveal_selected(self) -> None:
        model = self.selected()
        if model is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(model.folder)))

    def verify_selected(self) -> None:
        model = self.selected()
        if model is None or self.job.busy:
            return
        model_id = model.model_id
        self._start_job(
            f"Verifying {model.manifest.name}",
            lambda task: self.store.verify(model_id, on_progress=task.report, cancel=task.cancel),
            self._verified,
        )

    def _verified(self, result: VerifyResult) -> None:
        if result.ok:
            self.notice.show_info(result.message)
        else:
            self.notice.show_problem(result.message)

    def import_file(self, path: str | None = None, mode: ImportMode | None = None) -> None:
        """Import a local GGUF (any part of a split model) by copy, move or link."""
        if self.job.busy:
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import a GGUF model", "", "GGUF models (*.gguf);;All files (*)"
            )
            if not path:
                return
        if mode is None:
            mode = choose_import_mode(self, Path(path).name)
            if mode is None:
                return
        chosen, how = path, mode
        self._start_job(
            f"Importing {Path(path).name}",
            lambda task: import_gguf(
                chosen, mode=how, on_progress=task.report, cancel=task.cancel, store=self.store
            ),
            self._imported,
        )

    def find_in_hf_cache(self) -> None:
        """Offer the GGUF quants in the Hugging Face cache; import the chosen one by linking."""
        if not self.job.busy:
            self.tasks.start(lambda task: cached_quants(), on_result=self._offer_cached)

    def _offer_cached(self, found: list[tuple[str, str, int]]) -> None:
        chosen = choose_cached_quant(self, found)
        if chosen is not None:
            self.import_from_cache(*chosen)

    def import_from_cache(self, repo_id: str, quant: str) -> None:
        self._start_job(
            f"Importing {repo_id} {quant}",
            lambda task: import_from_hf_cache(
                repo_id, quant, on_progress=task.report, cancel=task.cancel, store=self.store
            ),
            self._imported,
        )

    def _imported(self, model: StoredModel) -> None:
        self.notice.show_info(f"Imported {model.manifest.name}; it is ready to load.")
        self.refresh()
        self.select(model.model_id)
        self.changed.emit()

    def _start_job(
        self, what: str, work: Callable[[Task], Any], on_result: Callable[[Any], None]
    ) -> None:
        self.notice.clear_notice()
        self.job.start(what, work, on_result, self.notice.show_error)
        self._update_buttons()

    def _job_ended(self) -> None:
        self.refresh()
        self.task_done.emit()
