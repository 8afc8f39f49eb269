"""The welcome a new user sees once: this computer, a model for it, the starter, privacy."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
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
from desktop.common.screen_fit import FittingScroll, keep_fitted
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
        self.resize(640, 560)
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

        sections = QWidget()
        sections.setObjectName("welcomeSections")
        column = QVBoxLayout(sections)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(12)
        column.addWidget(self.privacy)
        column.addWidget(_section("This computer", self.hardware_label, "welcomeSection"))
        column.addWidget(
            _section("Recommended model for it", self.recommend_label, "welcomeSection")
        )
        column.addWidget(_section("Try it right away", starter_body, "welcomeSection"))
        column.addStretch(1)
        self.body = FittingScroll(sections)  # scrolls only on a screen too small for it all
        self.body.setObjectName("welcomeBody")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        layout.setSpacing(12)
        layout.addLayout(top)
        layout.addWidget(self.body, 1)
        layout.addLayout(bottom)
        keep_fitted(self)  # the hardware's lines arrive after it opens

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

    def _start_starter(self) -> None:
        self.starter_requested.emit()
        self.accept()
