"""Settings → Cache: the chats' saved model states, how much disk they may take, what they take
now, and Clear the cache."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.common.background import Tasks
from desktop.common.error_messages import describe
from desktop.engines.bridge import EngineBridge
from model_runtime import paths
from model_runtime.engine.cache_settings import (
    MAX_DISK_BYTES,
    CacheSettings,
    load_cache_settings,
    save_cache_settings,
)
from model_runtime.errors import PonderError
from model_runtime.units import GIB, size_text

INTRO = (
    "Ponder keeps what the model has read of each chat, so that coming back to a chat, or to "
    "Ponder after a restart, does not make the model read the whole conversation again. It is "
    "kept in memory while the model is loaded (as much as the model leaves spare) and on this "
    "disk in {folder}. Deleting a chat deletes what was kept of it."
)


def usage_text(count: int, size: int) -> str:
    """'3 chats' states, 1.20 GiB on disk', or that nothing is kept."""
    if not count:
        return "Nothing is kept on disk now."
    states = "1 saved state" if count == 1 else f"{count:,} saved states"
    return f"{states}, {size_text(size)} on disk."


def _label(text: str, parent: QWidget, name: str = "") -> QLabel:
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setObjectName(name)
    return label


class CacheTab(QWidget):
    """Keep chats' model state or not, the disk it may take (saved as changed), Clear."""

    cleared = Signal()

    def __init__(self, bridge: EngineBridge | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.tasks = Tasks(self)
        settings = load_cache_settings()
        folder = paths.kv_cache_dir(create=False)
        self.intro = _label(INTRO.format(folder=folder), self, "settingsNote")
        self.enabled = QCheckBox("Keep what the model has read of each chat", self)
        self.enabled.setChecked(settings.enabled)
        self.disk_size = QDoubleSpinBox(self)
        self.disk_size.setObjectName("cacheDiskSize")
        self.disk_size.setRange(0.0, MAX_DISK_BYTES / GIB)
        self.disk_size.setDecimals(1)
        self.disk_size.setSingleStep(1.0)
        self.disk_size.setSuffix(" GiB")
        self.disk_size.setValue(settings.disk_bytes / GIB)
        self.disk_size.setToolTip("0 keeps it in memory only")
        self.usage = _label("", self, "cacheUsage")
        self.note = _label("", self, "cacheNote")
        self.clear_button = QPushButton("Clear the cache", self)
        self.clear_button.setToolTip("Delete every chat's saved model state, in memory and on disk")
        self.enabled.toggled.connect(self.save)
        self.disk_size.valueChanged.connect(self.save)
        self.clear_button.clicked.connect(self.clear)
        size_row = QHBoxLayout()
        size_row.addWidget(QLabel("Disk space it may take:", self))
        size_row.addWidget(self.disk_size)
        size_row.addStretch(1)
        clear_row = QHBoxLayout()
        clear_row.addWidget(self.usage, 1)
        clear_row.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.enabled)
        layout.addLayout(size_row)
        layout.addLayout(clear_row)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.refresh()

    def settings(self) -> CacheSettings:
        return CacheSettings(
            enabled=self.enabled.isChecked(), disk_bytes=round(self.disk_size.value() * GIB)
        )

    def save(self) -> None:
        """Save the choice as it is made; the engine takes it at the next model load."""
        try:
            save_cache_settings(self.settings())
        except (OSError, PonderError) as exc:
            self.note.setText(f"Not saved: {describe(exc)[1]}")
            return
        self.note.setText("Saved. It applies from the next model load.")

    def refresh(self) -> None:
        """Count what is kept on disk, off the GUI thread."""
        from model_runtime.engine.kv_files import usage

        self.tasks.start(
            lambda _task: usage(paths.kv_cache_dir(create=False)),
            on_result=lambda counted: self.usage.setText(usage_text(*counted)),
            key="usage",
        )

    def clear(self) -> None:
        """Delete every saved state: the engine's in memory, and the files."""
        self.clear_button.setEnabled(False)
        self.usage.setText("Clearing…")
        if self.bridge is not None:
            self.bridge.forget_states(None, self._cleared)
            return
        from model_runtime.engine.kv_files import forget_files

        self.tasks.start(
            lambda _task: forget_files(paths.kv_cache_dir(create=False), None),
            on_result=lambda _n: self._cleared(None),
            on_error=self._cleared,
        )

    def _cleared(self, error: object) -> None:
        self.clear_button.setEnabled(True)
        if isinstance(error, BaseException):
            self.note.setText(f"Not cleared: {describe(error)[1]}")
        else:
            self.note.setText("The cache is empty.")
            self.cleared.emit()
        self.refresh()
