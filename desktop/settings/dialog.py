"""Settings: what this computer offers models (Hardware), offline mode with the network log
(Privacy), saved remote engines (Remote engines), how the loaded model is served (Serving), and
the theme and the chat's text size (Appearance), and the chats' saved model states
(Cache)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.engines.bridge import EngineBridge
from desktop.engines.endpoints_tab import EndpointsTab
from desktop.engines.hardware_probe import HardwareProbe
from desktop.engines.serve_tab import ServeTab
from desktop.settings.appearance_tab import AppearanceTab
from desktop.settings.cache_tab import CacheTab
from desktop.settings.privacy_tab import PrivacyTab
from desktop.settings.rpc_row import RpcWorkersRow
from model_runtime.hardware.detect import HardwareInfo, describe_hardware
from model_runtime.hardware.gpus import PREFERRED_BACKEND
from model_runtime.llama.build import parse_system_info, rebuild_command


def features_text(system_info: str) -> str:
    """llama.cpp's system info as one line per backend: 'CPU: SSE3, AVX, AVX2, FMA'."""
    lines = []
    for backend, flags in parse_system_info(system_info).items():
        on = [k if v == "1" else f"{k} {v}" for k, v in flags.items() if v != "0"]
        lines.append(f"{backend}: {', '.join(on) or 'none'}")
    return "\n".join(lines) or system_info.strip()


def _label(text: str, parent: QWidget, name: str = "", *, wrap: bool = True) -> QLabel:
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


class HardwareTab(QWidget):
    """describe_hardware() as a form, its warnings, and the rebuild command for an unused GPU."""

    def __init__(self, probe: HardwareProbe, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probe = probe
        self.lines: list[str] = []
        self.rebuild_commands: list[str] = []
        self.area = QScrollArea(self)
        self.area.setWidgetResizable(True)
        self.area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.area.setWidget(_label("Looking at this computer…", self))
        self.refresh_button = QPushButton("Look again", self)
        self.refresh_button.setToolTip("Read free memory and the GPUs again")
        self.refresh_button.clicked.connect(self.probe.request)
        self.rpc_row = RpcWorkersRow(self)
        self.rpc_row.saved.connect(self.probe.request)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.area, 1)
        layout.addWidget(self.rpc_row)
        layout.addLayout(row)
        probe.detected.connect(self.show_hardware)
        if probe.info is not None:
            self.show_hardware(probe.info)
        probe.request()  # detect, or read the free memory afresh

    def show_hardware(self, hw: HardwareInfo) -> None:
        self.lines = describe_hardware(hw)
        self.rpc_row.status.setText("")
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setHorizontalSpacing(16)
        intro = "What Ponder plans each model load for. The memory figures are read afresh."
        form.addRow(_label(intro, page, "settingsNote"))
        if hw.system:
            form.addRow("System", _label(hw.system, page, wrap=False))
        unusable = [g for g in hw.gpus if not g.usable]
        notes = []
        for line in self.lines:
            key, _, value = line.partition(": ")
            if key == "Note":  # an unusable GPU's note comes with its command below
                if not any(value.startswith(f"{g.name} cannot") for g in unusable):
                    notes.append(value)
            elif key == "llama.cpp features" and hw.build is not None:
                text = features_text(hw.build.system_info)
                features = _label(text, page, "buildFeatures", wrap=False)
                form.addRow(key, features)
            else:
                form.addRow(key, _label(value, page, wrap=False))
        if self.probe.problem:
            notes.append(self.probe.problem)
        for note in notes:
            form.addRow(_label(f"⚠ {note}", page, "hardwareNote"))
        self.rebuild_commands = []
        for gpu in unusable:
            backend = PREFERRED_BACKEND.get(gpu.vendor, "Vulkan")
            command = rebuild_command(backend)
            self.rebuild_commands.append(command)
            text = (
                f"⚠ {gpu.name} cannot be used by this llama.cpp build. To use it, install a "
                f"{backend} build in Ponder's Python environment, then restart Ponder:"
            )
            form.addRow(_label(text, page, "hardwareNote"))
            form.addRow(self._command_row(command, page))
        self.area.setWidget(page)

    @staticmethod
    def _command_row(command: str, parent: QWidget) -> QWidget:
        row = QWidget(parent)
        field = QLineEdit(command, row)
        field.setObjectName("rebuildCommand")
        field.setReadOnly(True)
        field.setToolTip(command)
        field.setCursorPosition(0)
        copy = QPushButton("Copy", row)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(command))
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(field, 1)
        layout.addWidget(copy)
        return row


class SettingsDialog(QDialog):
    """Application settings (non-modal): Hardware, Privacy, Remote engines, Serving, Appearance,
    Cache."""

    def __init__(
        self,
        probe: HardwareProbe,
        parent: QWidget | None = None,
        bridge: EngineBridge | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.resize(720, 520)
        self.tabs = QTabWidget(self)
        self.hardware_tab = HardwareTab(probe, self.tabs)
        self.privacy_tab = PrivacyTab(self.tabs)
        self.tabs.addTab(self.hardware_tab, "Hardware")
        self.endpoints_tab = EndpointsTab(self.tabs)
        self.tabs.addTab(self.privacy_tab, "Privacy")
        self.tabs.addTab(self.endpoints_tab, "Remote engines")
        self.serve_tab = ServeTab(self.tabs)
        self.tabs.addTab(self.serve_tab, "Serving")
        self.appearance_tab = AppearanceTab(parent=self.tabs)
        self.tabs.addTab(self.appearance_tab, "Appearance")
        self.cache_tab = CacheTab(bridge, self.tabs)  # Clear goes through the engine's memory
        self.tabs.addTab(self.cache_tab, "Cache")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
