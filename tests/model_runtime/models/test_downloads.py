"""Downloads from a loopback Hub: resume, split models, verification, faults, the queue."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path

import pytest

from model_runtime.errors import ChecksumMismatch, DownloadError, NotEnoughDisk
from model_runtime.models.download_queue import DownloadManager
from model_runtime.models.downloads import DownloadOptions, DownloadRequest, download_model
from model_runtime.models.manifest import MANIFEST_NAME
from model_runtime.models.store import ModelStore
from model_runtime.progress import Progress
from tests.gguf_factory import write_split
from tests.hub_server import FakeHub, subprocess_env

FAST = DownloadOptions(stall_seconds=0.5, backoff_base=0.02, backoff_max=0.1, max_retries=3)
MIB = 1024 * 1024


def noise(n: int, seed: int = 0) -> bytes:
    """n bytes that do not compress or repeat."""
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until condition() is true (for events in another process or thread)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


@pytest.fixture
def split_repo(fake_hub: FakeHub, tmp_path: Path) -> list[Path]:
    """A tiny real model split in 3 parts in a subfolder, as unsloth publishes R1."""
    (tmp_path / "src").mkdir()
    parts = write_split(tmp_path / "src", "Tiny-R1-UD-IQ1_S", 3, arch="llama")
    files: dict[str, Path | bytes] = {f"UD-IQ1_S/{p.name}": p for p in parts}
    files["README.md"] = b"# Tiny R1\n"
    fake_hub.add_repo("acme/Tiny-R1-GGUF", files)
    return parts


def test_a_split_model_downloads_as_one_verified_model(
    fake_hub: FakeHub, split_repo: list[Path]
) -> None:
    seen: list[Progress] = []

    model = download_model(
        DownloadRequest("acme/Tiny-R1-GGUF", "ud-iq1_s"), on_progress=seen.append
    )

    man = model.manifest
    assert model.model_id == "acme--Tiny-R1-GGUF--UD-IQ1_S"
    assert man.state == "complete-verified" and man.is_usable
    assert man.repo_id == "acme/Tiny-R1-GGUF" and man.quant == "UD-IQ1_S"
    assert man.revision == fake_hub.repos["acme/Tiny-R1-GGUF"].sha
    assert man.architecture == "llama" and man.parameter_count and man.parameter_count > 0
    assert [f.path for f in man.files] == [f"UD-IQ1_S/{p.name}" for p in split_repo]
    for f, part in zip(man.files, split_repo, strict=True):
        assert f.verified and f.sha256 == hashlib.sha256(part.read_bytes()).hexdigest()
        assert (model.folder / f.path).read_bytes() == part.read_bytes()
    assert model.model_path == model.folder / "UD-IQ1_S" / split_repo[0].name
    assert not list(model.folder.rglob("*.incomplete"))
    # One progress for the whole model: one total, bytes never going back, all 3 files.
    total = sum(p.stat().st_size for p in split_repo)
    assert {p.total for p in seen} == {total}
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[-1].state == "complete-verified" and seen[-1].done == total
    assert {p.file_index for p in seen} >= {1, 2, 3} and seen[-1].file_count == 3
    on_disk = json.loads((model.folder / MANIFEST_NAME).read_text())
    assert on_disk["state"] == "complete-verified"
    # Asking again finds it complete and makes no request at all.
    before = len(fake_hub.seen)
    assert download_model(DownloadRequest("acme/Tiny-R1-GGUF", "UD-IQ1_S")).model_id
    assert len(fake_hub.seen) == before


def test_the_real_smollm2_comes_through_the_hub_intact(fake_hub: FakeHub, smollm2: Path) -> None:
    fake_hub.add_repo("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", {smollm2.name: smollm2})

    model = download_model(DownloadRequest("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", "Q4_1"))

    assert model.manifest.is_usable and model.manifest.architecture == "llama"
    assert model.model_path.stat().st_size == smollm2.stat().st_size
    assert (
        model.manifest.files[0].sha256
        == fake_hub.repos["HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"].files[smollm2.name].sha256
    )


def test_a_dropped_connection_resumes_from_that_byte(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("acme/Drop-GGUF", {"Drop-Q4_0.gguf": noise(3 * MIB)})
    fake_hub.fault("drop", "Drop-Q4_0.gguf", after=1_234_567)
    fake_hub.fault("drop", "Drop-Q4_0.gguf", after=2_500_000)

    model = download_model(DownloadRequest("acme/Drop-GGUF", "Q4_0"), options=FAST)

    assert model.manifest.is_usable
    assert fake_hub.range_starts("Drop-Q4_0.gguf") == [0, 1_234_567, 2_500_000]
    assert fake_hub.sent["Drop-Q4_0.gguf"] == 3 * MIB  # not one byte twice


def test_a_stalled_server_is_left_and_the_download_reconnects(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("acme/Stall-GGUF", {"Stall-Q4_0.gguf": noise(2 * MIB)})
    fake_hub.fault("stall", "Stall-Q4_0.gguf", after=700_000, seconds=30)
    messages: list[str] = []

    started = time.monotonic()
    download_model(
        DownloadRequest("acme/Stall-GGUF", "Q4_0"),
        options=FAST,
        on_progress=lambda p: messages.append(p.message),
    )

    assert time.monotonic() - started < 5  # not the 30 s the server would have waited
    assert fake_hub.range_starts("Stall-Q4_0.gguf") == [0, 700_000]
    assert any("stalled" in m and "Retrying" in m for m in messages)


def test_server_errors_are_retried_with_backoff_then_given_up(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("acme/Busy-GGUF", {"Busy-Q4_0.gguf": noise(100_000)})
    fake_hub.fault("status", "Busy-Q4_0.gguf", status=503, times=2)
    assert download_model(
        DownloadRequest("acme/Busy-GGUF", "Q4_0"), options=FAST
    ).manifest.is_usable

    fake_hub.add_repo("acme/Down-GGUF", {"Down-Q4_0.gguf": noise(100_000)})
    fake_hub.fault("status", "Down-Q4_0.gguf", status=503, times=99)
    with pytest.raises(DownloadError, match=r"Gave up .* 4 failed attempts"):
        download_model(DownloadRequest("acme/Down-GGUF", "Q4_0"), options=FAST)
    model = ModelStore().get("acme--Down-GGUF--Q4_0")
    assert model.state == "failed" and "503" in (model.manifest.error or "")


def test_a_wrong_hash_is_refused_and_the_file_deleted(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("acme/Bad-GGUF", {"Bad-Q4_0.gguf": noise(500_000)})
    fake_hub.fault("corrupt", "Bad-Q4_0.gguf", after=250_000)

    with pytest.raises(ChecksumMismatch, match="deleted"):
        download_model(DownloadRequest("acme/Bad-GGUF", "Q4_0"), options=FAST)

    model = ModelStore().get("acme--Bad-GGUF--Q4_0")
    assert model.state == "failed" and not model.manifest.is_usable
    assert not model.manifest.files[0].verified
    assert [p.name for p in model.folder.iterdir() if p.suffix != ".json"] == [".lock"]
    # Trying again (the damage was in transit) fetches it whole and verifies it.
    assert download_model(DownloadRequest("acme/Bad-GGUF", "Q4_0")).manifest.is_usable


def test_not_enough_disk_is_refused_before_the_first_byte(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_hub.add_repo("acme/Huge-GGUF", {"Huge-Q4_0.gguf": noise(2 * MIB)})
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 * MIB, 9 * MIB, MIB))
    options = DownloadOptions(disk_reserve=0)

    with pytest.raises(NotEnoughDisk, match=r"needs 0\.00 GiB more") as caught:
        download_model(DownloadRequest("acme/Huge-GGUF", "Q4_0"), options=options)

    assert (caught.value.needed, caught.value.free) == (2 * MIB, MIB)
    assert fake_hub.file_gets("Huge-Q4_0.gguf") == []  # not a byte was asked for
    assert ModelStore().models() == []  # and nothing is left in the store


def test_the_manager_queues_pauses_resumes_and_cancels(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("acme/Slow-GGUF", {"Slow-Q4_0.gguf": noise(3 * MIB, 1)})
    fake_hub.add_repo("acme/Next-GGUF", {"Next-Q4_0.gguf": noise(MIB, 2)})
    fake_hub.add_repo("acme/Gone-GGUF", {"Gone-Q4_0.gguf": noise(MIB, 3)})
    fake_hub.rate = 4 * MIB
    events: list[Progress] = []
    manager = DownloadManager(options=FAST, on_progress=events.append)
    try:
        slow = manager.add(DownloadRequest("acme/Slow-GGUF", "Q4_0"))
        after = manager.add(DownloadRequest("acme/Next-GGUF", "Q4_0"))
        gone = manager.add(DownloadRequest("acme/Gone-GGUF", "Q4_0"))
        assert manager.progress(after).state == "queued"  # type: ignore[union-attr]

        wait_for(lambda: manager.progress(slow).done > MIB)  # type: ignore[union-attr]
        manager.pause(slow)
        assert manager.wait(slow, 5).state == "paused"
        manager.cancel(gone)  # still queued: dropped at once
        assert manager.wait(gone, 5).state == "cancelled"
        assert manager.wait(after, 10).state == "complete-verified"

        store = ModelStore()
        paused = store.get(slow)
        assert paused.state == "paused"
        kept = (paused.folder / "Slow-Q4_0.gguf.incomplete").stat().st_size
        assert MIB < kept < 3 * MIB
        fake_hub.rate = None
        manager.resume(slow)
        assert manager.wait(slow, 10).state == "complete-verified"
        assert fake_hub.range_starts("Slow-Q4_0.gguf") == [0, kept]
        assert store.get(slow).manifest.is_usable
        assert store.find(gone) is None
        assert fake_hub.file_gets("Gone-Q4_0.gguf") == []

        # Cancelling a running download deletes what it fetched.
        fake_hub.rate = MIB
        gone = manager.add(DownloadRequest("acme/Gone-GGUF", "Q4_0"))
        wait_for(lambda: manager.progress(gone).done > 100_000)  # type: ignore[union-attr]
        manager.cancel(gone)
        assert manager.wait(gone, 5).state == "cancelled"
        assert store.find(gone) is None and not store.folder(gone).exists()
    finally:
        manager.close()
    # Downloads ran one at a time: Next started after Slow was paused.
    states = [(p.model_id, p.state) for p in events]
    assert states.index((slow, "paused")) < states.index((after, "downloading"))


def test_a_quit_mid_download_is_resumed_at_the_next_start(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("acme/Quit-GGUF", {"Quit-Q4_0.gguf": noise(2 * MIB)})
    fake_hub.rate = 2 * MIB
    manager = DownloadManager(options=FAST)
    model_id = manager.add(DownloadRequest("acme/Quit-GGUF", "Q4_0"))
    wait_for(lambda: manager.progress(model_id).done > 200_000)  # type: ignore[union-attr]
    manager.close()
    assert ModelStore().get(model_id).state == "downloading"

    fake_hub.rate = None
    again = DownloadManager(options=FAST)
    try:
        assert again.resume_interrupted() == [model_id]
        assert again.wait(model_id, 10).state == "complete-verified"
    finally:
        again.close()
    assert fake_hub.range_starts("Quit-Q4_0.gguf")[-1] > 200_000


def test_a_killed_cli_download_resumes_after_a_restart(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_repo("acme/Kill-GGUF", {"Kill-Q8_0.gguf": noise(6 * MIB, 7)})
    fake_hub.rate = 3 * MIB
    home = tmp_path / "cli-home"
    env = subprocess_env(fake_hub, home, tmp_path / "hf")
    command = [sys.executable, "-m", "model_runtime", "models", "download", "acme/Kill-GGUF"]
    command += ["--quant", "Q8_0"]
    folder = home / "data" / "models" / "acme--Kill-GGUF--Q8_0"
    partial = folder / "Kill-Q8_0.gguf.incomplete"

    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: partial.exists() and partial.stat().st_size > MIB, timeout=30)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
    kept = partial.stat().st_size
    assert json.loads((folder / MANIFEST_NAME).read_text())["state"] == "downloading"

    fake_hub.rate = None
    second = subprocess.run(command, env=env, capture_output=True, timeout=60)

    assert second.returncode == 0, second.stderr.decode()
    assert b"complete-verified" in second.stdout
    assert b"\r" in second.stderr and b"100%|" in second.stderr  # the tqdm progress bar
    assert fake_hub.range_starts("Kill-Q8_0.gguf")[-1] == kept
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert manifest["state"] == "complete-verified" and manifest["files"][0]["verified"]
    assert (folder / "Kill-Q8_0.gguf").read_bytes() == noise(6 * MIB, 7)


def test_a_cancel_token_stops_a_download_and_keeps_its_bytes(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("acme/Stop-GGUF", {"Stop-Q4_0.gguf": noise(2 * MIB)})
    fake_hub.rate = 2 * MIB
    cancel = threading.Event()

    def stop_early(p: Progress) -> None:
        if p.done > 300_000:
            cancel.set()

    from model_runtime.errors import DownloadCancelled

    with pytest.raises(DownloadCancelled):
        download_model(
            DownloadRequest("acme/Stop-GGUF", "Q4_0"), on_progress=stop_early, cancel=cancel
        )
    model = ModelStore().get("acme--Stop-GGUF--Q4_0")
    assert model.state == "paused"
    assert (model.folder / "Stop-Q4_0.gguf.incomplete").stat().st_size > 300_000


@pytest.mark.slow
def test_a_downloaded_split_model_loads_in_llama_cpp(
    fake_hub: FakeHub, split_repo: list[Path]
) -> None:
    from llama_cpp import Llama

    model = download_model(DownloadRequest("acme/Tiny-R1-GGUF", "UD-IQ1_S"))

    llm = Llama(model_path=str(model.model_path), n_ctx=64, verbose=False)
    try:
        assert llm.n_ctx() >= 64  # llama.cpp rounds the context up
        assert llm.tokenize(b"the") != []
    finally:
        llm.close()


def test_the_manager_reports_a_model_that_is_already_here(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("acme/Here-GGUF", {"Here-Q4_0.gguf": noise(10_000)})
    download_model(DownloadRequest("acme/Here-GGUF", "Q4_0"))
    manager = DownloadManager()
    try:
        model_id = manager.add(DownloadRequest("acme/Here-GGUF", "Q4_0"))
        done = manager.wait(model_id, 5)
    finally:
        manager.close()
    assert (done.state, done.done, done.total) == ("complete-verified", 10_000, 10_000)
