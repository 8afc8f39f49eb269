"""A file as read for a question: its text by page, where it came from, and whether it changed."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from model_runtime.errors import AttachmentError
from model_runtime.units import size_text

Kind = Literal["text", "pdf", "docx", "html"]
KIND_NAMES: dict[str, str] = {"text": "Text", "pdf": "PDF", "docx": "Word", "html": "HTML"}
PAGE_BREAK = "\f"  # between a PDF's pages in the stored text
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Page:
    """One page's text; number is the PDF page (1-based), None for files without pages."""

    number: int | None
    text: str


@dataclass(frozen=True)
class AttachedFile:
    """A file's text as read, with what identifies it: its name, kind, size and sha256.

    path and mtime_ns say where it was read from, to check before sending that it is still
    the same; pasted text and files taken back from a saved chat have no path.
    """

    name: str
    kind: Kind
    size: int
    sha256: str
    pages: tuple[Page, ...]
    path: str = field(default="", compare=False)
    mtime_ns: int = field(default=0, compare=False)

    @property
    def text(self) -> str:
        """The whole text; a PDF's pages are separated by PAGE_BREAK."""
        return PAGE_BREAK.join(page.text for page in self.pages)

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, self.kind)

    def describe(self) -> str:
        """ "PDF · 12 pages · 2.3 MB": what the file is, in a few words."""
        parts = [self.kind_name]
        if self.kind == "pdf":
            count = len(self.pages)
            parts.append(f"{count:,} page{'s' if count != 1 else ''}")
        parts.append(size_text(self.size))
        return " · ".join(parts)


def pages_from_text(kind: str, text: str) -> tuple[Page, ...]:
    """The pages of a stored text (see AttachedFile.text)."""
    if kind == "pdf":
        return tuple(Page(i + 1, part) for i, part in enumerate(text.split(PAGE_BREAK)))
    return (Page(None, text),)


def stored_file(name: str, kind: str, size: int, sha256: str, text: str) -> AttachedFile:
    """A file taken back from a saved chat or an export (no path: nothing to check)."""
    known: Kind = kind if kind in KIND_NAMES else "text"  # type: ignore[assignment]
    return AttachedFile(name, known, size, sha256, pages_from_text(known, text))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_unchanged(file: AttachedFile) -> None:
    """AttachmentError if the file on disk is gone or no longer what was read."""
    if not file.path:
        return
    path = Path(file.path)
    try:
        stat = path.stat()
        if stat.st_size == file.size and stat.st_mtime_ns == file.mtime_ns:
            return
        same = stat.st_size == file.size and sha256_of(path) == file.sha256
    except FileNotFoundError:
        raise AttachmentError(
            f"{file.name} is no longer there: it was moved or deleted after you attached it. "
            "Remove it, or attach it again from where it is now.",
            reason="missing",
        ) from None
    except OSError as exc:
        raise AttachmentError(
            f"{file.name} can't be read any more ({exc.strerror or exc}).", reason="unreadable"
        ) from None
    if not same:
        raise AttachmentError(
            f"{file.name} changed after you attached it. Remove it and attach it again to send "
            "the new version.",
            reason="changed",
        )


def same_file_key(path: str | os.PathLike[str]) -> str:
    """A key that is the same for two spellings of one path (attaching it twice is one chip)."""
    return os.path.normcase(os.path.realpath(path))
