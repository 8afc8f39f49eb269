"""Read a PDF or Word file in a child process: its pages come back one by one; a reader that
crashes, runs out of memory or goes silent for too long takes only the child down."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from model_runtime.attachments.files import Page
from model_runtime.errors import AttachmentError

POLL_SECONDS = 0.05
MEMORY_LIMIT = 4 * 1024**3  # address space of the reader: a zip bomb can't eat the machine
NICENESS = 10  # the reader yields the CPU to the window (and to the model)

Progress = Callable[[int, int], None]  # (pages read, page count)


def _stay_in_the_background() -> None:
    """Less memory than would hurt, and lower priority than the window: the reader takes a
    whole core for a long PDF, and the window must keep answering meanwhile."""
    with contextlib.suppress(Exception):  # not on every OS
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    with contextlib.suppress(Exception):
        os.nice(NICENESS)


def reader_main(conn: Any, path: str, kind: str) -> None:
    """The child: send ("page", number, count, text) per page, then ("done",) or ("error", …)."""
    from model_runtime.attachments.documents import READERS

    _stay_in_the_background()
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not for people
    name = os.path.basename(path)
    try:
        for number, count, text in READERS[kind](path):
            conn.send(("page", number, count, text))
        conn.send(("done",))
    except AttachmentError as exc:
        conn.send(("error", exc.reason, str(exc)))
    except MemoryError:
        conn.send(("error", "damaged", f"{name} needs more memory to read than Ponder allows."))
    except Exception as exc:
        conn.send(("error", "damaged", f"{name} is damaged: Ponder couldn't read it ({exc})."))
    finally:
        conn.close()


def read_in_child(
    path: str,
    kind: str,
    *,
    stall_seconds: float,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> list[Page]:
    """The pages of a PDF or .docx, read by a child process; AttachmentError if it can't be
    read, was cancelled, or the reader went stall_seconds without finishing a page."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=reader_main, args=(child, path, kind), name="ponder-reader", daemon=True
    )
    process.start()
    child.close()
    try:
        return _collect(parent, process, os.path.basename(path), stall_seconds, cancel, progress)
    finally:
        if process.is_alive():
            process.kill()
        process.join(timeout=5)
        parent.close()


def _collect(
    conn: Any,
    process: Any,
    name: str,
    stall_seconds: float,
    cancel: threading.Event | None,
    progress: Progress | None,
) -> list[Page]:
    pages: list[Page] = []
    last = time.monotonic()
    while True:
        if cancel is not None and cancel.is_set():
            raise AttachmentError(f"Reading {name} was cancelled.", reason="cancelled")
        try:
            message = conn.recv() if conn.poll(POLL_SECONDS) else None
        except (EOFError, OSError):
            message = ("error", "damaged", f"Reading {name} failed: its reader stopped.")
        if message is None:
            if not process.is_alive() and not conn.poll(0):
                raise AttachmentError(
                    f"Reading {name} failed: its reader stopped (exit code {process.exitcode}); "
                    "the file may be damaged.",
                    reason="damaged",
                )
            if time.monotonic() - last > stall_seconds:
                where = f"page {len(pages) + 1}" if pages else "its start"
                raise AttachmentError(
                    f"Reading {name} took too long at {where} (over {stall_seconds:.0f} s); "
                    "the file may be damaged.",
                    reason="timeout",
                )
            continue
        if message[0] == "page":
            _, number, count, text = message
            pages.append(Page(number, text))
            last = time.monotonic()
            if progress is not None:
                progress(len(pages), count)
        elif message[0] == "done":
            return pages
        else:
            raise AttachmentError(message[2], reason=message[1])
