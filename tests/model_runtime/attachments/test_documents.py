"""PDF and Word files: real ones written in the test (Qt's QPdfWriter, python-docx), read back
in a child process; encrypted, damaged, scanned and slow ones are refused in plain words."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

from model_runtime.attachments.limits import Limits
from model_runtime.attachments.reading import read_attachment
from model_runtime.errors import AttachmentError
from tests.attachment_files import (
    write_docx,
    write_encrypted_pdf,
    write_pdf,
    write_scanned_pdf,
)

KNOWN = "The secret ingredient of the harbour soup is cardamom."


@pytest.fixture
def report(qapp: Any, tmp_path: Path) -> Path:
    """A real four-page PDF with a known sentence on page 3."""
    pages = [f"Page one talks about weather. Filler text {n}." for n in range(4)]
    pages[2] = f"Minutes of the cooking club. {KNOWN} Everyone agreed."
    return write_pdf(tmp_path / "report.pdf", pages)


def test_a_pdf_is_read_page_by_page_with_its_numbers(report: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    file = read_attachment(report, progress=lambda *step: seen.append(step))
    assert file.kind == "pdf" and [p.number for p in file.pages] == [1, 2, 3, 4]
    assert KNOWN in file.pages[2].text  # words joined by single spaces, not pypdf's tabs
    assert "\t" not in file.text and file.text.count("\f") == 3
    assert ("pages", 4, 4) in seen
    assert file.describe().startswith("PDF · 4 pages · ")


def test_a_password_protected_pdf_is_refused(report: Path, tmp_path: Path) -> None:
    locked = write_encrypted_pdf(report, tmp_path / "locked.pdf")
    with pytest.raises(AttachmentError, match="protected by a password") as refused:
        read_attachment(locked)
    assert refused.value.reason == "encrypted"


def test_a_pdf_encrypted_without_a_password_to_open_it_is_read(
    report: Path, tmp_path: Path
) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(report))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "no-copy.pdf"
    with open(path, "wb") as out:
        writer.write(out)
    assert KNOWN in read_attachment(path).text


def test_a_scanned_pdf_without_a_text_layer_suggests_ocr(qapp: Any, tmp_path: Path) -> None:
    scan = write_scanned_pdf(tmp_path / "scan.pdf")
    with pytest.raises(AttachmentError, match=r"no text layer.*OCR") as refused:
        read_attachment(scan)
    assert refused.value.reason == "no_text"


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 3],  # cut off
        lambda data: b"%PDF-1.4\n" + bytes(range(256)) * 20,  # a header and garbage
        lambda data: data.replace(b"/Type /Page", b"/Tpye /Pgae").replace(b"xref", b"xerf"),
    ],
    ids=["truncated", "garbage", "broken-objects"],
)
def test_a_damaged_pdf_is_refused_and_the_caller_lives(
    report: Path, tmp_path: Path, damage: Any
) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(damage(report.read_bytes()))
    with pytest.raises(AttachmentError, match=r"broken\.pdf is damaged") as refused:
        read_attachment(broken)
    assert refused.value.reason == "damaged"


def test_a_reader_that_goes_silent_is_stopped(report: Path) -> None:
    """The stall limit (not a page within it) ends the child; the message says where."""
    with pytest.raises(AttachmentError, match="took too long at its start") as refused:
        read_attachment(report, limits=Limits(stall_seconds=0.001))
    assert refused.value.reason == "timeout"


def test_reading_a_pdf_can_be_cancelled(report: Path) -> None:
    cancel = threading.Event()

    def cancel_at_first_page(unit: str, done: int, _total: int) -> None:
        if unit == "pages" and done == 1:
            cancel.set()

    with pytest.raises(AttachmentError, match="cancelled"):
        read_attachment(report, cancel=cancel, progress=cancel_at_first_page)


def test_a_word_document_keeps_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    path = write_docx(
        tmp_path / "letter.docx",
        "Quarterly notes",
        ["First paragraph.", KNOWN],
        table=[("Item", "Price"), ("Soup", "4.50")],
    )
    file = read_attachment(path)
    assert file.kind == "docx" and file.describe().startswith("Word · ")
    assert file.text == (
        f"# Quarterly notes\n\nFirst paragraph.\n\n{KNOWN}\n\nItem | Price\nSoup | 4.50"
    )


def test_a_docx_that_is_not_a_zip_or_not_a_word_file(tmp_path: Path) -> None:
    fake = tmp_path / "fake.docx"
    fake.write_text("just some text saved with the wrong name")
    with pytest.raises(AttachmentError, match=r"not a Word document.*zip") as refused:
        read_attachment(fake)
    assert refused.value.reason == "damaged"
    other = tmp_path / "archive.docx"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("hello.txt", "a zip, but not a Word document")
    with pytest.raises(AttachmentError, match=r"archive\.docx is damaged"):
        read_attachment(other)
