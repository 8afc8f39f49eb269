"""Bringing models in without the Hub: how to import a GGUF, and what the HF cache holds."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget

from model_runtime.gguf.quants import RemoteFile, group_quants
from model_runtime.models import hf_cache
from model_runtime.models.importing import ImportMode
from model_runtime.units import size_text

IMPORT_MODES: tuple[tuple[ImportMode, str, str], ...] = (
    ("copy", "Copy", "Copy: your file stays where it is; the model takes its size again on disk."),
    ("move", "Move", "Move: the file moves into Ponder's model folder."),
    ("link", "Link", "Link: no extra space, but the model breaks if the file moves or is deleted."),
)


def choose_import_mode(parent: QWidget, name: str) -> ImportMode | None:
    """Ask how to bring a GGUF into the store: copy, move or link (None: cancelled)."""
    box = QMessageBox(parent)
    box.setWindowTitle("Import a GGUF")
    box.setText(f"How should Ponder bring in {name}?")
    box.setInformativeText("\n".join(words for _, _, words in IMPORT_MODES))
    buttons = [
        (box.addButton(label, QMessageBox.ButtonRole.AcceptRole), mode)
        for mode, label, _ in IMPORT_MODES
    ]
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return next((mode for button, mode in buttons if button is box.clickedButton()), None)


def cached_quants() -> list[tuple[str, str, int]]:
    """(repo, quant, size) of every complete GGUF quant in the Hugging Face cache (offline)."""
    found = []
    for repo_id in hf_cache.cached_repos():
        files = [RemoteFile(c.path, c.size, c.sha256) for c in hf_cache.cached_files(repo_id)]
        for choice in group_quants(files):
            found.append((repo_id, choice.name, choice.size))
    return found


def choose_cached_quant(
    parent: QWidget, found: list[tuple[str, str, int]]
) -> tuple[str, str] | None:
    """Let the person pick one of the cache's quants: (repo, quant), or None."""
    if not found:
        QMessageBox.information(
            parent,
            "Hugging Face cache",
            f"No GGUF models were found in the Hugging Face cache ({hf_cache.hub_cache_dir()}).",
        )
        return None
    labels = [f"{repo_id} · {quant} · {size_text(size)}" for repo_id, quant, size in found]
    label, ok = QInputDialog.getItem(
        parent, "Import from the Hugging Face cache", "Model:", labels, 0, False
    )
    if not ok or label not in labels:
        return None
    repo_id, quant, _ = found[labels.index(label)]
    return repo_id, quant
