"""Attach a file: check it, read its bytes, and turn them into text by kind.

Text and HTML are read here; PDF and Word files in a child process (child.py). Every refusal
is an AttachmentError that names the file and says what to do.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from model_runtime.attachments.child import read_in_child
from model_runtime.attachments.files import AttachedFile, Kind, Page
from model_runtime.attachments.limits import Limits, load_limits
from model_runtime.attachments.text import decode_text, html_text, looks_like_html
from model_runtime.errors import AttachmentError
from model_runtime.units import size_text

CHUNK = 1 << 20
PASTED_NAME = "Pasted text.txt"
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})

Progress = Callable[[str, int, int], None]  # ("bytes" or "pages", done, total)


def sniff_kind(name: str, head: bytes) -> Kind:
    """What to read the file as: by its first bytes, then by its name."""
    suffix = Path(name).suffix.lower()
    if head.startswith(b"%PDF-"):
        return "pdf"
    if suffix == ".docx":
        return "docx"
    if suffix == ".pdf":
        return "pdf"  # without the header: the reader says it is damaged
    if suffix in HTML_SUFFIXES or looks_like_html(head):
        return "html"
    return "text"


def read_attachment(
    path: str | os.PathLike[str],
    *,
    limits: Limits | None = None,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> AttachedFile:
    """Read a file for a question; AttachmentError says why one can't be attached."""
    limits = limits or load_limits()
    path = Path(path)
    name = path.name
    stat = _stat(path, limits)
    data = _read_bytes(path, stat.st_size, cancel, progress)
    sha256 = hashlib.sha256(data).hexdigest()
    kind = sniff_kind(name, data[:1024])
    if kind in ("pdf", "docx"):
        del data
        pages = read_in_child(
            str(path),
            kind,
            stall_seconds=limits.stall_seconds,
            cancel=cancel,
            progress=(lambda done, total: progress("pages", done, total)) if progress else None,
        )
    else:
        text = decode_text(data, name)
        pages = [Page(None, html_text(text) if kind == "html" else text)]
    if not any(page.text.strip() for page in pages):
        raise _no_text(name, kind)
    return AttachedFile(name, kind, stat.st_size, sha256, tuple(pages), str(path), stat.st_mtime_ns)


def attach_text(text: str, name: str = PASTED_NAME) -> AttachedFile:
    """Pasted text as an attachment (no file behind it: nothing to check before sending)."""
    if not text.strip():
        raise AttachmentError("There is no text to attach.", reason="empty")
    data = text.encode("utf-8")
    return AttachedFile(
        name, "text", len(data), hashlib.sha256(data).hexdigest(), (Page(None, text),)
    )


def _stat(path: Path, limits: Limits) -> os.stat_result:
    name = path.name
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise AttachmentError(f"{name} was not found.", reason="missing") from None
    except OSError as exc:
        raise _unreadable(name, exc) from None
    if path.is_dir():
        raise AttachmentError(
            f"{name} is a folder. Attach the files inside it instead.", reason="folder"
        )
    if stat.st_size > limits.max_bytes:
        raise AttachmentError(
            f"{name} is too large to attach ({size_text(stat.st_size)}; the limit is "
            f"{size_text(limits.max_bytes)}). Attach a part of it, or raise the limit in "
            "attachments.json in Ponder's settings folder.",
            reason="too_large",
        )
    if stat.st_size == 0:
        raise AttachmentError(f"{name} is empty.", reason="empty")
    return stat


def _read_bytes(
    path: Path, size: int, cancel: threading.Event | None, progress: Progress | None
) -> bytes:
    chunks: list[bytes] = []
    done = 0
    try:
        with open(path, "rb") as file:
            while chunk := file.read(CHUNK):
                if cancel is not None and cancel.is_set():
                    raise AttachmentError(f"Reading {path.name} was cancelled.", reason="cancelled")
                chunks.append(chunk)
                done += len(chunk)
                if progress is not None and size > CHUNK:
                    progress("bytes", done, size)
    except OSError as exc:
        raise _unreadable(path.name, exc) from None
    return b"".join(chunks)


def _unreadable(name: str, exc: OSError) -> AttachmentError:
    if isinstance(exc, PermissionError):
        return AttachmentError(
            f"Ponder may not read {name}: you don't have permission to open it. Change its "
            "permissions, or copy it somewhere you can read it.",
            reason="unreadable",
        )
    return AttachmentError(f"{name} can't be read ({exc.strerror or exc}).", reason="unreadable")


def _no_text(name: str, kind: str) -> AttachmentError:
    if kind == "pdf":
        return AttachmentError(
            f"{name} has no text layer: it looks like scanned pages (pictures of text). Run it "
            "through an OCR tool first (for example OCRmyPDF, or your scanner's software) and "
            "attach the result.",
            reason="no_text",
        )
    return AttachmentError(f"{name} has no text in it.", reason="empty")
