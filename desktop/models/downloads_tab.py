"""The Downloads tab: one row per download with its bar, bytes, speed, time left and buttons."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.common.inline_notice import InlineNotice
from desktop.common.style_state import set_state
from desktop.models.download_bridge import DownloadBridge
from model_runtime.errors import PonderError
from model_runtime.models.catalog import catalog_for_repo
from model_runtime.models.manifest import COMPLETE, DOWNLOADING, FAILED, PAUSED
from model_runtime.models.store import ModelStore
from model_runtime.progress import CANCELLED, CHECKING, QUEUED, VERIFYING, Progress
from model_runtime.units import eta_text, size_text, speed_text

RUNNING = (QUEUED, DOWNLOADING, CHECKING, VERIFYING)
STATE_WORDS = {
    QUEUED: "Queued",
    DOWNLOADING: "Downloading",
    CHECKING: "Checking the bytes already here",
    VERIFYING: "Verifying",
    PAUSED: "Paused",
    FAILED: "Failed",
    COMPLETE: "Complete · verified",
    CANCELLED: "Cancelled",
}


class DownloadRow(QFrame):
    """One download: its name, a progress bar, what it is doing, and Pause / Resume / Cancel."""

    pause_clicked = Signal(str)
    resume_clicked = Signal(str)
    cancel_clicked = Signal(str)
    load_clicked = Signal(str)

    def __init__(self, model_id: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("downloadRow")
        self.model_id = model_id
        self.state = ""
        self.model_path = ""
        self.named = False  # the title comes from the stored manifest
        self.title = QLabel(title, self)
        self.title.setObjectName("downloadTitle")
        self.title.setToolTip(model_id)
        self.detail = QLabel(self)
        self.detail.setObjectName("downloadDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.percent = QLabel(self)
        self.percent.setObjectName("downloadPercent")
        self.percent.setMinimumWidth(44)
        self.percent.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.pause_button = QPushButton("Pause", self)
        self.resume_button = QPushButton("Resume", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.load_button = QPushButton("Load", self)
        self.load_button.setObjectName("primaryButton")
        self.pause_button.clicked.connect(lambda: self.pause_clicked.emit(self.model_id))
        self.resume_button.clicked.connect(lambda: self.resume_clicked.emit(self.model_id))
        self.cancel_button.clicked.connect(lambda: self.cancel_clicked.emit(self.model_id))
        self.load_button.clicked.connect(lambda: self.load_clicked.emit(self.model_path))
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        for button in (self.pause_button, self.resume_button, self.cancel_button, self.load_button):
            top.addWidget(button)
        bar = QHBoxLayout()
        bar.addWidget(self.bar, 1)
        bar.addWidget(self.percent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(bar)
        layout.addWidget(self.detail)

    def show_progress(self, p: Progress, finished: bool = True) -> None:
        """Redraw from a Progress: bar, bytes of total, speed, time left, state, buttons.

        finished: the manager is done with this run (a pause or failure has landed).
        """
        self.state = p.state
        self.bar.setValue(int(1000 * p.fraction))
        self.percent.setText(f"{p.fraction:.0%}" if p.total else "")
        stopping = p.state not in RUNNING and not finished
        parts = [
            "Pausing…" if stopping and p.state == PAUSED else STATE_WORDS.get(p.state, p.state)
        ]
        if p.total:
            parts.append(f"{size_text(p.done)} of {size_text(p.total)}")
        if p.state == DOWNLOADING:
            parts += [t for t in (speed_text(p.speed), eta_text(p.eta)) if t]
        if p.file_count > 1 and p.state in RUNNING:
            parts.append(f"file {p.file_index} of {p.file_count}")
        text = " · ".join(parts)
        if p.message and p.state != COMPLETE:
            text += f"\n{p.message}"
        self.detail.setText(text)
        set_state(self.detail, "failed", p.state == FAILED)
        running = p.state in RUNNING
        self.pause_button.setVisible(running)
        self.resume_button.setVisible(p.state in (PAUSED, FAILED) and not stopping)
        self.cancel_button.setVisible(p.state not in (COMPLETE, CANCELLED) and not stopping)
        self.load_button.setVisible(p.state == COMPLETE and bool(self.model_path))


class DownloadsTab(QWidget):
    """Every download of this session, and those a quit left paused, failed or interrupted."""

    load_requested = Signal(str)

    def __init__(self, bridge: DownloadBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.rows: dict[str, DownloadRow] = {}
        self.notice = InlineNotice(self)
        self.empty = QLabel(
            "No downloads. Choose a model under Recommended or Search; downloads go on while "
            "you chat, and resume after a restart.",
            self,
        )
        self.empty.setObjectName("tabNote")
        self.empty.setWordWrap(True)
        self.list = QWidget(self)
        self.list.setObjectName("downloadList")
        self.list_layout = QVBoxLayout(self.list)
        self.list_layout.setContentsMargins(0, 0, 0, 0)
        self.list_layout.setSpacing(8)
        self.list_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setObjectName("downloadScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.list)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.empty)
        layout.addWidget(scroll, 1)
        bridge.progress.connect(self.show_progress)
        bridge.ended.connect(self.show_progress)
        self.refresh()

    @property
    def store(self) -> ModelStore:
        return self.bridge.store

    def refresh(self) -> None:
        """Rows for this session's downloads and for unfinished Hub models in the store."""
        known = {p.model_id for p in self.bridge.downloads()}
        for p in self.bridge.downloads():
            if p.state != CANCELLED:
                self.show_progress(p)
        for model in self.store.models():
            man = model.manifest
            if model.model_id in known or model.state == COMPLETE or not man.repo_id:
                continue
            state = PAUSED if model.state == DOWNLOADING else model.state
            done = self.store.partial_bytes(man)
            self.show_progress(
                Progress(model.model_id, state, done, man.total_size, message=man.error or "")
            )
        self.empty.setVisible(not self.rows)

    def row(self, model_id: str) -> DownloadRow | None:
        return self.rows.get(model_id)

    def show_progress(self, p: Progress) -> None:
        """Update (or add) a download's row; a cancelled download's row goes away."""
        row = self.rows.get(p.model_id)
        if p.state == CANCELLED:
            if row is not None:
                del self.rows[p.model_id]
                row.hide()
                row.deleteLater()
            self.empty.setVisible(not self.rows)
            return
        if row is None:
            title, row_named = self._title(p.model_id)
            row = DownloadRow(p.model_id, title, self.list)
            row.named = row_named
            row.pause_clicked.connect(self.pause)
            row.resume_clicked.connect(self.resume)
            row.cancel_clicked.connect(self.cancel)
            row.load_clicked.connect(self.load_requested)
            self.rows[p.model_id] = row
            self.list_layout.insertWidget(self.list_layout.count() - 1, row)
            self.empty.hide()
        elif not row.named:
            title, row.named = self._title(p.model_id)
            row.title.setText(title)
        if p.state == COMPLETE and not row.model_path:
            model = self.store.find(p.model_id)
            row.model_path = str(model.model_path) if model is not None else ""
        row.show_progress(p, self.bridge.finished(p.model_id))

    def _title(self, model_id: str) -> tuple[str, bool]:
        """The row's heading, and whether it came from the stored manifest (else the id)."""
        try:
            model = self.store.find(model_id)
        except PonderError:
            model = None
        if model is not None:
            man = model.manifest
            return (f"{man.name} · {man.quant}" if man.quant else man.name), True
        owner, _, rest = model_id.partition("--")
        repo, _, quant = rest.partition("--")
        known = catalog_for_repo(f"{owner}/{repo}") if repo else None
        name = known.name if known is not None else repo or model_id
        return (f"{name} · {quant}" if quant else name), False

    # -- buttons ---------------------------------------------------------------------------

    def pause(self, model_id: str) -> None:
        self.bridge.pause(model_id)

    def resume(self, model_id: str) -> None:
        try:
            self.bridge.resume(model_id)
        except Exception as exc:
            self.notice.show_error(exc)

    def cancel(self, model_id: str) -> None:
        """Stop a download and delete its bytes, after asking when some were downloaded."""
        row = self.rows.get(model_id)
        done = self.bridge.manager.progress(model_id)
        have = done.done if done is not None else self.store.disk_usage(model_id)
        if have and row is not None:
            answer = QMessageBox.question(
                self,
                "Cancel this download?",
                f"Cancel {row.title.text()} and delete the {size_text(have)} downloaded so far? "
                "Pause keeps them.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.bridge.cancel(model_id)
