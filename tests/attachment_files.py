"""Real documents for the attachment tests and the benchmark: PDFs written by Qt's QPdfWriter
(with a text layer, or only pictures, like a scan), Word files written by python-docx, and
known sentences on known pages with questions about them.

QPdfWriter needs a QGuiApplication: call these from tests that use pytest-qt's `qapp`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

# Known sentences and a question about each: retrieval must find the page a sentence is on.
FACTS: tuple[tuple[str, str], ...] = (
    ("The secret ingredient of the harbour soup is cardamom.",
     "What is the secret ingredient of the harbour soup?"),
    ("The lighthouse keeper's cat is named Biscuit.",
     "What is the lighthouse keeper's cat called?"),
    ("The bridge over the Varna river was finished in 1887.",
     "When was the bridge over the Varna river finished?"),
    ("Professor Okafor keeps her violin in a green velvet case.",
     "Where does Professor Okafor keep her violin?"),
    ("The password for the greenhouse door is tangerine seven.",
     "What is the password for the greenhouse door?"),
    ("Rainfall in Millbrook reached 214 millimetres in March.",
     "How much rainfall did Millbrook get in March?"),
    ("The expedition's compass was made by a clockmaker in Geneva.",
     "Who made the expedition's compass?"),
    ("Our orchard grows fourteen varieties of quince.",
     "How many varieties of quince does the orchard grow?"),
    ("The museum's oldest map shows an island shaped like a kettle.",
     "What shape is the island on the museum's oldest map?"),
    ("Captain Ilves banned whistling aboard the schooner Marigold.",
     "What did Captain Ilves ban aboard the Marigold?"),
    ("The bakery on Quarry Lane opens at half past five.",
     "When does the bakery on Quarry Lane open?"),
    ("Engine number nine failed because of a cracked piston ring.",
     "Why did engine number nine fail?"),
    ("The choir rehearses in the old granary every Thursday.", "Where does the choir rehearse?"),
    ("Aunt Rosalind's recipe calls for smoked paprika and honey.",
     "What does Aunt Rosalind's recipe need?"),
    ("The telescope on Harrow Hill has a mirror of sixty centimetres.",
     "How large is the mirror of the telescope on Harrow Hill?"),
    ("The treaty was signed in a tent beside the salt marsh.", "Where was the treaty signed?"),
    ("Beekeepers in Oldham harvest heather honey in late August.",
     "When do the beekeepers in Oldham harvest heather?"),
    ("The fastest sled dog on the team is a husky called Juniper.",
     "Which sled dog is the fastest on the team?"),
    ("The library's rarest book is bound in sealskin.",
     "What is the library's rarest book bound in?"),
    ("The ferry to Skerry Island leaves from pier twelve.",
     "Where does the ferry to Skerry Island leave from?"),
)  # fmt: skip

_SUBJECTS = (
    "the committee", "a visitor", "the gardener", "our neighbour", "the clerk", "the driver",
    "a student", "the council", "the manager", "the teacher", "a traveller", "the porter",
)  # fmt: skip
_VERBS = (
    "discussed", "wrote about", "looked at", "forgot", "mentioned", "counted", "painted",
    "described", "moved", "repaired", "ordered", "checked",
)  # fmt: skip
_OBJECTS = (
    "the weekly schedule", "a broken chair", "the annual report", "several letters",
    "the parking rules", "a wooden table", "the spring budget", "some old photographs",
    "the meeting notes", "a set of keys", "the kitchen window", "the morning train",
)  # fmt: skip
_ENDS = (
    "before lunch", "after the holidays", "without much fuss", "in the afternoon",
    "as usual", "for the third time", "with great care", "on a cold day",
)  # fmt: skip


def filler(seed: int, chars: int = 1500) -> str:
    """Ordinary sentences that say nothing a known sentence's question asks about."""
    rng = random.Random(seed)
    out: list[str] = []
    while sum(len(s) + 1 for s in out) < chars:
        sentence = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
        out.append((sentence + rng.choice(_ENDS)).capitalize() + ".")
    return " ".join(out)


def pages_with_facts(count: int, facts: dict[int, str], chars: int = 1500) -> list[str]:
    """count pages of filler; facts maps a 1-based page to a sentence put in its middle."""
    pages = []
    for number in range(1, count + 1):
        text = filler(number, chars)
        if number in facts:
            middle = text.find(". ", len(text) // 2) + 2
            text = f"{text[:middle]}{facts[number]} {text[middle:]}"
        pages.append(text)
    return pages


def spread_facts(pages: int, count: int = len(FACTS)) -> dict[int, int]:
    """Which page each of the first `count` facts goes on: spread over the document."""
    return {index: 1 + (index * pages + pages // 2) // count for index in range(count)}


def write_pdf(path: Path, pages: Sequence[str]) -> Path:
    """A real PDF with a text layer: one page per string, wrapped on A4."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QFont, QPageSize, QPainter, QPdfWriter

    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setResolution(72)
    painter = QPainter(writer)
    painter.setFont(QFont("DejaVu Sans", 10))
    for index, text in enumerate(pages):
        if index:
            writer.newPage()
        painter.drawText(QRectF(40, 40, 515, 760), Qt.TextFlag.TextWordWrap, text)
    painter.end()
    return path


def write_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """A PDF of pictures only, like a scan: no text layer."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QImage, QPageSize, QPainter, QPdfWriter

    image = QImage(400, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    scribble = QPainter(image)
    scribble.fillRect(QRect(20, 20, 300, 12), Qt.GlobalColor.black)
    scribble.fillRect(QRect(20, 50, 250, 12), Qt.GlobalColor.black)
    scribble.end()
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setResolution(72)
    painter = QPainter(writer)
    for index in range(pages):
        if index:
            writer.newPage()
        painter.drawImage(40, 40, image)
    painter.end()
    return path


def write_encrypted_pdf(source: Path, path: Path, password: str = "open sesame") -> Path:
    """A copy of a PDF that needs a password to open (RC4, which pypdf reads without extras)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    with open(path, "wb") as out:
        writer.write(out)
    return path


def write_docx(path: Path, heading: str, paragraphs: Sequence[str], table=()) -> Path:
    """A real Word document: a heading, paragraphs, and an optional table of rows."""
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.save(str(path))
    return path
