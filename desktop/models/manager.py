"""The model manager: find a model (Recommended, Search), download it, keep and load it, or
chat with a remote engine instead (Remote engines, the same list as in Settings).

A non-modal dialog: downloads belong to the app's DownloadBridge and go on while chatting or
with the dialog closed. Every Hub request and every file hash runs on a worker thread.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.common.background import Tasks
from desktop.common.inline_notice import InlineNotice
from desktop.common.throttle import Throttle
from desktop.engines.endpoints_tab import EndpointsTab
from desktop.models.catalog_tab import RecommendedTab
from desktop.models.download_bridge import DownloadBridge
from desktop.models.downloads_tab import RUNNING, DownloadsTab
from desktop.models.search_tab import SearchTab
from desktop.models.store_tab import StoreTab
from desktop.models.token_row import TokenRow
from model_runtime.credentials import NO_KEY_STORE
from model_runtime.hardware.detect import HardwareInfo, detect_hardware
from model_runtime.models.downloads import DownloadRequest
from model_runtime.progress import Progress


class ModelManagerDialog(QDialog):
    """Tabs: Recommended, Search, On this computer, Remote engines, Downloads; the Hub token."""

    load_requested = Signal(str)  # the model file to load
    remote_requested = Signal(object)  # an Endpoint to chat with instead
    hardware_ready = Signal(object)  # HardwareInfo, once detected

    def __init__(
        self,
        downloads: DownloadBridge,
        parent: QWidget | None = None,
        *,
        hardware: HardwareInfo | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("modelManager")
        self.setWindowTitle("Models")
        self.resize(960, 640)
        self.downloads = downloads
        self.tasks = Tasks(self)
        self.hardware: HardwareInfo | None = None

        self.recommended = RecommendedTab(self.tasks)
        self.search = SearchTab(self.tasks)
        self.store_tab = StoreTab(downloads, self.tasks)
        self.downloads_tab = DownloadsTab(downloads)
        self.remote_tab = EndpointsTab()
        self.remote_tab.use_requested.connect(self.remote_requested)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.recommended, "Recommended")
        self.tabs.addTab(self.search, "Search")
        self.tabs.addTab(self.store_tab, "On this computer")
        self.tabs.addTab(self.remote_tab, "Remote engines")
        self.tabs.addTab(self.downloads_tab, "Downloads")
        self.notice = InlineNotice(self)
        self.token_row = TokenRow(self.tasks, self)
        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setObjectName("managerRule")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        bottom = QVBoxLayout()
        bottom.setContentsMargins(12, 0, 12, 0)
        bottom.addWidget(self.notice)
        bottom.addWidget(self.token_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 12)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(line)
        layout.addLayout(bottom)
        buttons.setContentsMargins(12, 0, 12, 0)
        layout.addWidget(buttons)

        self._states = Throttle(self.refresh_states, 250, self)
        for tree in (self.recommended.tree, self.search.tree):
            tree.download_requested.connect(self.download)
            tree.load_requested.connect(self._load)
        self.store_tab.load_requested.connect(self._load)
        self.downloads_tab.load_requested.connect(self._load)
        self.store_tab.changed.connect(self._store_changed)
        downloads.progress.connect(self._on_progress)
        downloads.ended.connect(self._on_ended)
        self.token_row.saved.connect(self._token_saved)
        self.token_row.failed.connect(self.notice.show_problem)
        self.token_row.removed.connect(self.notice.clear_notice)

        if hardware is not None:
            self._set_hardware(hardware)
        else:
            self.tasks.start(
                lambda task: detect_hardware(with_build=False), on_result=self._set_hardware
            )
        self.refresh_states()

    # -- state -----------------------------------------------------------------------------

    def _set_hardware(self, hw: HardwareInfo) -> None:
        self.hardware = hw
        self.recommended.tree.set_hardware(hw)
        self.search.tree.set_hardware(hw)
        self.store_tab.set_hardware(hw)
        self.hardware_ready.emit(hw)

    def refresh_states(self) -> None:
        """Each quant's button follows the store and the running downloads."""
        stored = self.store_tab.models
        active = self.downloads.downloads()
        for tree in (self.recommended.tree, self.search.tree):
            tree.set_states(stored, active)
        running = sum(1 for p in active if p.state in RUNNING)
        index = self.tabs.indexOf(self.downloads_tab)
        self.tabs.setTabText(index, f"Downloads ({running})" if running else "Downloads")

    def _on_progress(self, progress: Progress) -> None:
        self._states()

    def _on_ended(self, progress: Progress) -> None:
        self.store_tab.refresh()
        self.refresh_states()

    def _store_changed(self) -> None:
        self.downloads_tab.refresh()
        self.refresh_states()

    def check_offline(self) -> None:
        """Follow offline mode (Settings → Privacy may have just switched it)."""
        self.search.check_offline()
        self.recommended.check_offline()
        self.refresh_states()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.check_offline()
        self.store_tab.refresh()
        self.downloads_tab.refresh()
        self.refresh_states()

    def closeEvent(self, event) -> None:
        self.tasks.cancel_all()  # listings and searches; downloads go on
        super().closeEvent(event)

    def _token_saved(self, account: str, in_memory: bool) -> None:
        if in_memory:
            self.notice.show_info(
                f"The token of {account} works until Ponder quits; it is kept in memory only, "
                f"never written to a file. {NO_KEY_STORE}"
            )
        else:
            self.notice.show_info(f"The token of {account} is saved in the system keyring.")

    # -- actions ---------------------------------------------------------------------------

    def download(self, repo_id: str, quant: str) -> str | None:
        """Queue a download of one quantization of a repository; its model id, or None."""
        try:
            model_id = self.downloads.add(DownloadRequest(repo_id, quant))
        except Exception as exc:
            self.notice.show_error(exc)
            return None
        self.notice.clear_notice()
        self.refresh_states()
        return model_id

    def _load(self, path: str) -> None:
        self.load_requested.emit(path)
        self.hide()
