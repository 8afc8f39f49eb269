"""Attaching text files: encodings, HTML's visible text, and every file that can't be attached
(binary, empty, too large, a folder, missing, unreadable), each with words that say why."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from model_runtime.attachments.files import check_unchanged
from model_runtime.attachments.limits import Limits, load_limits, save_limits
from model_runtime.attachments.reading import attach_text, read_attachment, sniff_kind
from model_runtime.errors import AttachmentError

TEXT = "Grüße aus Zürich — naïve café, 東京.\nSecond line\n"


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
    ],
)
def test_text_in_utf8_and_utf16_with_a_bom(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes(prefix + TEXT.encode(encoding))
    file = read_attachment(path)
    assert file.text == TEXT and file.kind == "text" and file.name == "notes.md"
    assert file.size == path.stat().st_size and len(file.sha256) == 64


def test_windows_line_ends_and_a_legacy_encoding(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_bytes("café opened\r\nnaïve closed\r\n".encode("cp1252"))
    assert read_attachment(path).text == "café opened\nnaïve closed\n"


def test_source_code_csv_and_json_are_text(tmp_path: Path) -> None:
    for name, content in (
        ("bug.py", "def f(x):\n\treturn x + 1\n"),
        ("data.csv", "a,b\n1,2\n"),
        ("config.json", '{"a": [1, 2]}'),
    ):
        (tmp_path / name).write_text(content)
        file = read_attachment(tmp_path / name)
        assert (file.kind, file.text) == ("text", content)


def test_html_keeps_only_what_a_browser_shows(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<!doctype html><html><head><title>T</title><style>p {color: red}</style>"
        "<script>var secret = 1;</script></head><body><h1>Welcome</h1>"
        "<p>First &amp; <b>bold</b>\n   paragraph.</p><div hidden>invisible</div>"
        "<table><tr><td>a</td><td>b</td></tr></table><noscript>no js</noscript></body></html>"
    )
    file = read_attachment(path)
    assert file.kind == "html"
    lines = [line for line in file.text.splitlines() if line]
    assert lines == ["Welcome", "First & bold paragraph.", "a | b"]


def test_the_same_content_has_the_same_sha256(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("same words")
    (tmp_path / "b.txt").write_text("same words")
    assert read_attachment(tmp_path / "a.txt").sha256 == read_attachment(tmp_path / "b.txt").sha256


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "a PNG image"),
        ("model.bin", b"GGUF\x03\x00\x00\x00" + bytes(100), "a GGUF model"),
        ("data.bin", bytes(range(256)) * 4, "a binary file"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "Save it as .docx"),
    ],
)
def test_binary_files_are_refused_with_what_they_are(
    tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AttachmentError, match=words) as refused:
        read_attachment(path)
    assert refused.value.reason == "binary" and name in str(refused.value)
    assert "PDF, Word (.docx) and HTML" in str(refused.value)


def test_empty_whitespace_folder_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("   \n\n  ")
    (tmp_path / "folder").mkdir()
    for name, reason, words in (
        ("empty.txt", "empty", "empty.txt is empty"),
        ("blank.txt", "empty", "has no text"),
        ("folder", "folder", "is a folder"),
        ("gone.txt", "missing", "was not found"),
    ):
        with pytest.raises(AttachmentError, match=words) as refused:
            read_attachment(tmp_path / name)
        assert refused.value.reason == reason


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(b"x" * 3 * 1024 * 1024)
    with pytest.raises(
        AttachmentError, match=r"too large to attach \(3.0 MiB; the limit is 2.0 MiB\)"
    ):
        read_attachment(path, limits=Limits(max_bytes=2 * 1024 * 1024))
    assert read_attachment(path, limits=Limits(max_bytes=4 * 1024 * 1024)).size == 3 * 1024 * 1024


def test_the_limit_is_50_mb_unless_set_in_the_settings_file() -> None:
    assert load_limits().max_bytes == 50 * 1024 * 1024
    save_limits(Limits(max_bytes=5 * 1024 * 1024))
    assert load_limits().max_bytes == 5 * 1024 * 1024


def _read_as_nobody(path: str, conn: Any) -> None:
    """In a forked child: become an ordinary user (root reads anything), then attach."""
    os.setgid(65534)
    os.setuid(65534)
    try:
        read_attachment(path)
        conn.send(("read", ""))
    except AttachmentError as exc:
        conn.send((exc.reason, str(exc)))


def test_a_file_without_read_permission(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ponder-perm-"))  # one a plain user may enter
    try:
        folder.chmod(0o711)
        path = folder / "secret.txt"
        path.write_text("top secret")
        path.chmod(0o200)
        if os.geteuid() != 0:
            with pytest.raises(AttachmentError, match="permission") as refused:
                read_attachment(path)
            assert refused.value.reason == "unreadable"
            return
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_read_as_nobody, args=(str(path), child))
        process.start()
        reason, message = parent.recv()
        process.join()
    finally:
        shutil.rmtree(folder)
    assert reason == "unreadable"
    assert "secret.txt" in message and "permission" in message


def test_a_changed_or_deleted_file_is_caught_before_sending(tmp_path: Path) -> None:
    path = tmp_path / "draft.md"
    path.write_text("version one")
    file = read_attachment(path)
    check_unchanged(file)
    os.utime(path, ns=(1, 1))  # touched, same words: still the same file
    check_unchanged(file)
    path.write_text("version two")
    with pytest.raises(AttachmentError, match="changed after you attached it") as changed:
        check_unchanged(file)
    assert changed.value.reason == "changed"
    path.unlink()
    with pytest.raises(AttachmentError, match="no longer there") as gone:
        check_unchanged(file)
    assert gone.value.reason == "missing"


def test_pasted_text_is_an_attachment_without_a_file() -> None:
    file = attach_text("line one\nline two")
    assert (file.name, file.kind, file.path) == ("Pasted text.txt", "text", "")
    check_unchanged(file)  # nothing on disk to compare
    with pytest.raises(AttachmentError, match="no text"):
        attach_text("  \n")


def test_the_kind_comes_from_the_first_bytes_then_the_name() -> None:
    assert sniff_kind("report.txt", b"%PDF-1.7\n") == "pdf"
    assert sniff_kind("report.pdf", b"garbage") == "pdf"
    assert sniff_kind("letter.docx", b"PK\x03\x04") == "docx"
    assert sniff_kind("saved", b"  <!DOCTYPE html><html>") == "html"
    assert sniff_kind("page.HTM", b"hello") == "html"
    assert sniff_kind("main.rs", b"fn main() {}") == "text"


def test_reading_a_large_text_reports_progress_and_can_be_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    path.write_bytes(b"log line\n" * 400_000)  # 3.4 MiB: read in several chunks
    seen: list[tuple[str, int, int]] = []
    file = read_attachment(path, progress=lambda *step: seen.append(step))
    assert file.text.count("\n") == 400_000
    assert seen[-1] == ("bytes", path.stat().st_size, path.stat().st_size) and len(seen) >= 3
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(AttachmentError, match="cancelled") as stopped:
        read_attachment(path, cancel=cancel)
    assert stopped.value.reason == "cancelled"
