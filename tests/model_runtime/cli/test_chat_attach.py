"""`python -m model_runtime chat MODEL "question" --attach FILE …`: the real CLI on the real model
says what of each file went in (whole, or the retrieved passages and their pages)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.attachment_files import FACTS, pages_with_facts, write_pdf

pytestmark = pytest.mark.slow


def chat(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "model_runtime", "chat", "starter", *args]
    return subprocess.run(
        [*command, "--max-tokens", "8", "--temperature", "0", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


def test_a_small_file_goes_in_whole_a_long_one_as_passages(qapp: Any, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("The meeting moved to Thursday at ten.\n")
    pdf = write_pdf(tmp_path / "manual.pdf", pages_with_facts(8, {6: FACTS[1][0]}, chars=700))
    result = chat(
        FACTS[1][1], "--attach", str(notes), "--attach", str(pdf), "--ctx", "1024", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    whole = next(line for line in lines if line.startswith("Included notes.txt"))
    assert re.fullmatch(r"Included notes\.txt \(Text · 38 B\): whole, \d+ tokens", whole)
    passages = next(line for line in lines if line.startswith("Included manual.pdf"))
    assert passages.startswith("Included manual.pdf (PDF · 8 pages · ")
    assert re.search(r": retrieved passages, pages? [\d, ]*\b6\b.* \(of [\d,]+ tokens\)$", passages)
    assert lines.index(whole) < lines.index(passages)
    assert "Answer:" in result.stdout
    n_prompt = int(re.search(r"\[(\d+) prompt tokens", result.stderr).group(1))  # type: ignore[union-attr]
    assert 300 < n_prompt < 1024


def test_a_file_that_cant_be_attached_stops_before_the_model_loads(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    result = chat("What is in the picture?", "--attach", str(photo), cwd=tmp_path)
    assert result.returncode == 2
    assert "error: photo.png is a PNG image, not text" in result.stderr
    assert "Loading" not in result.stderr and "Traceback" not in result.stderr
    big = tmp_path / "big.log"
    big.write_bytes(b"x" * 2 * 1024 * 1024)
    result = chat("Why?", "--attach", str(big), "--attach-limit-mb", "1", cwd=tmp_path)
    assert result.returncode == 2 and "too large to attach (2.0 MiB" in result.stderr
