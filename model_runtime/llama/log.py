"""What llama.cpp said: the tail of its log, the line that explains a failure, how it ended.

llama.cpp runs in child processes (the engine worker, the hardware check, the memory probe)
whose stderr goes to a log file; these read that log and the exit code back into words.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

TAIL_BYTES = 16384
# A debugger's backtrace after an abort fills 10-20 KiB: look further back for the abort line.
CRASH_TAIL_BYTES = 128 * 1024
# ggml_abort() prints "file:line: message" (GGML_ASSERT's message: "GGML_ASSERT(cond) failed"),
# then, where gdb or lldb is installed, a backtrace of the process, then aborts.
_ABORT = re.compile(
    r"^(?P<file>\S+\.(?:c|cc|cpp|cu|h|hpp|m|mm)):(?P<line>\d+): (?P<message>.+?)\s*$", re.M
)
# How a process that called abort() ends: killed by SIGABRT; exit code 3 on Windows.
ABORT_EXITCODES = frozenset({-int(signal.SIGABRT), 3})
_ASSERT = re.compile(r"GGML_ASSERT\(.*\) failed$")


def log_tail(path: str | Path, size: int = TAIL_BYTES) -> str:
    """The last `size` bytes of a log, decoded; '' when it can't be read."""
    try:
        with open(path, "rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - size))
            return log.read().decode("utf-8", "replace")
    except OSError:
        return ""


def describe_exit(exitcode: int | None) -> str:
    """A person's words for how a process ended."""
    if exitcode is None:
        return "stopped answering"
    if exitcode >= 0:
        return f"exited with code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    hint = {
        "SIGILL": " — this llama.cpp build uses processor instructions this CPU lacks",
        "SIGKILL": " — often the system running out of memory",
        "SIGSEGV": " — a crash inside llama.cpp",
        "SIGABRT": " — llama.cpp aborted",
        "SIGBUS": " — the model file changed or its disk went away while in use",
    }.get(name, "")
    return f"was killed by {name}{hint}"


def allocation_failure(log_path: str | Path) -> str | None:
    """The line where llama.cpp said it could not allocate memory, from the tail of its log."""
    found = re.findall(
        r"^.*(?:failed to allocate|insufficient memory|out of memory).*$",
        log_tail(log_path, 8192),
        re.M,
    )
    return found[-1].strip() if found else None


def unknown_architecture(log_path: str | Path) -> str | None:
    """The architecture llama.cpp said it doesn't know, from the tail of its log."""
    tail = log_tail(log_path, 8192)
    marker = "unknown model architecture: '"
    start = tail.rfind(marker)
    if start < 0:
        return None
    start += len(marker)
    end = tail.find("'", start)
    return tail[start:end] if end > start else None


def _last_abort(text: str) -> re.Match[str] | None:
    found = list(_ABORT.finditer(text))
    return found[-1] if found else None


def abort_message(log_path: str | Path) -> str | None:
    """Where and why llama.cpp aborted, from its log: "at a failed check in llama-model.cpp,
    line 1328: GGML_ASSERT(…) failed" (or "in file, line N: message" for a GGML_ABORT)."""
    found = _last_abort(log_tail(log_path, CRASH_TAIL_BYTES))
    if found is None:
        return None
    where = f"in {Path(found['file']).name}, line {found['line']}: {found['message']}"
    return f"at a failed check {where}" if _ASSERT.match(found["message"]) else where


def crash_tail(log_path: str | Path, count: int, *, aborted: bool = False) -> str:
    """The last lines of a crashed process's log, for a person. After an abort, the lines up to
    llama.cpp's abort line: the debugger's backtrace that follows stays in the file."""
    text = log_tail(log_path, CRASH_TAIL_BYTES if aborted else TAIL_BYTES)
    found = _last_abort(text) if aborted else None
    if found is not None:
        text = text[: found.end()]
    return "\n".join(text.splitlines()[-count:])
