"""The model store on real GGUF files: import, verify, delete, disk usage, the HF cache."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from pathlib import Path

import pytest

from model_runtime.errors import ModelFileError, OfflineMode, PonderError
from model_runtime.models.importing import import_from_hf_cache, import_gguf
from model_runtime.models.manifest import MANIFEST_NAME, read_manifest
from model_runtime.models.store import ModelStore
from model_runtime.paths import data_dir
from model_runtime.progress import Progress
from tests.broken_models import BROKEN, broken_model
from tests.gguf_factory import write_split, write_tiny_model
from tests.hub_server import FakeHub


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A tiny real qwen2 GGUF, Q8_0."""
    return write_tiny_model(tmp_path / "Tiny-Qwen-Q8_0.gguf", arch="qwen2", dtype="q8_0")


def test_the_store_lives_in_the_data_dir(ponder_home: Path) -> None:
    store = ModelStore()
    assert store.root == data_dir() / "models"
    assert store.root.is_relative_to(ponder_home)
    assert store.models() == [] and store.disk_usage() == 0
    with pytest.raises(PonderError, match="not a valid model id"):
        store.folder("../escape")


@pytest.mark.parametrize("mode", ["copy", "move", "link"])
def test_import_a_local_gguf(tiny: Path, mode: str) -> None:
    digest, size = sha256(tiny), tiny.stat().st_size
    seen: list[Progress] = []

    model = import_gguf(tiny, mode=mode, on_progress=seen.append)  # type: ignore[arg-type]

    man = model.manifest
    assert model.model_id == "local--Tiny-Qwen-Q8_0"
    assert man.state == "complete-verified" and man.source == "import"
    assert (man.architecture, man.quant) == ("qwen2", "Q8_0")
    assert man.parameter_count and man.parameter_count > 0
    assert man.files[0].sha256 == digest and man.files[0].size == size
    assert model.model_path.read_bytes()[:4] == b"GGUF"
    assert tiny.exists() == (mode != "move")
    if mode == "link":
        assert os.path.samefile(tiny, model.model_path)  # no second copy on disk
    assert seen[-1].state == "complete-verified" and seen[-1].done == size
    assert read_manifest(model.folder) == man


def test_import_a_split_model_from_any_part(tmp_path: Path) -> None:
    parts = write_split(tmp_path, "Tiny-R1-UD-IQ1_S", 3, arch="qwen2")
    store = ModelStore()

    model = import_gguf(parts[1], mode="link", store=store)

    assert [f.path for f in model.manifest.files] == [p.name for p in parts]
    assert model.model_path.name == parts[0].name
    assert model.manifest.quant and model.manifest.architecture == "qwen2"
    with pytest.raises(PonderError, match="already has"):
        import_gguf(parts[0], store=store)
    parts[2].unlink()
    with pytest.raises(ModelFileError, match=r"00003-of-00003\.gguf is missing"):
        import_gguf(parts[0], model_id="again", store=store)
    assert store.find("again") is None


def test_a_file_that_is_not_gguf_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    bogus = tmp_path / "notes-Q4_0.gguf"
    bogus.write_text("not a model")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        import_gguf(bogus)
    assert ModelStore().models() == []


def test_verify_finds_damage_and_delete_frees_the_space(tiny: Path) -> None:
    store = ModelStore()
    model = import_gguf(tiny, store=store)
    assert store.verify(model.model_id).ok
    assert store.disk_usage(model.model_id) >= tiny.stat().st_size

    with open(model.model_path, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    result = store.verify(model.model_id)

    assert not result.ok and result.bad == (model.manifest.files[0].path,)
    assert "sha256 mismatch" in result.message
    assert result.deleted == ()  # an imported file is the person's own: kept
    again = store.get(model.model_id)
    assert again.state == "failed" and not again.manifest.is_usable
    assert again.manifest.error == result.message

    freed = store.delete(model.model_id)
    assert freed >= tiny.stat().st_size
    assert store.models() == [] and not again.folder.exists()
    with pytest.raises(PonderError, match="no model"):
        store.delete(model.model_id)


def test_a_model_being_written_cannot_be_deleted(tiny: Path) -> None:
    store = ModelStore()
    model = import_gguf(tiny, store=store)
    with store.lock(model.model_id), pytest.raises(PonderError, match="being downloaded"):
        store.delete(model.model_id)
    assert store.find(model.model_id) is not None


def test_a_model_in_the_hf_cache_is_reused_offline(
    fake_hub: FakeHub, tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import hf_hub_download

    fake_hub.add_repo("acme/Tiny-GGUF", {tiny.name: tiny})
    cache = tmp_path / "hf-home" / "hub"
    hf_hub_download("acme/Tiny-GGUF", tiny.name, cache_dir=cache, endpoint=fake_hub.url)
    assert (cache / "models--acme--Tiny-GGUF" / "blobs" / sha256(tiny)).is_file()

    def no_connect(self: socket.socket, address: object) -> None:
        raise AssertionError("no connection expected")

    monkeypatch.setattr(socket.socket, "connect", no_connect)
    monkeypatch.setenv("PONDER_OFFLINE", "1")
    store = ModelStore()

    model = import_from_hf_cache("acme/Tiny-GGUF", "q8_0", store=store)

    assert model.model_id == "acme--Tiny-GGUF--Q8_0"
    man = model.manifest
    assert man.is_usable and man.source == "hf-cache" and man.repo_id == "acme/Tiny-GGUF"
    assert man.revision == fake_hub.repos["acme/Tiny-GGUF"].sha
    assert man.files[0].sha256 == sha256(tiny) and man.architecture == "qwen2"
    assert model.model_path.read_bytes() == tiny.read_bytes()
    with pytest.raises(PonderError, match="no complete Q4_0"):
        import_from_hf_cache("acme/Tiny-GGUF", "Q4_0", store=store)


def test_a_download_takes_files_from_the_hf_cache_instead_of_the_network(
    fake_hub: FakeHub, tiny: Path, tmp_path: Path
) -> None:
    from huggingface_hub import hf_hub_download

    from model_runtime.models.downloads import DownloadRequest, download_model

    fake_hub.add_repo("acme/Tiny-GGUF", {tiny.name: tiny})
    hf_hub_download(
        "acme/Tiny-GGUF", tiny.name, cache_dir=tmp_path / "hf-home" / "hub", endpoint=fake_hub.url
    )
    fetched_before = fake_hub.sent.get(tiny.name, 0)

    model = download_model(DownloadRequest("acme/Tiny-GGUF", "Q8_0"))

    assert model.manifest.is_usable
    assert fake_hub.sent.get(tiny.name, 0) == fetched_before  # only the metadata was asked for
    assert os.path.samefile(
        model.model_path,
        tmp_path / "hf-home" / "hub" / "models--acme--Tiny-GGUF" / "blobs" / sha256(tiny),
    )


def test_a_hub_model_that_fails_verification_loses_the_bad_file(
    fake_hub: FakeHub, tiny: Path
) -> None:
    from model_runtime.models.downloads import DownloadRequest, download_model

    fake_hub.add_repo("acme/Tiny-GGUF", {tiny.name: tiny})
    model = download_model(DownloadRequest("acme/Tiny-GGUF", "Q8_0"))
    model.model_path.write_bytes(b"GGUF but not the right bytes")
    store = ModelStore()

    result = store.verify(model.model_id)

    assert result.deleted == (tiny.name,) and not model.model_path.exists()
    assert "deleted so that a new download fetches them again" in result.message
    fixed = download_model(DownloadRequest("acme/Tiny-GGUF", "Q8_0"))
    assert fixed.manifest.is_usable and store.verify(fixed.model_id).ok
    assert (fixed.folder / MANIFEST_NAME).is_file()


def test_offline_mode_still_lets_the_store_work(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONDER_OFFLINE", "1")
    store = ModelStore()
    model = import_gguf(tiny, store=store)
    assert store.verify(model.model_id).ok
    from model_runtime.models.downloads import DownloadRequest, download_model

    with pytest.raises(OfflineMode):
        download_model(DownloadRequest("acme/Not-Here-GGUF", "Q8_0"))


def test_the_models_cli_lists_verifies_and_deletes(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from model_runtime.cli.main import main

    assert main(["models", "import", str(tiny), "--mode", "link"]) == 0
    assert "local--Tiny-Qwen-Q8_0: complete-verified" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "local--Tiny-Qwen-Q8_0" in listing and "complete-verified, Q8_0" in listing
    assert main(["models", "verify", "local--Tiny-Qwen-Q8_0"]) == 0
    verified = "Every file of Tiny Test Model (Q8_0) matches its sha256 (1 file)."
    assert verified in capsys.readouterr().out
    assert main(["models", "path", "local--Tiny-Qwen-Q8_0"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith(tiny.name)
    assert main(["models", "network", "--offline", "on"]) == 0
    assert "offline mode is on" in capsys.readouterr().out
    assert main(["models", "delete", "local--Tiny-Qwen-Q8_0"]) == 0
    assert main(["models", "verify", "local--Tiny-Qwen-Q8_0"]) == 2
    assert "no model" in capsys.readouterr().err
    assert tiny.exists()  # a linked import leaves the original alone


def test_a_damaged_hf_cache_file_is_downloaded_instead(
    fake_hub: FakeHub, tiny: Path, tmp_path: Path
) -> None:
    from model_runtime.models.downloads import DownloadRequest, download_model

    fake_hub.add_repo("acme/Tiny-GGUF", {tiny.name: tiny})
    blob = tmp_path / "hf-home" / "hub" / "models--acme--Tiny-GGUF" / "blobs" / sha256(tiny)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"\0" * tiny.stat().st_size)  # right name and size, wrong bytes

    model = download_model(DownloadRequest("acme/Tiny-GGUF", "Q8_0"))

    assert model.manifest.is_usable and model.model_path.read_bytes() == tiny.read_bytes()
    assert fake_hub.sent[tiny.name] == tiny.stat().st_size
    assert blob.read_bytes() == b"\0" * tiny.stat().st_size  # the cache is left alone


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_model_is_refused_and_leaves_nothing(tmp_path: Path, name: str) -> None:
    path, reason = broken_model(tmp_path, name)
    digest = sha256(path)
    store = ModelStore()
    for mode in ("copy", "move", "link"):
        with pytest.raises(ModelFileError, match=re.escape(reason)):
            import_gguf(path, mode=mode, store=store)  # type: ignore[arg-type]
        assert store.models() == [] and not (store.root.exists() and any(store.root.iterdir()))
        assert sha256(path) == digest  # the person's file stays where it was, unchanged


def test_a_broken_model_in_the_hf_cache_is_refused(fake_hub: FakeHub, tmp_path: Path) -> None:
    from huggingface_hub import hf_hub_download

    path, reason = broken_model(tmp_path, "block-count-100000")
    fake_hub.add_repo("acme/Broken-GGUF", {"Broken-Q8_0.gguf": path})
    cache = tmp_path / "hf-home" / "hub"
    hf_hub_download("acme/Broken-GGUF", "Broken-Q8_0.gguf", cache_dir=cache, endpoint=fake_hub.url)
    store = ModelStore()
    with pytest.raises(ModelFileError, match=f"^Broken-Q8_0.gguf is not .*{reason}"):
        import_from_hf_cache("acme/Broken-GGUF", "Q8_0", store=store)
    assert store.models() == [] and not (store.root.exists() and any(store.root.iterdir()))
