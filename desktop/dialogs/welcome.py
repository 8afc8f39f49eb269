"""The welcome a new user sees once: this computer, a model for it, the starter, privacy."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.common.identity import PRIVACY_PROMISE, PRIVACY_TITLE, icon_pixmap
from desktop.engines.hardware_probe import HardwareProbe
from model_runtime.hardware.detect import HardwareInfo, describe_hardware
from model_runtime.llama.build import backend_summary
from model_runtime.planning.recommend import Recommendation, recommend

STARTER_TEXT = (
    "SmolLM2 135M comes with Ponder: tiny and quick, fine for trying things out, "
    "but not a reasoning model."
)


def hardware_lines(hw: HardwareInfo) -> list[str]:
    """The hardware summary without the build's feature flags (Settings shows those)."""
    lines = []
    for line in describe_hardware(hw):
        if line.startswith("llama.cpp build") and hw.build is not None:
            line = f"llama.cpp: {backend_summary(hw.build)}"
        if not line.startswith("llama.cpp features"):
            lines.append(line)
    return lines


def recommendation_text(rec: Recommendation | None) -> str:
    if rec is None:
        return (
            "Even the smallest DeepSeek-R1 model needs more memory than this computer has "
            "free. The starter model below still works."
        )
    return f"{rec.text}. {rec.reason} Download it from File → Models… whenever you like."


def _label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _section(title: str, body: QWidget, name: str) -> QFrame:
    frame = QFrame()
    frame.setObjectName(name)
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(14, 10, 14, 12)
    layout.setSpacing(4)
    layout.addWidget(_label(title, "welcomeSectionTitle"))
    layout.addWidget(body)
    return frame


class FirstRunDialog(QDialog):
    """Shown on the first start (and from Help → Welcome); `starter_requested` loads the starter."""

    starter_requested = Signal()

    def __init__(
        self,
        probe: HardwareProbe,
        *,
        starter_available: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("firstRunDialog")
        self.setWindowTitle("Welcome to Ponder")
        self.setFixedWidth(640)  # wrapped labels then know their height
        self.probe = probe
        self.recommendation: Recommendation | None = None

        icon = QLabel()
        icon.setPixmap(icon_pixmap(56))
        title = _label("Welcome to Ponder", "firstRunTitle")
        subtitle = _label("Reasoning models, on your own computer.", "firstRunSubtitle")
        heading = QVBoxLayout()
        heading.setSpacing(2)
        heading.addWidget(title)
        heading.addWidget(subtitle)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignVCenter)
        top.addSpacing(10)
        top.addLayout(heading, 1)

        self.privacy = _section(PRIVACY_TITLE, _label(PRIVACY_PROMISE, "privacyText"), "privacyBox")
        self.hardware_label = _label("Looking at this computer…", "hardwareSummary")
        self.recommend_label = _label("Choosing a model for this computer…", "recommendation")

        self.starter_button = QPushButton("Chat with the starter model now")
        self.starter_button.setObjectName("firstRunStarter")
        self.starter_button.setEnabled(starter_available)
        self.starter_button.clicked.connect(self._start_starter)
        starter_body = QWidget()
        starter_layout = QVBoxLayout(starter_body)
        starter_layout.setContentsMargins(0, 0, 0, 0)
        starter_layout.addWidget(
            _label(STARTER_TEXT if starter_available else "Not installed.", "starterText")
        )
        starter_layout.addWidget(self.starter_button, 0, Qt.AlignmentFlag.AlignLeft)

        self.close_button = QPushButton("Start using Ponder")
        self.close_button.setObjectName("firstRunClose")
        self.close_button.setDefault(True)
        self.close_button.clicked.connect(self.accept)
        bottom = QHBoxLayout()
        bottom.addWidget(_label("Open this again from Help → Welcome.", "firstRunHint"), 1)
        bottom.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        layout.setSpacing(12)
        layout.addLayout(top)
        layout.addWidget(self.privacy)
        layout.addWidget(_section("This computer", self.hardware_label, "welcomeSection"))
        layout.addWidget(
            _section("Recommended model for it", self.recommend_label, "welcomeSection")
        )
        layout.addWidget(_section("Try it right away", starter_body, "welcomeSection"))
        layout.addLayout(bottom)

        probe.detected.connect(self.show_hardware)
        if probe.info is not None:
            self.show_hardware(probe.info)
        else:
            probe.request()

    def show_hardware(self, hw: HardwareInfo) -> None:
        lines = hardware_lines(hw)
        problem = getattr(self.probe, "problem", "")
        if problem:
            lines.append(problem)
        self.hardware_label.setText("\n".join(lines))
        self.recommendation = recommend(hw)
        self.recommend_label.setText(recommendation_text(self.recommendation))
        QTimer.singleShot(0, self._fit)  # once the new texts' heights are laid out

    def _fit(self) -> None:
        """Grow to the wrapped labels' height (adjustSize ignores height-for-width here)."""
        layout = self.layout()
        if layout is not None:
            self.resize(self.width(), layout.totalHeightForWidth(self.width()))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit()  # the style sheet's fonts are known now

    def _start_starter(self) -> None:
        self.starter_requested.emit()
        self.accept()
