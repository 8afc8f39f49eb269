"""App identity: one version everywhere, the icons in every size, the desktop entry."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from model_runtime import __version__

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"


def test_the_version_is_written_once_and_everything_agrees() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "model_runtime.__version__"
    assert importlib.metadata.version("ponder") == __version__  # the installed metadata


def test_ponder_version_needs_no_display() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run(
        [sys.executable, "-m", "desktop", "--version"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Ponder {__version__}"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 128, 256, 512])
def test_the_icon_is_rendered_in_every_size(size: int) -> None:
    assert png_size(ICONS / f"ponder-{size}.png") == (size, size)


def test_the_windows_icon_holds_pngs_up_to_256() -> None:
    data = (ICONS / "ponder.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1) and count == 7
    sizes = []
    for i in range(count):
        width, _h, _c, _r, _p, _b, length, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * i : 22 + 16 * i]
        )
        assert data[offset : offset + 4] == b"\x89PNG" and offset + length <= len(data)
        sizes.append(width or 256)
    assert sizes == [16, 24, 32, 48, 64, 128, 256]


def test_the_macos_icon_is_a_well_formed_icns() -> None:
    data = (ICONS / "ponder.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    kinds, at = [], 8
    while at < len(data):
        kind, length = data[at : at + 4], struct.unpack(">I", data[at + 4 : at + 8])[0]
        assert data[at + 8 : at + 12] == b"\x89PNG"
        kinds.append(kind)
        at += length
    assert at == len(data)
    assert kinds == [b"icp4", b"icp5", b"icp6", b"ic07", b"ic08", b"ic09", b"ic10"]


def test_the_desktop_entry_names_the_app_and_its_icon() -> None:
    entry = (ROOT / "resources" / "ponder.desktop").read_text()
    for line in ("Name=Ponder", "Icon=ponder", "Exec=ponder %f", "Type=Application"):
        assert line in entry.splitlines()
    validate = shutil.which("desktop-file-validate")
    if validate:
        done = subprocess.run(
            [validate, str(ROOT / "resources" / "ponder.desktop")], text=True, capture_output=True
        )
        assert done.returncode == 0 and "error" not in done.stdout, done.stdout
