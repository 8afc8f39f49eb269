"""The Search tab: GGUF repositories on the Hub, their popularity, and their quants with sizes."""

from __future__ import annotations

import re

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.common.background import Task, Tasks
from desktop.common.inline_notice import InlineNotice
from desktop.models.catalog_tab import OFFLINE_NOTE
from desktop.models.quant_tree import QuantRow, QuantTree
from model_runtime import netlog
from model_runtime.models import hub
from model_runtime.models.hub import HubModel, RepoListing
from model_runtime.units import count_text

REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
LIMIT = 30


def rows_of(listing: RepoListing) -> list[QuantRow]:
    """A listed repository's GGUF quantizations with their sizes, smallest first."""
    return [
        QuantRow(c.name, c.size, len(c.files), choice=c, revision=listing.revision)
        for c in listing.quants
    ]


class SearchTab(QWidget):
    """Search the Hub (GGUF repos, most downloaded first); open a repo to see its file sizes."""

    results_shown = Signal(list)  # HubModel results
    listing_shown = Signal(object)  # RepoListing of an opened repository
    failed = Signal(object)  # the exception of a search or listing

    def __init__(self, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.query = QLineEdit(self)
        self.query.setPlaceholderText("Search GGUF models on the Hub, or type owner/name")
        self.query.setClearButtonEnabled(True)
        self.query.returnPressed.connect(self.search)
        self.search_button = QPushButton("Search", self)
        self.search_button.clicked.connect(self.search)
        self.notice = InlineNotice(self)
        self.tree = QuantTree(tasks, self)
        self.tree.setHeaderLabels(["Repository", "Size", "On this computer", ""])
        self.tree.itemExpanded.connect(self._expanded)
        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(self.search_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.notice)
        layout.addWidget(self.tree, 1)
        self._listed: set[str] = set()
        self._searching: Task | None = None
        self.check_offline()

    def check_offline(self) -> bool:
        """Disable searching in offline mode and say why; True when offline."""
        offline = netlog.is_offline()
        for widget in (self.query, self.search_button):
            widget.setEnabled(not offline)
        self.tree.set_online(not offline)
        if offline:
            self.notice.show_info(OFFLINE_NOTE)
        elif self.notice.text() == OFFLINE_NOTE:
            self.notice.clear_notice()
        return offline

    def search(self) -> None:
        """Search in the background; an owner/name query also opens that repository."""
        if self.check_offline() or self._searching is not None:
            return
        text = self.query.text().strip()
        self.notice.show_info(f"Searching the Hub for “{text}”…" if text else "Searching the Hub…")
        self.search_button.setEnabled(False)
        self._searching = self.tasks.start(
            lambda task: hub.search_models(text, limit=LIMIT),
            on_result=lambda results: self._show_results(text, results),
            on_error=self._failed,
        )
        self._searching.ended.connect(self._search_ended)

    def _failed(self, exc: BaseException) -> None:
        self.notice.show_error(exc)
        self.failed.emit(exc)

    def _search_ended(self) -> None:
        self._searching = None
        self.search_button.setEnabled(not netlog.is_offline())

    def _show_results(self, text: str, results: list[HubModel]) -> None:
        self.tree.remove_all()
        self._listed.clear()
        for result in results:
            self._add_repo(result)
        exact = self.tree.group(text)
        if exact is not None:
            exact.setExpanded(True)  # the repository asked for by name: list its sizes
        elif REPO_ID.match(text):
            self.list_repo(text)
        if results:
            if exact is None:
                self.notice.clear_notice()
        elif not REPO_ID.match(text):
            self.notice.show_info(f"No GGUF models on the Hub match “{text}”.")
        self.results_shown.emit(results)

    def _add_repo(self, result: HubModel) -> None:
        note = f"↓ {count_text(result.downloads)}   ♥ {count_text(result.likes)}"
        if result.gated:
            note += "   gated"
        tip = (
            f"{result.downloads:,} downloads, {result.likes:,} likes"
            + (f"\nUpdated {result.last_modified[:10]}" if result.last_modified else "")
            + (
                "\nGated: accept its conditions on the Hub, and save a token below."
                if result.gated
                else ""
            )
        )
        self.tree.add_group(result.repo_id, result.repo_id, note, tooltip=tip)
        self.tree.set_note(result.repo_id, note, tooltip=tip)
        self.tree.set_quants(result.repo_id, result.repo_id, [QuantRow(q) for q in result.quants])

    def _expanded(self, item: QTreeWidgetItem) -> None:
        if item.parent() is None and item.text(0) not in self._listed:
            self.list_repo(item.text(0))

    def list_repo(self, repo_id: str) -> None:
        """Fetch a repository's files (sizes) in the background and show its quants."""
        if self.check_offline():
            return
        self._listed.add(repo_id)
        self.tasks.start(
            lambda task: hub.repo_listing(repo_id),
            on_result=self._show_listing,
            on_error=lambda exc: self._listing_failed(repo_id, exc),
        )

    def _show_listing(self, listing: RepoListing) -> None:
        key = listing.repo_id
        group = self.tree.group(key)
        if group is None:
            group = self.tree.add_group(key, key)
        rows = rows_of(listing)
        self.tree.set_quants(key, listing.repo_id, rows)
        if not rows:
            self.tree.set_note(key, "no GGUF model files", error=True)
        group.setExpanded(True)
        if self.notice.kind == "info" and self.notice.text().startswith("Searching"):
            self.notice.clear_notice()
        self.listing_shown.emit(listing)

    def _listing_failed(self, repo_id: str, exc: BaseException) -> None:
        self._listed.discard(repo_id)
        if self.tree.group(repo_id) is not None:
            self.tree.set_note(repo_id, "could not be listed", error=True, tooltip=str(exc))
        self._failed(exc)
