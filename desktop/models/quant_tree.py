"""A tree of models and their quantizations: size, fit badge, and Download / Resume / Load."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHeaderView, QPushButton, QTreeWidget, QTreeWidgetItem, QWidget

from desktop.common.background import Tasks
from desktop.common.colours import current
from desktop.common.style_state import set_state
from desktop.engines.fit_badge import FitBadge, assume_gpus_usable, badge_from_plan, estimate_fit
from model_runtime.gguf.quants import QuantChoice
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.models.manifest import COMPLETE
from model_runtime.models.store import StoredModel, model_id_for
from model_runtime.planning.hub_fit import plan_hub_quant
from model_runtime.progress import Progress
from model_runtime.units import size_text

NAME, SIZE, FIT, ACTION = range(4)
ROW_HEIGHT = 28  # room for a button in each row
ACTIVE = ("queued", "downloading", "checking", "verifying")
CHECKED_NOTE = "Planned from the model's header, read from the Hub:"
ESTIMATE_NOTE = "Select the row to read its header (a few MiB) and plan it exactly."
APPROX_NOTE = (
    "Estimated from the model's parameter count and this quantization's usual bits per "
    "weight: the Hub has not been reached yet to give the exact size."
)


@dataclass(frozen=True)
class QuantRow:
    """One quantization as a row: its name, total size (None until listed) and part count."""

    name: str
    size: int | None = None
    parts: int = 1
    offered: bool = True  # False: the repository has no such files
    recommended: bool = False
    choice: QuantChoice | None = None  # its files on the Hub, once listed
    revision: str = ""  # the commit they were listed at
    pending: bool = True  # its size may still come from the Hub ("…"); False: it won't ("—")
    approx_size: int | None = None  # where no size will come: about how big (catalog models)


class QuantTree(QTreeWidget):
    """Top-level rows are models (or repos); their children are quantizations."""

    download_requested = Signal(str, str)  # repo_id, quant
    load_requested = Signal(str)  # model path
    fit_checked = Signal(str, str)  # repo_id, quant: its header was read (or could not be)

    def __init__(self, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.setObjectName("quantTree")
        self.setColumnCount(4)
        self.setHeaderLabels(["Model", "Size", "On this computer", ""])
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(False)
        self.setSelectionMode(QTreeWidget.SelectionMode.SingleSelection)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for column, width in ((SIZE, 90), (FIT, 190), (ACTION, 110)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            self.setColumnWidth(column, width)
        self.hardware: HardwareInfo | None = None
        self.online = True
        self.offline_reason = ""  # why downloads are off, for their tooltip
        self._groups: dict[str, QTreeWidgetItem] = {}
        self._repos: dict[str, str] = {}  # group key -> repo id of its quant rows
        self._stored: dict[str, StoredModel] = {}
        self._active: dict[str, Progress] = {}
        # the planner's badges of Hub quants whose header was read, by (repo id, quant)
        self.checked: dict[tuple[str, str], FitBadge] = {}
        self._checking: set[tuple[str, str]] = set()
        self.currentItemChanged.connect(lambda item, _previous: self.check_fit(item))

    # -- building --------------------------------------------------------------------------

    def add_group(self, key: str, title: str, note: str = "", tooltip: str = "") -> QTreeWidgetItem:
        """A model (or repository) row; its quantizations go under it."""
        item = QTreeWidgetItem(self, [title, "", note, ""])
        item.setSizeHint(NAME, QSize(0, ROW_HEIGHT))
        font = QFont(item.font(NAME))
        font.setBold(True)
        item.setFont(NAME, font)
        item.setForeground(FIT, QBrush(QColor(current().muted)))
        if tooltip:
            item.setToolTip(NAME, tooltip)
        self._groups[key] = item
        return item

    def remove_all(self) -> None:
        """Remove every row."""
        self.clear()
        self._groups.clear()
        self._repos.clear()

    def group(self, key: str) -> QTreeWidgetItem | None:
        return self._groups.get(key)

    def set_note(self, key: str, note: str, *, error: bool = False, tooltip: str = "") -> None:
        """The words beside a model row: where its files come from, or what went wrong."""
        item = self._groups[key]
        item.setText(FIT, note)
        item.setToolTip(FIT, tooltip or note)
        item.setForeground(FIT, QBrush(QColor(current().error if error else current().muted)))

    def set_quants(self, key: str, repo_id: str | None, rows: list[QuantRow]) -> None:
        """Replace a model's quantization rows (repo_id None: not known yet)."""
        group = self._groups[key]
        group.takeChildren()
        if repo_id:
            self._repos[key] = repo_id
        for row in rows:
            label = row.name + (" · recommended" if row.recommended else "")
            if row.parts > 1:
                label += f" · {row.parts} parts"
            item = QTreeWidgetItem(group, [label, "", "", ""])
            item.setSizeHint(NAME, QSize(0, ROW_HEIGHT))
            item.setData(NAME, Qt.ItemDataRole.UserRole, row)
            item.setTextAlignment(SIZE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if row.offered:  # a view shows its item widgets itself: leave none to hide
                button = QPushButton(self)
                button.setObjectName("quantAction")
                button.clicked.connect(lambda _=False, k=key, r=row: self._clicked(k, r))
                self.setItemWidget(item, ACTION, button)
            self._show_row(key, item)

    def quant_item(self, key: str, quant: str) -> QTreeWidgetItem | None:
        """The row of one quantization of a model."""
        group = self._groups.get(key)
        children = [group.child(i) for i in range(group.childCount())] if group else []
        for child in children:
            if child is not None and self.row_of(child).name.upper() == quant.upper():
                return child
        return None

    def button(self, key: str, quant: str) -> QPushButton | None:
        """The Download / Resume / Load button of a quantization's row."""
        item = self.quant_item(key, quant)
        widget = self.itemWidget(item, ACTION) if item is not None else None
        return widget if isinstance(widget, QPushButton) else None

    @staticmethod
    def row_of(item: QTreeWidgetItem) -> QuantRow:
        return item.data(NAME, Qt.ItemDataRole.UserRole)

    # -- state -----------------------------------------------------------------------------

    def set_hardware(self, hw: HardwareInfo) -> None:
        self.hardware = hw
        self._refresh()

    def set_online(self, online: bool, reason: str = "Offline mode is on.") -> None:
        """Whether the Hub can be asked; when not, downloads are off and `reason` says why."""
        self.online = online
        self.offline_reason = "" if online else reason
        self._refresh()

    def set_states(self, stored: list[StoredModel], active: list[Progress]) -> None:
        """What the store holds and what is downloading: each row's button follows."""
        self._stored = {m.model_id: m for m in stored}
        self._active = {p.model_id: p for p in active if p.state in ACTIVE}
        self._refresh()

    def _refresh(self) -> None:
        for key, group in self._groups.items():
            for i in range(group.childCount()):
                child = group.child(i)
                if child is not None:
                    self._show_row(key, child)

    def _model_id(self, key: str, row: QuantRow) -> str | None:
        repo_id = self._repos.get(key)
        return model_id_for(repo_id, row.name.upper()) if repo_id else None

    def _show_row(self, key: str, item: QTreeWidgetItem) -> None:
        row = self.row_of(item)
        if not row.offered:
            item.setText(SIZE, "—")
            item.setText(FIT, "not offered")
            item.setForeground(FIT, QBrush(QColor(current().muted)))
            item.setToolTip(FIT, "The repository has no files of this quantization.")
        else:
            model_id = self._model_id(key, row)
            stored = self._stored.get(model_id) if model_id else None
            size = (
                row.size if row.size is not None or stored is None else stored.manifest.total_size
            )
            waiting = self.online and row.pending  # "…": the Hub is asked
            # a size the Hub never gave (offline on a first run): about how big, said so
            approx = size is None and not waiting and row.approx_size is not None
            size = row.approx_size if approx else size
            unknown = "…" if waiting else "—"
            shown = size_text(size) if size is not None else unknown
            item.setText(SIZE, f"≈ {shown}" if approx else shown)
            item.setToolTip(SIZE, APPROX_NOTE if approx else "")
            checked = None if approx else self.checked.get((self._repos.get(key, ""), row.name))
            if checked is not None:
                item.setText(FIT, f"✓ {checked.text}")
                item.setForeground(FIT, QBrush(QColor(checked.color)))
                item.setToolTip(FIT, f"{CHECKED_NOTE}\n{checked.tooltip}")
            elif size is not None and self.hardware is not None:
                badge = estimate_fit(size, self.hardware)
                item.setText(FIT, f"● {badge.text}")
                item.setForeground(FIT, QBrush(QColor(badge.color)))
                readable = row.choice is not None and self.online  # its header can be read
                note = APPROX_NOTE if approx else ESTIMATE_NOTE if readable else ""
                item.setToolTip(FIT, f"{badge.tooltip}\n{note}" if note else badge.tooltip)
            else:
                item.setText(FIT, "")
        button = self.itemWidget(item, ACTION)
        if isinstance(button, QPushButton):
            self._show_button(button, key, row)

    def check_fit(self, item: QTreeWidgetItem | None) -> None:
        """Plan a selected Hub quant from its header (a few MiB, on a worker thread): the
        badge goes from an estimate by size to the planner's verdict."""
        if item is None or item.parent() is None or self.hardware is None or not self.online:
            return
        key = next((k for k, g in self._groups.items() if g is item.parent()), None)
        row = self.row_of(item)
        repo_id = self._repos.get(key or "")
        if key is None or repo_id is None or row.choice is None or not row.revision:
            return
        wanted = (repo_id, row.name)
        if wanted in self.checked or wanted in self._checking:
            return
        self._checking.add(wanted)
        item.setText(FIT, "… reading its header")
        hardware, choice, revision = self.hardware, row.choice, row.revision
        self.tasks.start(
            lambda _task: badge_from_plan(
                plan_hub_quant(repo_id, revision, choice, assume_gpus_usable(hardware))
            ),
            on_result=lambda badge: self._checked(wanted, badge),
            on_error=lambda exc: self._check_failed(wanted, exc),
        )

    def _checked(self, wanted: tuple[str, str], badge: FitBadge) -> None:
        self._checking.discard(wanted)
        self.checked[wanted] = badge
        self._refresh()
        self.fit_checked.emit(*wanted)

    def _check_failed(self, wanted: tuple[str, str], exc: BaseException) -> None:
        self._checking.discard(wanted)
        self._refresh()
        for key, repo_id in self._repos.items():
            item = self.quant_item(key, wanted[1]) if repo_id == wanted[0] else None
            if item is not None:
                item.setToolTip(FIT, f"{item.toolTip(FIT)}\nIts header could not be read: {exc}")
        self.fit_checked.emit(*wanted)

    def _show_button(self, button: QPushButton, key: str, row: QuantRow) -> None:
        model_id = self._model_id(key, row)
        stored = self._stored.get(model_id) if model_id else None
        active = self._active.get(model_id) if model_id else None
        primary = stored is not None and stored.state == COMPLETE
        set_state(button, "primary", primary)
        if primary and stored is not None:
            button.setText("Load")
            button.setEnabled(True)
            button.setToolTip(str(stored.model_path))
        elif active is not None:
            button.setText(f"{active.fraction:.0%}" if active.total else "Queued")
            button.setEnabled(False)
            button.setToolTip("Downloading: see the Downloads tab.")
        else:
            button.setText("Resume" if stored is not None else "Download")
            ready = self.online and row.size is not None and model_id is not None
            button.setEnabled(ready)
            button.setToolTip(self.offline_reason)

    def _clicked(self, key: str, row: QuantRow) -> None:
        model_id = self._model_id(key, row)
        stored = self._stored.get(model_id) if model_id else None
        if stored is not None and stored.state == COMPLETE:
            self.load_requested.emit(str(stored.model_path))
        elif model_id is not None:
            self.download_requested.emit(self._repos[key], row.name)
