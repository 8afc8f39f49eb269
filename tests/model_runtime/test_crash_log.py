"""Crash reports: Python exceptions and native crashes written to data/crashes, offered once."""

from __future__ import annotations

import faulthandler
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from model_runtime import crash_log
from model_runtime.crash_log import CrashHandler, all_reports, mark_offered, pending_reports
from model_runtime.errors import EngineError
from model_runtime.paths import data_dir

ROOT = Path(__file__).resolve().parents[2]


def raise_and_hook(exc: BaseException) -> None:
    """Raise `exc` and hand it to sys.excepthook, as the interpreter does for an uncaught one."""
    try:
        raise exc
    except BaseException as caught:
        sys.excepthook(type(caught), caught, caught.__traceback__)


@pytest.fixture
def handler(tmp_path: Path):
    reports: list[Path] = []
    expected: list[BaseException] = []
    h = CrashHandler(tmp_path / "crashes", on_expected=expected.append, on_report=reports.append)
    h.install(native=False)
    h.reports, h.expected = reports, expected  # type: ignore[attr-defined]
    yield h
    h.uninstall()


def test_the_crash_folder_is_in_the_data_dir(ponder_home: Path) -> None:
    assert crash_log.crash_dir() == data_dir() / "crashes" == ponder_home / "data" / "crashes"


def test_an_uncaught_exception_writes_a_report(handler, capsys) -> None:
    raise_and_hook(ZeroDivisionError("the answer divided by zero"))
    (report,) = handler.reports
    text = report.read_text()
    assert report.parent == handler.folder and report.name.startswith("crash-")
    assert text.startswith("Ponder ") and "unexpected error in the main thread" in text
    assert "Traceback (most recent call last)" in text and "raise_and_hook" in text
    assert text.rstrip().endswith("ZeroDivisionError: the answer divided by zero")
    assert "ZeroDivisionError" in capsys.readouterr().err  # still printed for a terminal
    (listed,) = pending_reports(handler.folder)
    assert listed.path == report
    assert listed.summary == "ZeroDivisionError: the answer divided by zero"


def test_an_expected_error_is_shown_not_reported(handler) -> None:
    raise_and_hook(EngineError("The model file went away."))
    assert handler.reports == [] and list(handler.folder.glob("*")) == []
    assert [str(e) for e in handler.expected] == ["The model file went away."]


def test_an_exception_in_a_thread_writes_a_report_naming_it(handler) -> None:
    def work() -> None:
        raise KeyError("missing")

    thread = threading.Thread(target=work, name="ponder-worker-7")
    thread.start()
    thread.join()
    (report,) = handler.reports
    assert "in thread 'ponder-worker-7'; Ponder kept running" in report.read_text()
    assert report.name.startswith("error-")  # the thread ended, the process went on
    assert pending_reports(handler.folder) == []


def test_an_exception_the_event_loop_survives_is_an_error_not_a_crash(handler) -> None:
    """A slot that raises while the event loop runs: Ponder goes on, so the next start does
    not say it closed unexpectedly; the report is kept and listed."""
    with handler.running():
        raise_and_hook(TypeError("import_chat() got a bool"))
    (report,) = handler.reports
    assert report.name.startswith("error-")
    assert "in the main thread; Ponder kept running" in report.read_text()
    assert pending_reports(handler.folder) == []  # never offered as a crash
    (listed,) = all_reports(handler.folder)
    assert listed.survived and listed.summary == "TypeError: import_chat() got a bool"
    raise_and_hook(RuntimeError("after the loop ended"))  # outside running(): a crash
    (crash,) = pending_reports(handler.folder)
    assert not crash.survived and crash.path.name.startswith("crash-")


def test_uninstall_restores_the_previous_hooks(tmp_path: Path) -> None:
    before, thread_before = sys.excepthook, threading.excepthook
    h = CrashHandler(tmp_path)
    h.install()
    assert sys.excepthook == h.handle and h.native_path is not None and h.native_path.exists()
    h.uninstall()
    assert sys.excepthook is before and threading.excepthook is thread_before
    assert not h.native_path.exists()  # nothing crashed: the armed file goes
    assert faulthandler.is_enabled()  # pytest's own, as before install


def test_uninstall_leaves_faulthandler_off_when_it_was(tmp_path: Path) -> None:
    faulthandler.disable()
    try:
        h = CrashHandler(tmp_path)
        h.install()
        assert faulthandler.is_enabled()
        h.uninstall()
        assert not faulthandler.is_enabled()
    finally:
        faulthandler.enable()


def test_reports_are_offered_once_and_can_be_deleted(handler) -> None:
    raise_and_hook(RuntimeError("one"))
    raise_and_hook(RuntimeError("two"))
    reports = pending_reports(handler.folder)
    assert {r.summary for r in reports} == {"RuntimeError: one", "RuntimeError: two"}
    mark_offered(reports, handler.folder)
    assert pending_reports(handler.folder) == []
    assert len(all_reports(handler.folder)) == 2
    for report in reports:
        report.delete()
    assert all_reports(handler.folder) == []


def run_python(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env={"PONDER_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_real_process_that_dies_of_an_exception_leaves_a_report(ponder_home: Path) -> None:
    done = run_python(
        """
        from model_runtime.crash_log import CrashHandler
        CrashHandler().install()
        raise RuntimeError("boom at start")
        """,
        ponder_home,
    )
    assert done.returncode == 1 and "RuntimeError: boom at start" in done.stderr
    (report,) = pending_reports()
    assert report.summary == "RuntimeError: boom at start"
    assert list(crash_log.crash_dir().glob("native-*")) == []  # an empty armed file is dropped


def test_a_native_crash_is_caught_by_faulthandler_and_offered_next_time(ponder_home: Path) -> None:
    done = run_python(
        """
        import ctypes
        from model_runtime.crash_log import CrashHandler
        CrashHandler().install()
        def deep_inside_llama_cpp():
            ctypes.string_at(0)  # a NULL read: SIGSEGV, as a bug in native code would
        deep_inside_llama_cpp()
        """,
        ponder_home,
    )
    assert done.returncode < 0  # killed by the signal
    (report,) = pending_reports()  # the next start turns the armed file into a report
    text = report.text()
    assert "native crash" in text and "Segmentation fault" in text
    assert "deep_inside_llama_cpp" in text  # faulthandler's Python stack
    assert report.summary == "Fatal Python error: Segmentation fault"


# -- killed processes, full and read-only disks --------------------------------------------


def test_a_killed_process_is_not_offered_as_a_crash(ponder_home: Path) -> None:
    """SIGKILL (or a power cut) leaves the armed file with its header only: no crash in it."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from model_runtime.crash_log import CrashHandler\n"
            "import sys; CrashHandler().install(); print('armed', flush=True); sys.stdin.read()",
        ],
        cwd=ROOT,
        env={"PONDER_HOME": str(ponder_home), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "armed\n"
    process.kill()
    process.wait(10)
    (armed,) = crash_log.crash_dir().glob("native-*.log")
    assert armed.read_text(encoding="utf-8").endswith(crash_log.NATIVE_MARKER)
    # as a file system may leave a file cut short: padded with NUL bytes
    padded = armed.with_name("native-20260101-000000-999999999.log")
    padded.write_text(armed.read_text(encoding="utf-8") + "\0" * 512 + "\n", encoding="utf-8")
    # and one an older Ponder turned into a report anyway
    older = armed.with_name("crash-20260101-000000-999999998.txt")
    older.write_text(armed.read_text(encoding="utf-8") + "\n\0\0\n", encoding="utf-8")
    assert pending_reports() == []
    assert sorted(crash_log.crash_dir().iterdir()) == []


def crash_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_on_a_full_disk_crash_handling_writes_nothing_and_never_fails(
    tmpfs, ponder_home: Path, capsys
) -> None:
    disk = tmpfs(ponder_home / "data", "1m")
    crash_log.crash_dir()
    disk.fill()
    reports: list[Path] = []
    h = CrashHandler(on_report=reports.append)
    h.install()  # the native-crash file can't be armed: Ponder starts without it
    try:
        assert h.native_path is None
        raise_and_hook(RuntimeError("boom on a full disk"))
        mark_offered(pending_reports())
    finally:
        h.uninstall()
    assert reports == [] and "RuntimeError: boom on a full disk" in capsys.readouterr().err
    assert crash_files(crash_log.crash_dir()) == []  # no report, no .part, no armed file


def test_on_a_read_only_disk_crash_handling_never_fails(tmpfs, ponder_home: Path) -> None:
    disk = tmpfs(ponder_home / "data", "1m")
    disk.read_only()
    h = CrashHandler()
    h.install()
    try:
        assert h.native_path is None and pending_reports() == []
        raise_and_hook(RuntimeError("boom on a read-only disk"))
    finally:
        h.uninstall()
    assert crash_files(disk.path) == []
