"""What llama.cpp said: the tail of its log, the line that explains a failure, how it ended.

llama.cpp runs in child processes (the engine worker, the hardware check, the memory probe)
whose stderr goes to a log file; these read that log and the exit code back into words.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

TAIL_BYTES = 16384


def log_tail(path: str | Path, size: int = TAIL_BYTES) -> str:
    """The last `size` bytes of a log, decoded; '' when it can't be read."""
    try:
        with open(path, "rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - size))
            return log.read().decode("utf-8", "replace")
    except OSError:
        return ""


def tail_lines(path: str | Path, count: int) -> str:
    """The last lines of a log file, without reading all of it."""
    return "\n".join(log_tail(path).splitlines()[-count:])


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
