"""The Recommended tab: the DeepSeek-R1 catalog, each model's quantizations with Hub sizes.

The sizes the Hub gave last are kept (model_runtime.models.seen_sizes) and shown, with their
date, until the Hub answers again, and whenever it can't: offline, or with no network.
"""

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
from model_runtime.errors import DownloadError, NoNetwork, OfflineMode, RepoNotFound
from model_runtime.models import hub
from model_runtime.models.catalog import CatalogModel, load_catalog
from model_runtime.models.seen_sizes import (
    SeenSizes,
    load_seen_sizes,
    now_text,
    save_seen_sizes,
)
from model_runtime.planning.recommend import BITS_PER_WEIGHT, approx_size

CHECKING = "checking the Hub…"
OFFLINE_NOTE = (
    "Offline mode is on, so Ponder makes no network connection: nothing is looked up or "
    "downloaded from the Hugging Face Hub. Models already on this computer still work."
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
        except (OfflineMode, NoNetwork):  # the same for every repository: stop asking
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


def _plain_rows(model: CatalogModel, *, pending: bool = True) -> list[QuantRow]:
    """Rows without sizes: still to be asked of the Hub (pending), or not known (about how
    big, from the parameter count)."""
    return [
        QuantRow(
            q,
            recommended=q == model.recommended_quant,
            pending=pending,
            approx_size=approx_size(model, q) if q in BITS_PER_WEIGHT else None,
        )
        for q in model.quants
    ]


def seen_of(listed: Listed) -> SeenSizes | None:
    """What to keep of a listing: its repository and the size of each offered quant."""
    if listed.error is not None or not listed.repo_id:
        return None
    quants = {r.name: (r.size, r.parts) for r in listed.rows if r.offered and r.size is not None}
    return SeenSizes(listed.repo_id, now_text(), quants)


def rows_from_seen(model: CatalogModel, seen: SeenSizes) -> list[QuantRow]:
    """A model's rows with the sizes last seen (no files: those come with the next listing)."""
    rows = []
    for quant in model.quants:
        size, parts = seen.quants.get(quant, (None, 1))
        rows.append(
            QuantRow(
                quant,
                size,
                parts,
                offered=quant in seen.quants,
                recommended=quant == model.recommended_quant,
            )
        )
    return rows


class RecommendedTab(QWidget):
    """Catalog models; sizes come from the Hub on a worker thread when the tab is first shown,
    and meanwhile (or offline) from the last answer the Hub gave."""

    listed = Signal(object)  # Listed, as each model's answer arrives
    listing_done = Signal()

    def __init__(self, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.models = load_catalog()
        self.answered: set[str] = set()  # catalog ids whose Hub listing has come back
        self.seen = load_seen_sizes()  # the sizes the Hub gave last, by catalog id
        self._task: Task | None = None
        self._fetched = False
        self._offline: bool | None = None  # offline mode as last applied
        self._stale: set[str] = set()  # catalog ids whose rows show an error or "checking"
        self._again = False  # asked to list while a listing runs: list again when it ends
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
            self._show_seen(model)
        self.tree.expandAll()
        top = QHBoxLayout()
        top.addWidget(self.intro, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(self.tree, 1)

    def _show_seen(self, model: CatalogModel) -> None:
        """A model's rows as the Hub gave them last, with that date; plain rows if never."""
        seen = self.seen.get(model.id)
        self._stale.discard(model.id)
        if seen is None:
            # the first repo until the Hub says otherwise: stored models show Load offline too
            self.tree.set_quants(model.id, model.repos[0].repo_id, _plain_rows(model))
            self.tree.set_note(model.id, "")
            return
        self.tree.set_quants(model.id, seen.repo_id, rows_from_seen(model, seen))
        self.tree.set_note(
            model.id,
            f"sizes of {seen.date_text}",
            tooltip=f"The sizes {seen.repo_id} had on the Hub on {seen.date_text}",
        )

    def seen_note(self) -> str:
        """A sentence on when the Hub gave the sizes shown, where some are from before."""
        shown = sorted(
            (s for k, s in self.seen.items() if k not in self.answered), key=lambda s: s.checked
        )
        if not shown:
            return ""
        first, last = shown[0].date_text, shown[-1].date_text
        when = f"on {first}" if first == last else f"between {first} and {last}"
        return f" The sizes shown are those the Hub gave {when}."

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._fetched:
            self.fetch_sizes()

    def check_offline(self) -> None:
        """Follow offline mode when it changed: going offline clears errors at once and shows
        the sizes last seen; coming online asks the Hub again if the tab is on screen."""
        offline = netlog.is_offline()
        if offline == self._offline:
            return
        if offline or self.isVisible():
            self.fetch_sizes()
        else:
            self._offline = offline
            self._fetched = False  # ask the Hub when shown

    def fetch_sizes(self) -> None:
        """List every catalog model's repository in the background (nothing when offline)."""
        self._fetched = True
        offline = self._offline = netlog.is_offline()
        self.tree.set_online(not offline)
        self.refresh_button.setEnabled(not offline)
        if offline:
            self._fetched = False  # ask the Hub when shown again online
            self._show_unreachable(OFFLINE_NOTE)
            return
        if self._task is not None:
            self._again = True
            return
        self._again = False
        self.notice.clear_notice()
        for model in self.models:
            self.tree.set_note(model.id, CHECKING)
            self._stale.add(model.id)
        self.refresh_button.setEnabled(False)
        self._task = self.tasks.start(
            self._list_all,
            on_result=self._on_result,
            on_error=self._on_error,
            on_progress=self._on_listed,
        )
        self._task.ended.connect(self._on_done)

    def _list_all(self, task: Task) -> bool:
        """True when every model was listed; False when the task was cancelled (dialog closed).
        Each answer is kept for the next time the Hub can't be asked."""
        fresh: dict[str, SeenSizes] = {}
        try:
            for model in self.models:
                if task.cancel.is_set():
                    return False
                listed = list_catalog_model(model)
                seen = seen_of(listed)
                if seen is not None:
                    fresh[model.id] = seen
                task.report(listed)
            return True
        finally:
            save_seen_sizes(fresh)

    def _on_result(self, complete: bool) -> None:
        if not complete:  # closed midway: list again when shown again
            self._fetched = False
            self._restore_stale()

    def _on_listed(self, listed: Listed) -> None:
        model = next(m for m in self.models if m.id == listed.model_id)
        self.answered.add(listed.model_id)
        self._stale.discard(listed.model_id)
        if listed.error is not None:
            title, message = describe(listed.error)
            if listed.model_id not in self.seen:  # no sizes will come: "—", not "…"
                self.tree.set_quants(listed.model_id, None, _plain_rows(model, pending=False))
            self.tree.set_note(listed.model_id, title, error=True, tooltip=message)
            self._stale.add(listed.model_id)
        else:
            owner = (listed.repo_id or "").split("/")[0]
            self.tree.set_note(
                listed.model_id, f"from {owner}", tooltip=f"Files from {listed.repo_id}"
            )
            self.tree.set_quants(listed.model_id, listed.repo_id, listed.rows)
            seen = seen_of(listed)
            if seen is not None:
                self.seen[listed.model_id] = seen
        self.listed.emit(listed)

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, OfflineMode):
            self.tree.set_online(False)
            self._show_unreachable(OFFLINE_NOTE)
        elif isinstance(exc, NoNetwork):  # like offline until the Hub is checked again
            self.tree.set_online(False, "You're offline: the Hub can't be reached.")
            title, message = describe(exc)
            self._show_unreachable(f"{title}. {message}", error=True)
        else:
            self.notice.show_error(exc)
            self._restore_stale()

    def _show_unreachable(self, text: str, *, error: bool = False) -> None:
        """Say why the Hub can't be asked; models with an error or "checking" show the sizes
        last seen instead."""
        self._restore_stale()
        words = text + self.seen_note()
        if error:
            self.notice.show_problem(words)
        else:
            self.notice.show_info(words)

    def _restore_stale(self) -> None:
        for model in self.models:
            if model.id in self._stale:
                self._show_seen(model)

    def _on_done(self) -> None:
        self._task = None
        self.refresh_button.setEnabled(not netlog.is_offline())
        if self._again and self.isVisible():
            self.fetch_sizes()
        else:
            self._again = False
            self.listing_done.emit()
