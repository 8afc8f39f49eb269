"""PDF (pypdf) and Word .docx (python-docx) text, page by page; run in a child process
(model_runtime.attachments.child) so that a damaged file can't take the caller down."""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterator

from model_runtime.errors import AttachmentError

PageText = tuple[int | None, int, str]  # (page number or None, page count, text)
_SPACES = re.compile(r"[ \t\u00a0]+")


def clean_pdf_text(text: str) -> str:
    """pypdf's text with single spaces (it often separates words with tabs), no page breaks."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\f", "\n").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).replace("\x00", "").strip()


def _damaged(name: str, exc: BaseException) -> AttachmentError:
    return AttachmentError(
        f"{name} is damaged: Ponder couldn't read it as a PDF ({exc}).", reason="damaged"
    )


def pdf_pages(path: str) -> Iterator[PageText]:
    """Each page's text; AttachmentError for a damaged or password-protected PDF."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    name = os.path.basename(path)
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))  # only restricts printing or copying: readable
            except (DependencyError, NotImplementedError, PyPdfError):
                opened = False
            if not opened:
                raise AttachmentError(
                    f"{name} is protected by a password, so Ponder can't read its text. Open "
                    "it, save a copy without the password, and attach that.",
                    reason="encrypted",
                )
        count = len(reader.pages)
    except AttachmentError:
        raise
    except Exception as exc:  # pypdf raises many kinds on a broken file
        raise _damaged(name, exc) from exc
    if count == 0:
        raise AttachmentError(f"{name} has no pages.", reason="empty")
    for index in range(count):
        try:
            text = reader.pages[index].extract_text() or ""
        except Exception as exc:
            raise _damaged(name, exc) from exc
        yield index + 1, count, clean_pdf_text(text)


def docx_pages(path: str) -> Iterator[PageText]:
    """The document's text: paragraphs (headings marked with #) and tables, in order."""
    name = os.path.basename(path)
    if not zipfile.is_zipfile(path):
        raise AttachmentError(
            f"{name} is not a Word document: a .docx file is a zip archive and this one is "
            "not. If it is an old .doc file, save it as .docx in Word and attach that.",
            reason="damaged",
        )
    try:
        import docx
        from docx.table import Table

        document = docx.Document(path)
        blocks = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                rows = (" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows)
                blocks.append("\n".join(rows))
            else:
                blocks.append(_paragraph_text(block))
    except Exception as exc:
        raise AttachmentError(
            f"{name} is damaged: Ponder couldn't read it as a Word document ({exc}).",
            reason="damaged",
        ) from exc
    text = "\n\n".join(b for b in blocks if b.strip())
    yield None, 1, text


def _paragraph_text(paragraph) -> str:
    text = paragraph.text.strip()
    style = paragraph.style.name if paragraph.style is not None else ""
    level = style.removeprefix("Heading ").strip()
    if text and style.startswith("Heading ") and level.isdigit():
        return "#" * min(6, int(level)) + " " + text
    return text


READERS = {"pdf": pdf_pages, "docx": docx_pages}
