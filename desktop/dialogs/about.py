"""Help → About: version, the llama.cpp backend of this build, and every licence Ponder ships."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.common.identity import PRIVACY_PROMISE, TAGLINE, icon_pixmap
from desktop.engines.hardware_probe import HardwareProbe
from model_runtime import __version__, paths
from model_runtime.components import (
    Component,
    bundle_info,
    bundled_python_components,
    core_components,
    licence_folder,
    model_licences,
)
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.llama.build import backend_summary

LICENCE_NOTE = (
    "Ponder is MIT-licensed. It is built on the components and offers the models listed in "
    "the other tabs, each under its own licence."
)


def build_text(hw: HardwareInfo | None, problem: str = "") -> str:
    """The llama.cpp line: which backends this build has."""
    if hw is None:
        return "Looking at this build…"
    if hw.build is None:
        return problem or "unknown"
    return backend_summary(hw.build) + ("; GPU offload" if hw.build.local_gpu_offload else "")


def bundle_text(info: dict[str, str]) -> str:
    """How this copy of Ponder was made: a bundle's variant and date, or a source install."""
    if not info:
        return "Running from source (Python environment)"
    return (
        f"{info.get('llama_backend', '?').upper()} bundle for {info.get('platform', '?')}, "
        f"built {info.get('built', '?')}"
    )


def _label(text: str, name: str = "", *, rich: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


def _table(
    headers: tuple[str, ...],
    rows: list[tuple[str, ...]],
    bold: int = 0,
    widths: dict[int, int] | None = None,
) -> QTableWidget:
    """A read-only table; the first `bold` rows stand out; `widths` fixes some columns."""
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if r < bold:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            table.setItem(r, c, item)
    table.verticalHeader().setDefaultSectionSize(24)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
    for column, width in (widths or {}).items():
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        table.setColumnWidth(column, width)
    return table


class AboutDialog(QDialog):
    """Three tabs: About (backend, data folder, privacy), Components, Models."""

    def __init__(self, probe: HardwareProbe | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About Ponder")
        self.resize(720, 500)
        self.probe = probe

        icon = QLabel()
        icon.setPixmap(icon_pixmap(64))
        title = _label(f"Ponder {__version__}", "aboutTitle")
        tagline = _label(TAGLINE, "aboutTagline")
        heading = QVBoxLayout()
        heading.addWidget(title)
        heading.addWidget(tagline)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addSpacing(8)
        top.addLayout(heading, 1)

        self.backend_label = _label(build_text(None), "aboutBackend")
        self.tabs = QTabWidget()
        self.tabs.addTab(self._about_page(), "About")
        self.components = self._components_table()
        self.tabs.addTab(self._components_page(), "Components")
        self.models = _table(
            ("Model", "Licence", "How you get it"),
            [(m.name, m.licence, m.note) for m in model_licences()],
            bold=1,
        )
        self.tabs.addTab(self.models, "Models")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addSpacing(6)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)

        if probe is not None:
            probe.detected.connect(self._on_hardware)
            if probe.info is not None:
                self._on_hardware(probe.info)
            else:
                probe.request()

    def _about_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(14, 14, 14, 14)
        form.setHorizontalSpacing(18)
        form.setVerticalSpacing(12)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        rows = (
            ("llama.cpp", self.backend_label),
            ("This copy", _label(bundle_text(bundle_info()), "aboutBundle")),
            ("Your data", _label(str(paths.data_dir()), "aboutDataDir")),
            ("Privacy", _label(PRIVACY_PROMISE, "aboutPrivacy")),
            ("Licence", _label(LICENCE_NOTE, "aboutLicence")),
        )
        for name, value in rows:
            form.addRow(_label(name, "aboutCaption"), value)
        return page

    def _components_table(self) -> QTableWidget:
        core = core_components()
        named = {c.name.lower() for c in core}
        rest = [c for c in bundled_python_components() if c.name.lower() not in named]
        rows = [self._row(c) for c in core] + [self._row(c) for c in rest]
        headers = ("Component", "Version", "Licence", "Role")
        return _table(headers, rows, bold=len(core), widths={2: 200})

    @staticmethod
    def _row(c: Component) -> tuple[str, ...]:
        return (c.name, c.version, c.licence, c.role)

    def _components_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.components, 1)
        folder = licence_folder()
        if folder is not None:
            link = _label(
                f'Full licence texts: <a href="{QUrl.fromLocalFile(str(folder)).toString()}">'
                f"{folder}</a>",
                "licenceFolder",
                rich=True,
            )
            link.linkActivated.connect(lambda url: QDesktopServices.openUrl(QUrl(url)))
        else:
            link = _label(
                "Each package's licence text is in its metadata in the Python environment; "
                "bundles carry them in a licenses folder.",
                "licenceFolder",
            )
        layout.addWidget(link)
        return page

    def _on_hardware(self, hw: HardwareInfo) -> None:
        problem = getattr(self.probe, "problem", "") if self.probe is not None else ""
        self.backend_label.setText(build_text(hw, problem))

    def licence_rows(self) -> list[tuple[str, str]]:
        """(component, licence) as the Components tab shows them (for tests and screenshots)."""
        table = self.components

        def text(row: int, column: int) -> str:
            item = table.item(row, column)
            return item.text() if item is not None else ""

        return [(text(r, 0), text(r, 2)) for r in range(table.rowCount())]
