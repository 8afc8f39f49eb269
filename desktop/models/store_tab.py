"""The "On this computer" tab: stored models with Load, Verify, Delete, Reveal, and imports;
below them the models used where they lie (the starter, files opened by path), as references."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.common.background import Task, Tasks
from desktop.common.inline_notice import InlineNotice
from desktop.engines.fit_badge import FitBadge, estimate_fit, plan_fit
from desktop.models.download_bridge import DownloadBridge
from desktop.models.import_choices import cached_quants, choose_cached_quant, choose_import_mode
from desktop.models.job_strip import JobStrip
from desktop.models.store_rows import (
    FIT,
    MODEL,
    QUANT,
    SIZE,
    STATE,
    reference_items,
    show_fit,
    stored_items,
)
from model_runtime.gguf.reader import GgufInfo, read_gguf_info
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.llama.architectures import check_runnable
from model_runtime.models.download_queue import TERMINAL
from model_runtime.models.importing import ImportMode, import_from_hf_cache, import_gguf
from model_runtime.models.manifest import COMPLETE
from model_runtime.models.references import ModelReference, forget_recent_model, model_references
from model_runtime.models.store import StoredModel, VerifyResult
from model_runtime.units import size_text

FitKey = tuple[str, str]  # (model id or file path, its version)


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
        self._fits: dict[FitKey, FitBadge | BaseException] = {}
        self._planning: Task | None = None
        self.models: list[StoredModel] = []
        self.references: list[ModelReference] = []  # listed below the stored models
        self._sizes: dict[Path, int | None] = {}  # each reference's size; None: missing
        self._checking = False  # a file to import is being read

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
        self.summary.setWordWrap(True)

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
        """Read the store and the references again and redraw the table, keeping the selection."""
        chosen = self._selected_key()
        self.models = self.store.models()
        self.references = model_references(self.store.root)
        self._sizes = {ref.path: _size_of(ref.path) for ref in self.references}
        active = {
            p.model_id
            for p in self.bridge.downloads()
            if p.state in ("queued", "downloading", "checking")
        }
        self.table.setRowCount(len(self.models) + len(self.references))
        for row, model in enumerate(self.models):
            on_disk = self.store.disk_usage(model.model_id)
            items = stored_items(model, on_disk, model.model_id in active)
            for column, item in enumerate(items):
                self.table.setItem(row, column, item)
            self._show_fit(row)
        for row, ref in enumerate(self.references, len(self.models)):
            for column, item in enumerate(reference_items(ref, self._sizes[ref.path])):
                self.table.setItem(row, column, item)
            self._show_fit(row)
        if chosen is not None:
            self._select_key(chosen)
        self.summary.setText(self._summary_text())
        self._update_buttons()
        self._plan_fits()

    def _summary_text(self) -> str:
        total = self.store.disk_usage() if self.store.root.exists() else 0
        count = len(self.models)
        text = (
            f"{count} model{'s' if count != 1 else ''} · {size_text(total)} in {self.store.root}"
            if count
            else f"No models yet. Download one under Recommended or Search, or import a GGUF. "
            f"Models are kept in {self.store.root}."
        )
        if self.references:
            text += ". " if count else " "
            text += "References (the starter model, files you opened) are used where they lie."
        return text

    def select(self, model_id: str) -> bool:
        """Select a model's row; False when it is not listed."""
        for row, model in enumerate(self.models):
            if model.model_id == model_id:
                self.table.selectRow(row)
                return True
        return False

    def select_reference(self, path: str | Path) -> bool:
        """Select a reference's row by its file; False when it is not listed."""
        for row, ref in enumerate(self.references, len(self.models)):
            if ref.path == Path(path):
                self.table.selectRow(row)
                return True
        return False

    def _selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return rows[0].row() if rows else None

    def selected(self) -> StoredModel | None:
        """The stored model selected, if a stored model is."""
        row = self._selected_row()
        return self.models[row] if row is not None and row < len(self.models) else None

    def selected_reference(self) -> ModelReference | None:
        """The reference selected, if a reference is."""
        row = self._selected_row()
        if row is None or not len(self.models) <= row < len(self.models) + len(self.references):
            return None
        return self.references[row - len(self.models)]

    def _selected_key(self) -> tuple[str, str] | None:
        model, ref = self.selected(), self.selected_reference()
        if model is not None:
            return "model", model.model_id
        return ("reference", str(ref.path)) if ref is not None else None

    def _select_key(self, key: tuple[str, str]) -> None:
        kind, value = key
        if kind == "model":
            self.select(value)
        else:
            self.select_reference(value)

    def _update_buttons(self) -> None:
        model, ref = self.selected(), self.selected_reference()
        busy = self.job.busy
        usable_ref = ref is not None and self._sizes.get(ref.path) is not None
        self.load_button.setEnabled((model is not None and model.state == COMPLETE) or usable_ref)
        self.verify_button.setEnabled(model is not None and not busy)
        self.verify_button.setToolTip(
            "A reference has no recorded sha256 to check it against." if ref is not None else ""
        )
        self.delete_button.setText("Remove from list" if ref is not None else "Delete…")
        self.delete_button.setEnabled(
            (model is not None and not busy) or (ref is not None and not ref.starter)
        )
        self.delete_button.setToolTip(
            "Take it off this list; the file itself is left alone." if ref is not None else ""
        )
        folder = ref is not None and ref.path.parent.is_dir()
        self.reveal_button.setEnabled(model is not None or folder)
        self.import_button.setEnabled(not busy and not self._checking)
        self.cache_button.setEnabled(not busy)

    # -- fit badges from the planner -------------------------------------------------------

    def set_hardware(self, hw: HardwareInfo) -> None:
        self.hardware = hw
        for row in range(self.table.rowCount()):
            self._show_fit(row)
        self._plan_fits()

    def _fit_job(self, row: int) -> tuple[FitKey, Path] | None:
        """What to plan for a row: its key (by version) and its file; None when not loadable."""
        if row < len(self.models):
            model = self.models[row]
            key = (model.model_id, model.manifest.updated)
            return (key, model.model_path) if model.state == COMPLETE else None
        ref = self.references[row - len(self.models)]
        size = self._sizes.get(ref.path)
        if size is None:
            return None
        with contextlib.suppress(OSError):
            return (str(ref.path), str(ref.path.stat().st_mtime_ns)), ref.path
        return None

    def _show_fit(self, row: int) -> None:
        item = self.table.item(row, FIT)
        if item is None:
            return
        job = self._fit_job(row)
        found = self._fits.get(job[0]) if job is not None else None
        model = self.models[row] if row < len(self.models) else None
        if found is None and model is not None and model.state != COMPLETE and self.hardware:
            found = estimate_fit(model.manifest.total_size, self.hardware)  # no header yet
        show_fit(item, found)

    def _plan_fits(self) -> None:
        """Plan each loadable model from its header, in the background, once per version."""
        hw = self.hardware
        jobs = [self._fit_job(row) for row in range(self.table.rowCount())]
        todo = [job for job in jobs if job is not None and job[0] not in self._fits]
        if hw is None or not todo or self._planning is not None:
            return

        def work(task: Task) -> None:
            for key, path in todo:
                if task.cancel.is_set():
                    return
                try:
                    found: FitBadge | BaseException = plan_fit(path, hw)
                except Exception as exc:
                    found = exc
                task.report((key, found))

        self._planning = self.tasks.start(work, on_progress=self._on_fit)
        self._planning.ended.connect(self._planning_ended)

    def _on_fit(self, result: tuple[FitKey, FitBadge | BaseException]) -> None:
        key, found = result
        self._fits[key] = found
        for row in range(self.table.rowCount()):
            job = self._fit_job(row)
            if job is not None and job[0] == key:
                self._show_fit(row)

    def _planning_ended(self) -> None:
        self._planning = None
        self._plan_fits()  # models that arrived meanwhile

    # -- actions ---------------------------------------------------------------------------

    def load_selected(self) -> None:
        model, ref = self.selected(), self.selected_reference()
        if model is not None and model.state == COMPLETE:
            self.load_requested.emit(str(model.model_path))
        elif ref is not None and ref.exists:  # a missing file is never loaded
            self.load_requested.emit(str(ref.path))

    def delete_selected(self) -> None:
        ref = self.selected_reference()
        if ref is not None and not ref.starter:
            forget_recent_model(ref.path)
            self.notice.show_info(f"Removed {ref.name} from the list; the file is left alone.")
            self.refresh()
            return
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
        model, ref = self.selected(), self.selected_reference()
        folder = model.folder if model is not None else ref.path.parent if ref else None
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

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
        """Import a local GGUF (any part of a split model) by copy, move or link: its header is
        read first, off the GUI thread; a file that is no GGUF model is refused with why."""
        if self.job.busy or self._checking:
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import a GGUF model", "", "GGUF models (*.gguf);;All files (*)"
            )
            if not path:
                return
        chosen = path
        self._checking = True
        self.notice.show_info(f"Reading {Path(chosen).name}…")
        self._update_buttons()
        self.tasks.start(
            lambda task: _read_for_import(chosen),
            on_result=lambda info: self._import_checked(chosen, mode, info),
            on_error=self._import_refused,
        )

    def _import_checked(self, path: str, mode: ImportMode | None, info: GgufInfo) -> None:
        self._end_check()
        self.notice.clear_notice()
        if mode is None:
            mode = choose_import_mode(self, Path(path).name)
            if mode is None:
                return
        how = mode
        self._start_job(
            f"Importing {Path(path).name}",
            lambda task: import_gguf(
                path, mode=how, on_progress=task.report, cancel=task.cancel, store=self.store
            ),
            self._imported,
        )

    def _import_refused(self, exc: BaseException) -> None:
        self._end_check()
        self.notice.show_problem(f"Not imported: {str(exc).rstrip('.')}.")
        self.task_done.emit()

    def _end_check(self) -> None:
        self._checking = False
        self._update_buttons()

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


def _read_for_import(path: str) -> GgufInfo:
    """A file's GGUF header, once it proved a model this llama.cpp can run (ModelFileError)."""
    info = read_gguf_info(path)
    check_runnable(info)
    return info


def _size_of(path: Path) -> int | None:
    """A reference's size, or None when its file is gone."""
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None
