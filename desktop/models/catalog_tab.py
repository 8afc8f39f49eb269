"""The Recommended tab: the DeepSeek-R1 catalog, each model's quantizations with Hub sizes."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.common.background import Task, Tasks
from desktop.common.error_messages import describe
from desktop.common.inline_notice import InlineNotice
from desktop.models.quant_tree import QuantRow, QuantTree
from model_runtime import netlog
from model_runtime.errors import DownloadError, OfflineMode, RepoNotFound
from model_runtime.models import hub
from model_runtime.models.catalog import CatalogModel, load_catalog

CHECKING = "checking the Hub…"
OFFLINE_NOTE = (
    "Offline mode is on, so Ponder makes no network connection: sizes and downloads from "
    "the Hugging Face Hub are unavailable. Models already on this computer still work."
)


@dataclass(frozen=True)
class Listed:
    """One catalog model's sizes, from the first of its repositories that offers it."""

    model_id: str
    repo_id: str | None
    rows: list[QuantRow]
    error: BaseException | None = None


def list_catalog_model(model: CatalogModel) -> Listed:
    """Ask the Hub for the model's repositories in order; the first with its quants wins."""
    problems: list[BaseException] = []
    for repo in model.repos:
        try:
            listing = hub.repo_listing(repo.repo_id)
        except OfflineMode:
            raise
        except DownloadError as exc:
            problems.append(exc)
            continue
        rows = []
        for quant in model.quants:
            choice = repo.files_for(listing.files, quant)
            rows.append(
                QuantRow(
                    quant,
                    choice.size if choice else None,
                    len(choice.files) if choice else 1,
                    offered=choice is not None,
                    recommended=quant == model.recommended_quant,
                    choice=choice,
                    revision=listing.revision,
                )
            )
        if any(r.offered for r in rows):
            return Listed(model.id, listing.repo_id, rows)
        problems.append(RepoNotFound(f"{repo.repo_id} offers none of {', '.join(model.quants)}."))
    return Listed(model.id, None, _plain_rows(model), problems[0] if problems else None)


def _plain_rows(model: CatalogModel) -> list[QuantRow]:
    return [QuantRow(q, recommended=q == model.recommended_quant) for q in model.quants]


class RecommendedTab(QWidget):
    """Catalog models; sizes come from the Hub on a worker thread when the tab is first shown."""

    listed = Signal(object)  # Listed, as each model's answer arrives
    listing_done = Signal()

    def __init__(self, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.models = load_catalog()
        self.answered: set[str] = set()  # catalog ids whose Hub listing has come back
        self.intro = QLabel(
            "DeepSeek-R1 and its distills, chosen for Ponder. Sizes come from the Hugging Face "
            "Hub; the badge says whether each file fits this computer.",
            self,
        )
        self.intro.setObjectName("tabNote")
        self.intro.setWordWrap(True)
        self.notice = InlineNotice(self)
        self.refresh_button = QPushButton("Check the Hub again", self)
        self.refresh_button.clicked.connect(self.fetch_sizes)
        self.tree = QuantTree(tasks, self)
        for model in self.models:
            tip = f"{model.notes}\n\n{model.usage}\n\nLicense: {model.license}"
            group = self.tree.add_group(model.id, model.name, tooltip=tip)
            group.setText(1, model.parameters)
            # the first repo until the Hub says otherwise: stored models show Load offline too
            self.tree.set_quants(model.id, model.repos[0].repo_id, _plain_rows(model))
        self.tree.expandAll()
        top = QHBoxLayout()
        top.addWidget(self.intro, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(self.tree, 1)
        self._task: Task | None = None
        self._fetched = False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._fetched:
            self.fetch_sizes()

    def fetch_sizes(self) -> None:
        """List every catalog model's repository in the background (nothing when offline)."""
        self._fetched = True
        offline = netlog.is_offline()
        self.tree.set_online(not offline)
        self.refresh_button.setEnabled(not offline)
        if offline:
            self.notice.show_info(OFFLINE_NOTE)
            return
        if self._task is not None:
            return
        self.notice.clear_notice()
        for model in self.models:
            self.tree.set_note(model.id, CHECKING)
        self.refresh_button.setEnabled(False)
        self._task = self.tasks.start(
            self._list_all,
            on_result=self._on_result,
            on_error=self._on_error,
            on_progress=self._on_listed,
        )
        self._task.ended.connect(self._on_done)

    def _list_all(self, task: Task) -> bool:
        """True when every model was listed; False when the task was cancelled (dialog closed)."""
        for model in self.models:
            if task.cancel.is_set():
                return False
            task.report(list_catalog_model(model))
        return True

    def _on_result(self, complete: bool) -> None:
        if not complete:  # closed midway: list again when shown again
            self._fetched = False
            self._clear_checking()

    def _on_listed(self, listed: Listed) -> None:
        self.answered.add(listed.model_id)
        if listed.error is not None:
            title, message = describe(listed.error)
            self.tree.set_note(listed.model_id, title, error=True, tooltip=message)
        else:
            owner = (listed.repo_id or "").split("/")[0]
            self.tree.set_note(
                listed.model_id, f"from {owner}", tooltip=f"Files from {listed.repo_id}"
            )
            self.tree.set_quants(listed.model_id, listed.repo_id, listed.rows)
        self.listed.emit(listed)

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, OfflineMode):
            self.tree.set_online(False)
            self.notice.show_info(OFFLINE_NOTE)
        else:
            self.notice.show_error(exc)
        self._clear_checking()

    def _clear_checking(self) -> None:
        for model in self.models:
            group = self.tree.group(model.id)
            if group is not None and group.text(2) == CHECKING:
                self.tree.set_note(model.id, "")

    def _on_done(self) -> None:
        self._task = None
        self.refresh_button.setEnabled(not netlog.is_offline())
        self.listing_done.emit()
