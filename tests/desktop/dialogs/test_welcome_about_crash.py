"""First-run welcome, About, and crash reports offered on the next start (pytest-qt)."""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel, QWidget

import desktop.dialogs.crash as crash_dialog
from desktop import app as desktop_app
from desktop.common.identity import PRIVACY_PROMISE
from desktop.dialogs.about import AboutDialog
from desktop.dialogs.crash import CrashReportsDialog
from desktop.dialogs.crash_reporter import CrashReporter
from desktop.dialogs.welcome import FirstRunDialog
from desktop.engines.hardware_probe import HardwareProbe
from desktop.window.main_window import MainWindow
from model_runtime import crash_log
from model_runtime.crash_log import CrashHandler, crash_dir, pending_reports
from model_runtime.errors import EngineError
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.llama.build import LlamaBuild, parse_system_info
from model_runtime.paths import is_first_run

GIB = 1024**3
SYSTEM_INFO = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | FMA = 1 | F16C = 1 | OPENMP = 1 |"


def simulated() -> HardwareInfo:
    """Two cores, 16 GiB, no GPU, a portable AVX2 build of llama.cpp."""
    build = LlamaBuild(False, SYSTEM_INFO, features=parse_system_info(SYSTEM_INFO))
    return HardwareInfo(
        CpuInfo("Simulated CPU", 2, 4, True, False), 16 * GIB, 12 * GIB, build=build
    )


def test_about_names_the_backend_and_every_licence(qtbot: Any) -> None:
    dialog = AboutDialog(HardwareProbe(simulated()))
    qtbot.addWidget(dialog)
    assert dialog.backend_label.text() == "CPU (AVX, AVX2, FMA, F16C) only"
    rows = dict(dialog.licence_rows())
    assert rows["Ponder"] == "MIT"
    assert rows["llama.cpp"] == "MIT"
    assert rows["Qt 6"] == "LGPL-3.0-only"
    assert rows["PySide6 (Qt for Python)"] == "LGPL-3.0-only"
    assert rows["Python"] == "PSF-2.0"
    assert rows["huggingface_hub"] == "Apache-2.0"
    assert rows["numpy"].startswith("BSD-3-Clause")  # and every other package Ponder runs on
    starter = [dialog.models.item(0, c).text() for c in range(3)]  # type: ignore[union-attr]
    assert starter == ["SmolLM2 135M Instruct (starter)", "Apache-2.0", "comes with Ponder"]
    texts = [w.text() for w in dialog.findChildren(type(dialog.backend_label))]
    assert PRIVACY_PROMISE in texts
    # true to what Ponder does: the catalog and a search reach the Hub, not only downloads
    assert "its catalog and searches read model lists and sizes" in PRIVACY_PROMISE
    assert "downloads you start fetch the files" in PRIVACY_PROMISE
    assert "only for downloads" not in PRIVACY_PROMISE
    assert "Running from source (Python environment)" in texts


def test_the_welcome_shows_this_computer_a_model_for_it_and_the_starter(qtbot: Any) -> None:
    dialog = FirstRunDialog(HardwareProbe(simulated()), starter_available=True)
    qtbot.addWidget(dialog)
    dialog.show()
    summary = dialog.hardware_label.text().splitlines()
    assert summary[0].startswith("CPU: Simulated CPU — 2 cores, 4 threads")
    assert summary[-1] == "llama.cpp: CPU (AVX, AVX2, FMA, F16C) only"
    assert dialog.recommendation is not None
    assert dialog.recommend_label.text().startswith("DeepSeek-R1-Distill-Qwen-1.5B (Q8_0")
    assert "nothing leaves" not in dialog.recommend_label.text()
    privacy = dialog.privacy.findChildren(type(dialog.hardware_label))
    assert any(label.text() == PRIVACY_PROMISE for label in privacy)
    # every wrapped label has room for all its lines
    for label in dialog.findChildren(type(dialog.hardware_label)):
        if label.isVisible() and label.wordWrap():
            assert label.height() >= label.heightForWidth(label.width()), label.text()
    with qtbot.waitSignal(dialog.starter_requested):
        qtbot.mouseClick(dialog.starter_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


def test_the_welcome_grows_when_this_computer_is_known_later(qtbot: Any) -> None:
    """The hardware comes after the window is shown: every card still shows all its lines."""
    probe = HardwareProbe(simulated())
    dialog = FirstRunDialog(probe, starter_available=True)
    qtbot.addWidget(dialog)
    dialog.hardware_label.setText("Looking at this computer…")  # as before detection ends
    dialog.recommend_label.setText("Choosing a model for this computer…")
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.show_hardware(simulated())  # several lines where one was

    def clipped() -> list[str]:
        labels = [w for w in dialog.findChildren(QLabel) if w.isVisible() and w.wordWrap()]
        return [w.text() for w in labels if w.height() < w.heightForWidth(w.width())]

    qtbot.waitUntil(lambda: clipped() == [], timeout=2_000)


def test_without_the_starter_its_button_is_off(qtbot: Any) -> None:
    dialog = FirstRunDialog(HardwareProbe(simulated()), starter_available=False)
    qtbot.addWidget(dialog)
    assert not dialog.starter_button.isEnabled()


def write_report(message: str) -> None:
    try:
        raise RuntimeError(message)
    except RuntimeError as exc:
        CrashHandler(crash_dir()).handle(type(exc), exc, exc.__traceback__)


def test_the_crash_dialog_copies_opens_and_deletes(qtbot: Any, monkeypatch) -> None:
    write_report("first")
    write_report("second")
    opened: list[str] = []
    monkeypatch.setattr(crash_dialog.QDesktopServices, "openUrl", lambda url: opened.append(url))
    dialog = CrashReporter().offer_pending(None)
    assert isinstance(dialog, CrashReportsDialog)
    qtbot.addWidget(dialog)
    assert dialog.list.count() == 2 and "RuntimeError" in dialog.text.toPlainText()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == dialog.text.toPlainText()
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert [u.toLocalFile() for u in opened] == [str(crash_dir())]  # type: ignore[attr-defined]
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert dialog.list.count() == 1 and len(list(crash_dir().glob("crash-*.txt"))) == 1
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and list(crash_dir().glob("crash-*.txt")) == []


def top_level(kind: type) -> list[Any]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


def run_app(check: Callable[[MainWindow], bool], timeout_s: float = 90) -> tuple[int, MainWindow]:
    """desktop.app.main() until `check(window)` holds (polled); then close and return."""
    seen: dict[str, Any] = {}
    started = QTimer()
    ticks = [0]

    def poll() -> None:
        ticks[0] += 1
        windows = top_level(MainWindow)
        if not windows:
            return
        window = seen.setdefault("window", windows[0])
        if check(window) or ticks[0] * 0.1 > timeout_s:
            seen["ok"] = ticks[0] * 0.1 <= timeout_s
            started.stop()
            for widget in top_level(QWidget):
                if widget is not window:
                    widget.close()
            window.close()
            QApplication.instance().quit()  # type: ignore[union-attr]

    started.timeout.connect(poll)
    started.start(100)
    code = desktop_app.main([])
    # Closing the last window posted Qt's own Quit event, still queued after quit(): the next
    # event loop to take it would stop every later QEventLoop in this process (tests after this
    # one would wait forever). Let it land in an exec() of its own, which resets that state.
    QTimer.singleShot(0, QApplication.instance().quit)  # type: ignore[union-attr]
    QApplication.instance().exec()  # type: ignore[union-attr]
    assert seen.get("ok"), "the app did not get there in time"
    return code, seen["window"]


def hardware_known(window: MainWindow) -> bool:
    return window.hardware.info is not None


@pytest.mark.slow
def test_the_first_start_welcomes_and_the_next_offers_the_crash_report(qtbot: Any) -> None:
    excepthook = sys.excepthook
    assert is_first_run()
    write_report("a crash in an earlier run")

    def first(window: MainWindow) -> bool:
        welcome, crashes = top_level(FirstRunDialog), top_level(CrashReportsDialog)
        if not (welcome and crashes and hardware_known(window)):
            return False
        assert "Simulated" not in welcome[0].hardware_label.text()  # this machine, for real
        assert "CPU:" in welcome[0].hardware_label.text()
        assert crashes[0].list.count() == 1
        assert "a crash in an earlier run" in crashes[0].text.toPlainText()
        return True

    code, _window = run_app(first)
    assert code == 0 and not is_first_run()
    assert sys.excepthook is excepthook  # main() put the hooks back
    assert pending_reports() == []  # offered once: the next start stays quiet

    raised: list[str] = []

    def refuse() -> None:
        raise EngineError("The engine refused the request.")

    def fail() -> None:
        raise TypeError("import_chat() got a bool")  # a bug in a slot: Ponder goes on

    def second(window: MainWindow) -> bool:
        assert not top_level(FirstRunDialog) and not top_level(CrashReportsDialog)
        text = window.banner.label.text() if window.banner.isVisible() else ""
        if not raised:
            raised.append("expected")
            QTimer.singleShot(0, refuse)  # a slot that raises, as Qt calls it
        elif raised == ["expected"] and text:
            # an expected error that escapes a slot is shown in words, not reported as a crash
            assert text == "Something went wrong. The engine refused the request."
            window.banner.hide()
            raised.append("bug")
            QTimer.singleShot(0, fail)
        elif raised == ["expected", "bug"] and text:
            assert text == (
                "Something went wrong inside Ponder. TypeError: import_chat() got a bool. "
                "Ponder kept running; Help → Error reports has the report."
            )
            return True
        return False

    code, _window = run_app(second)
    assert code == 0 and pending_reports() == [] and len(list(crash_dir().glob("crash-*.txt"))) == 1
    (survived,) = crash_dir().glob("error-*.txt")  # kept, listed, but not a crash
    assert "Ponder kept running" in survived.read_text()

    def third(window: MainWindow) -> bool:  # the next start does not say Ponder closed
        assert not top_level(CrashReportsDialog)
        return hardware_known(window) or window.isVisible()

    code, _window = run_app(third)
    assert code == 0 and pending_reports() == []
    for child in multiprocessing.active_children():
        child.join(10)
    assert multiprocessing.active_children() == []


def test_help_offers_the_welcome_and_about(qtbot: Any) -> None:
    from desktop.engines.bridge import EngineBridge

    window = MainWindow(EngineBridge(), hardware=simulated())
    qtbot.addWidget(window)
    titles = [a.text() for a in window.menuBar().actions()]
    help_menu = window.menuBar().actions()[titles.index("&Help")].menu()
    names = [a.text() for a in help_menu.actions()]  # type: ignore[union-attr]
    assert "&Welcome…" in names and "&About Ponder" in names
    window.show_welcome()
    (welcome,) = top_level(FirstRunDialog)
    assert welcome.recommendation is not None
    welcome.close()
    window.close()
    window.bridge.shutdown()


def test_error_reports_list_crashes_and_errors_survived(qtbot: Any) -> None:
    """Help → Error reports: every report kept, each said to be a crash or an error Ponder
    kept running after; with none, it says so and offers nothing to copy or delete."""
    from desktop.dialogs.crash_reporter import show_all_reports

    empty = show_all_reports(None)
    qtbot.addWidget(empty)
    assert empty.windowTitle() == "Error reports" and empty.list.count() == 0
    assert not empty.copy_button.isEnabled() and not empty.delete_button.isEnabled()
    empty.close()
    folder = crash_dir()
    crash_log.write_report("Ponder — a crash\nRuntimeError: died", folder)
    crash_log.write_report("Ponder — an error\nTypeError: went on", folder, survived=True)
    dialog = show_all_reports(None)
    qtbot.addWidget(dialog)
    rows = sorted(dialog.list.item(i).text().split("\n")[0] for i in range(dialog.list.count()))
    assert [row.split(" (")[1] for row in rows] == ["crash)", "error, Ponder kept running)"]
    assert dialog.copy_button.isEnabled()
    assert pending_reports() and all(not r.survived for r in pending_reports())
