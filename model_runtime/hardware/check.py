"""Hardware detection with llama.cpp asked in a child process, so a bad build can't kill the caller.

Asking llama.cpp what it was built for loads its libraries (and GPU drivers); a CPU build
that uses instructions this processor lacks dies with SIGILL right there. The GUI must
survive that, as it survives a crashing engine: the question is asked in a spawned child.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from typing import Any

from model_runtime.hardware.detect import HardwareInfo, detect_hardware
from model_runtime.llama.log import describe_exit

TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class HardwareCheck:
    """What detection found; `problem` says why the llama.cpp build is unknown (build is None)."""

    hardware: HardwareInfo
    problem: str = ""


def _child(conn: Any) -> None:
    try:
        conn.send(("ok", detect_hardware()))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def check_hardware(timeout: float = TIMEOUT_SECONDS) -> HardwareCheck:
    """detect_hardware() in a child process; without the build's details if the child fails."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(sender,), name="ponder-hardware", daemon=True)
    process.start()
    sender.close()
    problem = ""
    try:
        if receiver.poll(timeout):
            kind, value = receiver.recv()
            if kind == "ok":
                return HardwareCheck(value)
            problem = f"llama.cpp could not describe its build ({value})."
        else:
            problem = f"llama.cpp did not describe its build within {timeout:.0f} s."
    except (EOFError, OSError):
        process.join(5)
        problem = (
            f"Asking llama.cpp about its build failed: the check {describe_exit(process.exitcode)}."
        )
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    return HardwareCheck(detect_hardware(with_build=False), problem)
