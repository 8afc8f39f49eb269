"""The composer's files, without a model: the paperclip, drops and pastes, chips that read and
count off the GUI thread, files that can't be attached, and the choices of a file too long for
the context. Real files, real Qt events, real PDF and Word files."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from desktop.chat.attachments import AttachmentChip, FileDrops
from desktop.chat.composer import LONG_PASTE_CHARS, Composer
from model_runtime.attachments.budget import ContextRoom, estimate_tokens
from model_runtime.attachments.limits import Limits
from tests.attachment_files import pages_with_facts, write_docx, write_pdf

READ_MS = 30_000  # a PDF is read by a child process: generous on a busy 2-core machine


@pytest.fixture
def composer(qtbot: Any) -> Composer:
    composer = Composer()
    qtbot.addWidget(composer)
    composer.resize(800, 200)
    composer.show()
    qtbot.waitExposed(composer)
    composer.set_can_send(True)
    return composer


def ready(qtbot: Any, composer: Composer, count: int = 1) -> list[AttachmentChip]:
    """Wait until `count` chips have been read and counted (or failed)."""
    chips = composer.attachments.chips
    qtbot.waitUntil(
        lambda: len(chips) == count and all(c.state in ("ready", "failed") for c in chips),
        timeout=READ_MS,
    )
    return list(chips)


def file_mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    return mime


def drop(target: QWidget, mime: QMimeData) -> QDropEvent:
    """A real drag entering the widget, then the drop, as Qt delivers them."""
    point = target.rect().center()
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(
        point, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    dropped = QDropEvent(
        QPointF(point), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(target, dropped)
    return dropped


def test_the_paperclip_attaches_files_as_chips(
    composer: Composer, qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Plan\n\nBuy flour, then bake.\n")
    code = tmp_path / "bug.py"
    code.write_text("def add(a, b):\n    return a - b\n")
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", lambda *_a, **_k: ([str(notes), str(code)], "")
    )
    assert not composer.attachments.isVisible()
    qtbot.mouseClick(composer.attach_button, Qt.MouseButton.LeftButton)
    first, second = ready(qtbot, composer, 2)
    assert composer.attachments.isVisible()
    assert (first.name.text(), first.badge.text()) == ("notes.md", "TXT")
    size = notes.stat().st_size
    assert first.details.text() == (
        f"Text · {size} B · ≈ {estimate_tokens(notes.read_text()):,} tokens"  # no model: estimated
    )
    assert second.name.text() == "bug.py" and not second.status.isVisible()
    assert composer.button.isEnabled()
    # the same file again is not a second chip
    composer.attach_paths([str(tmp_path / "." / "notes.md")])
    assert len(composer.attachments.chips) == 2
    qtbot.mouseClick(first.remove, Qt.MouseButton.LeftButton)
    assert [c.name.text() for c in composer.attachments.chips] == ["bug.py"]


def test_counts_come_from_the_counter_the_window_gives(
    composer: Composer, qtbot: Any, tmp_path: Path
) -> None:
    composer.attachments.count = lambda text: len(text.split())  # the engine's, in the window
    (tmp_path / "words.txt").write_text("one two three four five")
    composer.attach_paths([str(tmp_path / "words.txt")])
    [chip] = ready(qtbot, composer)
    assert chip.details.text().endswith("· 5 tokens") and chip.tokens == 5


def test_files_dropped_on_the_window_or_the_box_are_attached(
    composer: Composer, qtbot: Any, tmp_path: Path
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    FileDrops(window, composer.attach_paths)
    first, second = tmp_path / "a.txt", tmp_path / "b.csv"
    first.write_text("alpha")
    second.write_text("x,y\n1,2\n")
    assert drop(window, file_mime(first)).isAccepted()
    ready(qtbot, composer, 1)
    drop(composer.edit.viewport(), file_mime(second))  # onto the prompt box itself
    chips = ready(qtbot, composer, 2)
    assert [c.name.text() for c in chips] == ["a.txt", "b.csv"]
    assert composer.edit.toPlainText() == ""  # the file went to a chip, not into the text
    plain = QMimeData()
    plain.setText("just words")
    enter = QDragEnterEvent(
        QPoint(1, 1),
        Qt.DropAction.CopyAction,
        plain,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()  # the window takes files, not text


def test_a_pasted_file_is_attached_and_a_long_text_is_offered_as_one(
    composer: Composer, qtbot: Any, tmp_path: Path
) -> None:
    path = tmp_path / "report.txt"
    path.write_text("quarterly figures")
    clipboard = QGuiApplication.clipboard()
    clipboard.setMimeData(file_mime(path))
    composer.edit.setFocus()
    composer.edit.paste()
    [chip] = ready(qtbot, composer)
    assert chip.name.text() == "report.txt" and composer.edit.toPlainText() == ""

    clipboard.setText("short words")
    composer.edit.paste()
    assert composer.edit.toPlainText() == "short words"
    composer.edit.clear()

    long_text = "A log line that goes on and on.\n" * (LONG_PASTE_CHARS // 30)
    clipboard.setText(long_text)
    composer.edit.paste()
    assert composer.edit.toPlainText() == "" and composer.paste_offer.isVisible()
    assert f"{len(long_text):,} characters" in composer.paste_offer.label.text()
    qtbot.mouseClick(composer.paste_offer.attach_button, Qt.MouseButton.LeftButton)
    pasted = ready(qtbot, composer, 2)[1]
    assert pasted.name.text() == "Pasted text.txt" and pasted.file is not None
    assert pasted.file.text == long_text and not composer.paste_offer.isVisible()

    clipboard.setText(long_text)
    composer.edit.paste()
    qtbot.mouseClick(composer.paste_offer.paste_button, Qt.MouseButton.LeftButton)
    assert composer.edit.toPlainText() == long_text and len(composer.attachments.chips) == 2


def test_pdf_and_word_chips_say_what_they_are(
    composer: Composer, qtbot: Any, qapp: Any, tmp_path: Path
) -> None:
    pdf = write_pdf(tmp_path / "minutes.pdf", pages_with_facts(3, {}))
    docx = write_docx(tmp_path / "letter.docx", "Dear reader", ["Hello."])
    composer.attach_paths([str(pdf), str(docx)])
    first, second = ready(qtbot, composer, 2)
    assert first.badge.text() == "PDF" and first.details.text().startswith("PDF · 3 pages · ")
    assert second.badge.text() == "DOCX" and second.details.text().startswith("Word · ")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(200), "is a PNG image, not text"),
        ("empty.txt", b"", "is empty"),
        ("broken.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 8, "is damaged"),
        ("fake.docx", b"not a zip at all", "not a Word document"),
    ],
)
def test_a_file_that_cant_be_attached_says_why_and_blocks_sending(
    composer: Composer, qtbot: Any, tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    (tmp_path / name).write_bytes(content)
    composer.edit.setPlainText("What is in it?")
    composer.attach_paths([str(tmp_path / name)])
    [chip] = ready(qtbot, composer)
    assert chip.state == "failed" and chip.property("failed") is True
    assert words in chip.status.text() and chip.status.isVisible()
    assert not composer.button.isEnabled()
    assert composer.button.toolTip() == f"Remove {name}: it can't be sent"
    with qtbot.assertNotEmitted(composer.send_requested):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    qtbot.mouseClick(chip.remove, Qt.MouseButton.LeftButton)
    assert composer.button.isEnabled() and composer.edit.toPlainText() == "What is in it?"


def test_a_file_over_the_size_limit(composer: Composer, qtbot: Any, tmp_path: Path) -> None:
    composer.attachments.limits = Limits(max_bytes=1024)
    (tmp_path / "big.log").write_bytes(b"line\n" * 1000)
    composer.attach_paths([str(tmp_path / "big.log")])
    [chip] = ready(qtbot, composer)
    assert "too large to attach (4.9 KiB; the limit is 1.0 KiB)" in chip.status.text()


def test_reading_a_long_pdf_shows_progress_and_can_be_stopped(
    composer: Composer, qtbot: Any, qapp: Any, tmp_path: Path
) -> None:
    pdf = write_pdf(tmp_path / "long.pdf", pages_with_facts(40, {}))
    composer.attach_paths([str(pdf)])
    [chip] = composer.attachments.chips
    assert chip.badge.text() == "PDF"  # from its name, until it is read
    qtbot.waitUntil(lambda: chip.status.text().startswith("Reading page "), timeout=READ_MS)
    assert chip.status.text().endswith(" of 40…")
    assert not chip.larger.isVisible() and not chip.passages.isVisible()
    assert composer.button.toolTip() == "Wait: long.pdf is still being read"
    qtbot.mouseClick(chip.remove, Qt.MouseButton.LeftButton)  # stops the reader
    assert composer.attachments.chips == [] and not composer.attachments.isVisible()
    qtbot.waitUntil(lambda: not composer.attachments.tasks.busy, timeout=READ_MS)
    qtbot.waitUntil(lambda: multiprocessing.active_children() == [], timeout=READ_MS)


def test_a_file_too_long_for_the_context_offers_a_larger_one_or_passages(
    composer: Composer, qtbot: Any, tmp_path: Path
) -> None:
    strip = composer.attachments
    strip.count = lambda text: len(text) // 4
    (tmp_path / "small.txt").write_text("tiny")
    (tmp_path / "book.txt").write_text("word " * 8000)  # 10,000 tokens by this counter
    strip.set_context(ContextRoom(n_ctx=8192, max_tokens=1024, max_ctx=32_768))
    composer.attach_paths([str(tmp_path / "small.txt"), str(tmp_path / "book.txt")])
    small, book = ready(qtbot, composer, 2)
    assert small.fits and not book.fits and book.property("tooLong") is True
    free = 8192 - 1024 - 256 - (1 + 24)
    assert book.status.text() == (
        f"Too long for the context: it needs 10,024 tokens and {free:,} are free."
    )
    assert book.larger.isVisible() and book.larger.text() == "Reload with a 12,288-token context"
    assert book.passages.isVisible()
    assert composer.button.toolTip() == "book.txt is too long for the context: choose what to do"
    with qtbot.waitSignal(strip.larger_context_requested) as asked:
        qtbot.mouseClick(book.larger, Qt.MouseButton.LeftButton)
    assert asked.args == [12_288]
    strip.set_context(ContextRoom(n_ctx=12_288, max_tokens=1024, max_ctx=32_768))  # reloaded
    assert book.fits and not book.status.isVisible() and composer.button.isEnabled()

    strip.set_context(ContextRoom(n_ctx=8192, max_tokens=1024, max_ctx=8192))  # none larger
    assert not book.fits and not book.larger.isVisible() and book.passages.isVisible()
    qtbot.mouseClick(book.passages, Qt.MouseButton.LeftButton)
    assert book.fits and book.mode == "passages" and composer.button.isEnabled()
    assert book.details.text().endswith("· relevant passages")
    with qtbot.waitSignal(composer.send_requested) as sent:
        composer.edit.setPlainText("What is the word?")
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    text, files = sent.args
    assert text == "What is the word?" and [f.mode for f in files] == ["whole", "passages"]
    assert [f.tokens for f in files] == [1, 10_000] and strip.chips == []


def test_a_file_that_changed_or_went_away_is_not_sent(
    composer: Composer, qtbot: Any, tmp_path: Path
) -> None:
    kept, changed, gone = (tmp_path / n for n in ("kept.txt", "changed.txt", "gone.txt"))
    for path in (kept, changed, gone):
        path.write_text(f"first version of {path.name}")
    composer.attach_paths([str(kept), str(changed), str(gone)])
    chips = ready(qtbot, composer, 3)
    changed.write_text("second version, longer than the first")
    gone.unlink()
    composer.edit.setPlainText("Compare them.")
    with qtbot.assertNotEmitted(composer.send_requested, wait=100):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: chips[2].state == "failed", timeout=READ_MS)
    assert chips[0].state == "ready"
    assert "changed after you attached it" in chips[1].status.text()
    assert "no longer there" in chips[2].status.text()
    assert composer.edit.toPlainText() == "Compare them." and not composer.button.isEnabled()
    for chip in chips[1:]:
        qtbot.mouseClick(chip.remove, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(composer.send_requested) as sent:
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert [f.file.name for f in sent.args[1]] == ["kept.txt"]
