"""Every dialog at its default size, on a 1280×800 and an 800×600 screen, with the app's theme:
no label gets less room than its words need (heightForWidth), no button is cut or squeezed,
and no dialog is larger than the screen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QDialog,
    QLabel,
    QTabWidget,
    QWidget,
)

from desktop.chat.attachment_views import PassageDialog
from desktop.chat.conversation_settings import ConversationSettings
from desktop.chat.rename_dialog import RenameDialog
from desktop.common import screen_fit
from desktop.common.elided_label import ElidedLabel
from desktop.common.theme import theme_manager
from desktop.dialogs.about import AboutDialog
from desktop.dialogs.cant_start import CantStartDialog
from desktop.dialogs.crash import CrashReportsDialog
from desktop.dialogs.welcome import FirstRunDialog
from desktop.engines.endpoints_tab import EndpointEditor
from desktop.engines.hardware_probe import HardwareProbe
from desktop.engines.load_panel import LoadPanel
from desktop.models.download_bridge import DownloadBridge
from desktop.models.manager import ModelManagerDialog
from desktop.settings.dialog import SettingsDialog
from desktop.window.actions import shortcut_rows
from desktop.window.shortcuts_dialog import ShortcutsDialog
from model_runtime.chat.generation import GenerationParams
from model_runtime.crash_log import CrashReport, write_report
from model_runtime.errors import StorageError
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.planning import planner
from model_runtime.planning.plan import PlanOverrides
from model_runtime.serving.endpoints import Endpoint

SCREENS = [QSize(1280, 800), QSize(800, 600)]
GIB = 1024**3
LONG_PATH = Path("/home/someone/a folder with a rather long name/and another one/Ponder/data")


def machine() -> HardwareInfo:
    return HardwareInfo(
        CpuInfo("Simulated CPU with a long marketing name @ 2.80GHz", 2, 4), 16 * GIB, 12 * GIB
    )


@pytest.fixture
def themed(qapp: QApplication) -> Iterator[Callable[[QSize], None]]:
    """The app's style sheet, and dialogs fitted to a screen of the test's size."""
    qapp.setStyleSheet(theme_manager().style_sheet())
    filters: list[screen_fit.ScreenFit] = []

    def on_screen(size: QSize) -> None:
        filters.append(screen_fit.install(qapp, size))

    yield on_screen
    for fit in filters:
        qapp.removeEventFilter(fit)
    qapp.setStyleSheet("")


def scrolled(widget: QWidget, top: QWidget) -> bool:
    """Whether the widget sits in a scroll area (a list, a scrolled page): it is seen by
    scrolling, and only the area itself must be inside the window."""
    parent = widget.parentWidget()
    while parent is not None and parent is not top:
        area = parent.parentWidget()
        if isinstance(area, QAbstractScrollArea) and area.viewport() is parent:
            return True
        parent = area
    return False


def problems(dialog: QWidget, screen: QSize) -> list[str]:
    """What is cut: words without the room they need, buttons outside or squeezed."""
    found = []
    room = screen_fit.room_on(screen)
    if dialog.width() > room.width() or dialog.height() > room.height():
        found.append(f"{dialog.windowTitle()}: {dialog.width()}×{dialog.height()} > {room}")
    for label in dialog.findChildren(QLabel):
        if not label.isVisibleTo(dialog) or not label.text() or isinstance(label, ElidedLabel):
            continue
        words = label.text()[:60]
        if label.wordWrap():
            if label.height() < label.heightForWidth(label.width()):
                found.append(f"label cut: {words!r} {label.height()} < hfw")
        elif label.width() < label.minimumSizeHint().width():
            found.append(f"label squeezed: {words!r} {label.width()} < minimum")
        found += outside(label, dialog, words)
    for button in dialog.findChildren(QAbstractButton):
        if not button.isVisibleTo(dialog):
            continue
        hint = button.minimumSizeHint()
        if button.width() < hint.width() or button.height() < hint.height():
            found.append(f"button squeezed: {button.text()!r} {button.size()} < {hint}")
        found += outside(button, dialog, button.text())
    for area in dialog.findChildren(QAbstractScrollArea):
        if area.isVisibleTo(dialog):
            found += outside(area, dialog, area.objectName() or type(area).__name__)
    return found


def outside(widget: QWidget, dialog: QWidget, words: str) -> list[str]:
    if scrolled(widget, dialog):
        return []
    rect = QRect(widget.mapTo(dialog, QPoint(0, 0)), widget.size())
    if not dialog.rect().contains(rect):
        return [f"outside the window: {words!r} at {rect}"]
    return []


def check(qtbot: Any, dialog: QDialog, screen: QSize) -> list[str]:
    """Show at its default size and collect what is cut, on every tab."""
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    found = problems(dialog, screen)
    for tabs in dialog.findChildren(QTabWidget):
        for index in range(tabs.count()):
            tabs.setCurrentIndex(index)
            QApplication.processEvents()
            found += [f"tab {tabs.tabText(index)}: {p}" for p in problems(dialog, screen)]
    dialog.close()
    return found


def connection_error(qtbot: Any, editor: EndpointEditor) -> None:
    """A real failed fetch: nothing listens on port 9 of this computer."""
    editor.url.setText("http://127.0.0.1:9/v1")
    with qtbot.waitSignal(editor.fetcher.done, timeout=20_000):
        editor.fetch_models()
    assert "127.0.0.1" in editor.status.text() or editor.status.text()


def crash_dialog(tmp_path: Path) -> CrashReportsDialog:
    folder = tmp_path / "crashes"
    write_report("Ponder 0.2 — a crash\nRuntimeError: a long summary " + "word " * 30, folder)
    write_report("Ponder 0.2 — an error\nValueError: bad", folder, survived=True)
    reports = [CrashReport(p) for p in sorted(folder.glob("*.txt"))]
    return CrashReportsDialog(reports, folder)


DIALOGS: dict[str, Callable[..., QDialog]] = {
    "welcome": lambda **_: FirstRunDialog(HardwareProbe(machine()), starter_available=True),
    "about": lambda **_: AboutDialog(HardwareProbe(machine())),
    "settings": lambda **_: SettingsDialog(HardwareProbe(machine())),
    "model manager": lambda **_: ModelManagerDialog(DownloadBridge(), hardware=machine()),
    "conversation settings": lambda **_: ConversationSettings("", GenerationParams()),
    "add remote engine": lambda **_: EndpointEditor(None),
    "edit remote engine": lambda **_: EndpointEditor(
        Endpoint("A remote engine with a long name", "http://192.168.1.20:8080/v1", "model")
    ),
    "rename": lambda **_: RenameDialog("A chat whose title is rather long, as titles get"),
    "crash reports": lambda tmp_path, **_: crash_dialog(tmp_path),
    "keyboard shortcuts": lambda open_window, **_: ShortcutsDialog(
        shortcut_rows(open_window().commands)
    ),
    "passage": lambda **_: PassageDialog(
        "report.pdf: page 12 of a document whose name is rather long", "A line of text.\n" * 80
    ),
    "can't start": lambda **_: CantStartDialog(
        StorageError(f"The disk that holds {LONG_PATH} is full.", problem="full", path=LONG_PATH),
        Path.cwd(),
    ),
}


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s.width()}x{s.height()}")
@pytest.mark.parametrize("name", list(DIALOGS))
def test_every_dialog_fits_its_screen_uncut(
    qtbot: Any,
    themed: Callable[[QSize], None],
    tmp_path: Path,
    open_window: Callable[..., Any],
    name: str,
    screen: QSize,
) -> None:
    themed(screen)
    dialog = DIALOGS[name](tmp_path=tmp_path, open_window=open_window)
    if isinstance(dialog, ModelManagerDialog):
        qtbot.addWidget(dialog)
    assert check(qtbot, dialog, screen) == []
    if isinstance(dialog, ModelManagerDialog):
        dialog.downloads.close()
        # planning "On this computer"'s rows asks llama.cpp in a child process: let it end
        dialog.tasks.cancel_all()
        assert dialog.tasks.wait(30), "a background task did not end"


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s.width()}x{s.height()}")
def test_the_welcome_grows_to_this_computer_once_it_is_known(
    qtbot: Any, themed: Callable[[QSize], None], screen: QSize
) -> None:
    """As at a first start: the dialog shows at once, the real hardware check answers later."""
    themed(screen)
    probe = HardwareProbe()
    dialog = FirstRunDialog(probe, starter_available=True)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(probe.detected, timeout=60_000):
        dialog.show()
        qtbot.waitExposed(dialog)
    assert "CPU:" in dialog.hardware_label.text()
    qtbot.waitUntil(lambda: problems(dialog, screen) == [], timeout=2000)
    if screen.height() >= 800:  # a screen this tall shows it all without scrolling
        assert dialog.body.verticalScrollBar().maximum() == 0


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s.width()}x{s.height()}")
def test_the_remote_engine_editor_shows_a_connection_error_whole(
    qtbot: Any, themed: Callable[[QSize], None], screen: QSize
) -> None:
    themed(screen)
    editor = EndpointEditor(None)
    qtbot.addWidget(editor)
    editor.show()
    qtbot.waitExposed(editor)
    connection_error(qtbot, editor)
    QApplication.processEvents()
    assert problems(editor, screen) == []
    for field in (editor.name, editor.url, editor.key):  # the form is not squeezed
        assert field.height() >= field.minimumSizeHint().height()
        assert field.width() >= 240


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s.width()}x{s.height()}")
def test_the_load_panel_fits(
    qtbot: Any, themed: Callable[[QSize], None], smollm2: Path, screen: QSize
) -> None:
    themed(screen)
    panel = LoadPanel()
    plan = planner.plan_load(str(smollm2), machine(), PlanOverrides())
    panel.show_plan(plan, PlanOverrides(), False)
    assert check(qtbot, panel, screen) == []
