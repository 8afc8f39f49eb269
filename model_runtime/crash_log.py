"""Crash reports: unexpected Python exceptions and native crashes, kept for the next start.

Reports are plain text files in data_dir()/crashes/. Python exceptions (sys.excepthook,
threading.excepthook) are written as they happen; a native crash (SIGSEGV, SIGILL, abort)
is written by faulthandler into a file opened at start, which stays empty unless the
process dies. Errors Ponder raises on purpose (PonderError) are not crashes: they go to
`on_expected`, for the GUI to show in words.

An exception the app survives (one raised in a Qt slot while the event loop runs, or in a
background thread) is an error report (error-*.txt), listed with the others but never offered
at the next start as a crash: only a process that died (crash-*.txt) is.

Writing reports is best-effort: a full or read-only disk means no report, never an error
of its own that takes the app down, and never a half-written file left behind.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import platform
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from model_runtime import __version__, paths
from model_runtime.errors import PonderError

NATIVE_MARKER = "--- native crash (faulthandler) ---\n"
OFFERED_FILE = "offered"  # names of the reports already shown
CRASH_PREFIX = "crash-"  # the process died
ERROR_PREFIX = "error-"  # the process went on


def crash_dir() -> Path:
    """data_dir()/crashes, created if missing and if it can be (a read-only disk: not)."""
    path = paths.data_dir(create=False) / "crashes"
    with contextlib.suppress(OSError):
        path.mkdir(parents=True, exist_ok=True)
    return path


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def _header(kind: str) -> str:
    frozen = "bundle" if getattr(sys, "frozen", False) else "source"
    return (
        f"Ponder {__version__} ({frozen}) — {kind}\n"
        f"Time: {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n"
        f"System: {platform.system()} {platform.release()} {platform.machine()}; "
        f"Python {platform.python_version()}; pid {os.getpid()}\n"
    )


def format_report(
    exc_type: type[BaseException],
    exc: BaseException,
    tb: TracebackType | None,
    *,
    thread: str | None = None,
    survived: bool = False,
) -> str:
    """A report's text: what and where (and whether Ponder went on), then the traceback."""
    where = f"in thread {thread!r}" if thread else "in the main thread"
    after = "; Ponder kept running" if survived else ""
    lines = traceback.format_exception(exc_type, exc, tb)
    return _header(f"unexpected error {where}{after}") + "\n" + "".join(lines)


def write_report(text: str, folder: Path | None = None, *, survived: bool = False) -> Path:
    """Save a report (written whole, then renamed: never a half file) and return its path:
    crash-*.txt, or error-*.txt for an error Ponder survived. An OSError (a full or read-only
    disk) leaves nothing behind."""
    folder = folder or crash_dir()
    folder.mkdir(parents=True, exist_ok=True)
    prefix = ERROR_PREFIX if survived else CRASH_PREFIX
    base = f"{prefix}{_stamp()}-{os.getpid()}"
    path = folder / f"{base}.txt"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{base}-{n}.txt"
    partial = path.with_suffix(".part")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return path


@dataclass(frozen=True)
class CrashReport:
    """One report on disk."""

    path: Path

    @property
    def created(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    @property
    def survived(self) -> bool:
        """An error Ponder went on after (not a crash of the app)."""
        return self.path.name.startswith(ERROR_PREFIX)

    def text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(the report can't be read: {exc})"

    @property
    def summary(self) -> str:
        """One line: the exception, or the native crash's first line."""
        lines = [line for line in self.text().splitlines() if line.strip()]
        if NATIVE_MARKER.strip() in lines:
            after = lines[lines.index(NATIVE_MARKER.strip()) + 1 :]
            return after[0].strip() if after else "native crash"
        tail = [line for line in lines if not line.startswith((" ", "\t"))]
        return tail[-1] if tail else self.path.name

    def delete(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def _pid_of(path: Path) -> int | None:
    parts = path.stem.split("-")  # native-YYYYmmdd-HHMMSS-PID
    try:
        return int(parts[3])
    except (IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    import psutil

    return bool(psutil.pid_exists(pid))


def _offered(folder: Path) -> set[str]:
    try:
        return set((folder / OFFERED_FILE).read_text(encoding="utf-8").split())
    except OSError:
        return set()


def native_crash(text: str) -> str:
    """What faulthandler wrote after the armed file's header: empty when the process was
    killed (SIGKILL, a power cut) rather than crashed. Padding of NUL bytes that a file system
    may leave in a file cut short counts as nothing."""
    _, marker, crash = text.partition(NATIVE_MARKER)
    return crash.replace("\x00", "").strip() if marker else ""


def collect_native(folder: Path) -> None:
    """Turn native-crash files of dead processes into reports; drop the empty ones."""
    for path in folder.glob("native-*.log"):
        pid = _pid_of(path)
        if pid is not None and _alive(pid):
            continue  # a running Ponder's (or our own) armed file
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        with contextlib.suppress(OSError):
            if native_crash(text):
                path.replace(
                    path.with_name(path.name.replace("native-", "crash-", 1)[:-4] + ".txt")
                )
            else:
                path.unlink()


def all_reports(folder: Path | None = None) -> list[CrashReport]:
    """Every report in the folder, crashes and errors survived, newest first (a native one
    with no crash in it is dropped)."""
    folder = folder or crash_dir()
    collect_native(folder)
    reports = []
    paths = [*folder.glob(f"{CRASH_PREFIX}*.txt"), *folder.glob(f"{ERROR_PREFIX}*.txt")]
    for path in paths:
        report = CrashReport(path)
        text = report.text()
        if NATIVE_MARKER in text and not native_crash(text):
            report.delete()  # the armed file of a killed process, kept by an older Ponder
            continue
        reports.append(report)
    return sorted(reports, key=lambda r: (r.created, r.path.name), reverse=True)


def pending_reports(folder: Path | None = None) -> list[CrashReport]:
    """Crashes not yet offered to the user, newest first (errors Ponder survived are not
    offered: the app did not close)."""
    folder = folder or crash_dir()
    seen = _offered(folder)
    return [r for r in all_reports(folder) if not r.survived and r.path.name not in seen]


def mark_offered(reports: list[CrashReport], folder: Path | None = None) -> None:
    """Remember that these reports were shown, so the next start does not offer them again
    (best-effort: on a full or read-only disk they are offered again next time)."""
    folder = folder or crash_dir()
    if not reports:
        return
    names = _offered(folder) | {r.path.name for r in reports}
    present = {p.name for p in folder.glob(f"{CRASH_PREFIX}*.txt")}
    partial = folder / f"{OFFERED_FILE}.part"
    try:
        partial.write_text("\n".join(sorted(names & present)) + "\n", encoding="utf-8")
        partial.replace(folder / OFFERED_FILE)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()


ExcHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


class CrashHandler:
    """Installs the hooks; `on_expected` gets PonderErrors, `on_report` each new report's path."""

    def __init__(
        self,
        folder: Path | None = None,
        *,
        on_expected: Callable[[BaseException], None] | None = None,
        on_report: Callable[[Path], None] | None = None,
    ) -> None:
        self.folder = folder or crash_dir()
        self.on_expected = on_expected
        self.on_report = on_report
        self.native_path: Path | None = None
        self._native_file: IO[str] | None = None
        self._previous_hook: ExcHook | None = None
        self._previous_thread_hook: Callable[[threading.ExceptHookArgs], object] | None = None
        self._faulthandler_was_on = False
        self.surviving = False  # an exception now does not end the process (see running())

    @contextmanager
    def running(self) -> Iterator[None]:
        """While an event loop runs: an exception that reaches the hook was raised in a
        callback (a Qt slot), and the loop goes on; it is reported as an error, not a crash."""
        before, self.surviving = self.surviving, True
        try:
            yield
        finally:
            self.surviving = before

    def install(self, *, native: bool = True) -> None:
        """Take over sys.excepthook and threading.excepthook; arm faulthandler with a file."""
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        self._faulthandler_was_on = faulthandler.is_enabled()
        sys.excepthook = self.handle
        threading.excepthook = self._handle_thread
        if native:
            self._arm_faulthandler()

    def uninstall(self) -> None:
        """Restore the hooks; remove the native-crash file if nothing crashed."""
        if self._previous_hook is not None:
            sys.excepthook = self._previous_hook
        if self._previous_thread_hook is not None:
            threading.excepthook = self._previous_thread_hook
        self._previous_hook = self._previous_thread_hook = None
        if self._native_file is not None:
            faulthandler.disable()
            if self._faulthandler_was_on:  # as it was before (to stderr, as Python's -X does)
                with contextlib.suppress(ValueError, OSError):
                    faulthandler.enable(all_threads=True)
            with contextlib.suppress(OSError):
                self._native_file.close()
            self._native_file = None
            if self.native_path is not None:
                with contextlib.suppress(OSError):
                    self.native_path.unlink()

    def _arm_faulthandler(self) -> None:
        """Open the file a native crash is written to; on a full or read-only disk, go without."""
        path = self.folder / f"native-{_stamp()}-{os.getpid()}.log"
        native: IO[str] | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            native = open(path, "w", encoding="utf-8")  # noqa: SIM115
            native.write(_header("native crash (the process died)") + NATIVE_MARKER)
            native.flush()
        except OSError:
            if native is not None:
                with contextlib.suppress(OSError):
                    native.close()  # its buffer can't be written either
                with contextlib.suppress(OSError):
                    path.unlink()
            return
        self.native_path, self._native_file = path, native
        faulthandler.enable(native, all_threads=True)

    def handle(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        thread: str | None = None,
    ) -> None:
        """The excepthook: expected errors to on_expected, the rest into a report (an error
        report when the process goes on: in a thread, or in a running event loop)."""
        if issubclass(exc_type, PonderError) and self.on_expected is not None:
            self.on_expected(exc)
            return
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        survived = self.surviving or thread is not None
        text = format_report(exc_type, exc, tb, thread=thread, survived=survived)
        try:
            path = write_report(text, self.folder, survived=survived)
        except OSError:
            path = None
        if sys.stderr is not None:  # a windowed bundle on Windows has none
            traceback.print_exception(exc_type, exc, tb, file=sys.stderr)
        if path is not None and self.on_report is not None:
            self.on_report(path)

    def _handle_thread(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else None
        self.handle(args.exc_type, args.exc_value, args.exc_traceback, thread=name)
