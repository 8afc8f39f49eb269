"""The rows of "On this computer": a model kept in the store, with its state, or a reference —
the starter model or a file opened by path, used where it lies (greyed as "Missing" once gone)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QTableWidgetItem

from desktop.common.colours import current
from desktop.engines.fit_badge import FitBadge
from model_runtime.gguf.quants import quant_label
from model_runtime.models.manifest import COMPLETE, DOWNLOADING, FAILED, PAUSED
from model_runtime.models.references import ModelReference
from model_runtime.models.store import StoredModel
from model_runtime.units import size_text

MODEL, QUANT, SIZE, STATE, FIT = range(5)
STATE_WORDS = {COMPLETE: "Ready", PAUSED: "Paused", FAILED: "Failed", DOWNLOADING: "Interrupted"}
REFERENCE = "Reference"
MISSING = "Missing"


def _items(cells: list[str]) -> list[QTableWidgetItem]:
    items = [QTableWidgetItem(text) for text in cells]
    items[SIZE].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return items


def stored_items(model: StoredModel, on_disk: int, downloading: bool) -> list[QTableWidgetItem]:
    """A stored model's cells: name, quant, size (of the whole, while incomplete), state."""
    man = model.manifest
    size = size_text(man.total_size)
    if model.state != COMPLETE:
        size = f"{size_text(on_disk)} of {size}"
    state = "Downloading" if downloading else STATE_WORDS.get(model.state, model.state)
    items = _items([man.name, man.quant or "—", size, state, ""])
    items[MODEL].setToolTip(
        f"{model.model_id}\n{model.folder}" + (f"\nFrom {man.repo_id}" if man.repo_id else "")
    )
    if model.state == FAILED:
        items[STATE].setForeground(QBrush(QColor(current().error)))
        items[STATE].setToolTip(man.error or "")
    elif model.state == COMPLETE:
        items[STATE].setToolTip("Every file matches its sha256.")
    return items


def reference_items(ref: ModelReference, size: int | None) -> list[QTableWidgetItem]:
    """A reference's cells: used where it lies; greyed, "Missing", once its file is gone."""
    quant = quant_label(ref.path.name) or "—"
    if size is None:
        items = _items([ref.name, quant, "—", MISSING, ""])
        for item in items:
            item.setForeground(QBrush(QColor(current().disabled_text)))
        tip = f"{ref.path}\nThe file is gone (moved or deleted): Remove takes it off this list."
    else:
        items = _items([ref.name, quant, size_text(size), REFERENCE, ""])
        how = "comes with Ponder" if ref.starter else "was opened with File → Open"
        tip = f"{ref.path}\nUsed where it lies, not copied: it {how}."
    for item in items[: STATE + 1]:
        item.setToolTip(tip)
    return items


def show_fit(item: QTableWidgetItem, found: FitBadge | BaseException | None) -> None:
    """The planner's badge (or why there is none) in a row's last cell."""
    if isinstance(found, FitBadge):
        item.setText(f"● {found.text}")
        item.setForeground(QBrush(QColor(found.color)))
        item.setToolTip(found.tooltip)
    elif found is not None:
        item.setText("unknown")
        item.setToolTip(str(found))
    else:
        item.setText("")
