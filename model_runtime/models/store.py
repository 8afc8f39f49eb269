"""The model store: one folder per model under data_dir()/models, each with its manifest."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from model_runtime.errors import ModelFileError, PonderError
from model_runtime.models.checksums import sha256_file
from model_runtime.models.manifest import (
    COMPLETE,
    FAILED,
    MANIFEST_NAME,
    PARTIAL_SUFFIX,
    Manifest,
    read_manifest,
    write_manifest,
)
from model_runtime.paths import data_dir
from model_runtime.progress import VERIFYING, ProgressCallback, Reporter

LOCK_NAME = ".lock"


@dataclass(frozen=True)
class StoredModel:
    """A model in the store: its manifest and folder."""

    manifest: Manifest
    folder: Path

    @property
    def model_id(self) -> str:
        """The folder's name, which identifies the model."""
        return self.manifest.model_id

    @property
    def state(self) -> str:
        """downloading, paused, failed or complete-verified."""
        return self.manifest.state

    @property
    def model_path(self) -> Path:
        """The GGUF file to load (part 1 of a split model); usable only when complete."""
        return self.folder / self.manifest.first_file


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of re-hashing a stored model's files."""

    model_id: str
    ok: bool
    bad: tuple[str, ...]  # files whose sha256 did not match
    missing: tuple[str, ...]
    deleted: tuple[str, ...]  # bad files removed so that a download fetches them again
    message: str


def model_id_for(repo_id: str, quant: str | None) -> str:
    """The store's folder name for a repo's quantization, e.g. unsloth--R1-GGUF--UD-IQ1_S."""
    raw = repo_id.replace("/", "--") + (f"--{quant}" if quant else "")
    return safe_name(raw)


def safe_name(raw: str) -> str:
    """A folder name made of letters, digits, '-', '_', '.' and spaces only."""
    name = re.sub(r"[^\w.\- ]+", "_", raw).strip(" .")
    return name or "model"


def _lock_file(f: IO[bytes]) -> bool:
    """Take an exclusive, non-blocking lock on an open file; False when another process has it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class ModelStore:
    """Stored models: list, disk usage, verify, delete (downloads and imports write here)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir() / "models"

    # -- finding ---------------------------------------------------------------------------

    def folder(self, model_id: str) -> Path:
        """The folder of a model (it may not exist yet)."""
        if safe_name(model_id) != model_id:
            raise PonderError(f"{model_id!r} is not a valid model id.")
        return self.root / model_id

    def models(self) -> list[StoredModel]:
        """Every stored model, by id; folders without a readable manifest are skipped."""
        models = []
        if self.root.is_dir():
            for folder in sorted(self.root.iterdir()):
                if (folder / MANIFEST_NAME).is_file():
                    with contextlib.suppress(PonderError):
                        models.append(StoredModel(read_manifest(folder), folder))
        return models

    def find(self, model_id: str) -> StoredModel | None:
        """The stored model with this id, or None."""
        folder = self.folder(model_id)
        if not (folder / MANIFEST_NAME).is_file():
            return None
        return StoredModel(read_manifest(folder), folder)

    def get(self, model_id: str) -> StoredModel:
        """The stored model with this id; PonderError when there is none."""
        model = self.find(model_id)
        if model is None:
            raise PonderError(f"There is no model {model_id!r} in the store ({self.root}).")
        return model

    def save(self, manifest: Manifest) -> StoredModel:
        """Write a model's manifest (creating its folder)."""
        folder = self.folder(manifest.model_id)
        folder.mkdir(parents=True, exist_ok=True)
        write_manifest(folder, manifest)
        return StoredModel(manifest, folder)

    def reveal(self, model_id: str) -> Path:
        """The folder to show in the file manager."""
        return self.get(model_id).folder

    # -- space -----------------------------------------------------------------------------

    def disk_usage(self, model_id: str | None = None) -> int:
        """Bytes on disk of one model, partial files included, or of the whole store."""
        root = self.folder(model_id) if model_id else self.root
        total = 0
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                with contextlib.suppress(OSError):
                    st = os.lstat(os.path.join(dirpath, name))
                    if not os.path.islink(os.path.join(dirpath, name)):
                        total += st.st_size
        return total

    def partial_bytes(self, manifest: Manifest) -> int:
        """Bytes of the model already on disk: verified files and partial downloads."""
        folder = self.folder(manifest.model_id)
        done = 0
        for f in manifest.files:
            final = folder / f.path
            partial = final.with_name(final.name + PARTIAL_SUFFIX)
            if final.exists():
                done += f.size
            elif partial.exists():
                done += min(partial.stat().st_size, f.size)
        return done

    # -- locking ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, model_id: str) -> Iterator[None]:
        """Hold a model folder for writing; PonderError when another download has it."""
        folder = self.folder(model_id)
        folder.mkdir(parents=True, exist_ok=True)
        # flock locks belong to one open file: a second holder, in this process or another, fails.
        with open(folder / LOCK_NAME, "a+b") as f:
            if not _lock_file(f):
                raise PonderError(f"{model_id} is being downloaded or changed by another task.")
            yield

    # -- verify and delete -----------------------------------------------------------------

    def verify(
        self,
        model_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> VerifyResult:
        """Re-hash every file against its recorded sha256 and record the outcome.

        A file that no longer matches is deleted when the model came from the Hub (a download
        fetches it again); an imported file is kept and the model marked failed.
        """
        with self.lock(model_id):
            model = self.get(model_id)
            manifest = model.manifest
            report = Reporter(
                model_id, manifest.total_size, on_progress, file_count=len(manifest.files)
            )
            report.update(state=VERIFYING)
            bad, missing, deleted = [], [], []
            for i, f in enumerate(manifest.files, 1):
                path = model.folder / f.path
                report.update(file=f.path, file_index=i)
                if not path.is_file():
                    missing.append(f.path)
                    f.verified = False
                    continue
                digest = sha256_file(path, on_bytes=report.advance, cancel=cancel)
                size_ok = path.stat().st_size == f.size
                f.verified = size_ok and (f.sha256 is None or digest == f.sha256)
                if not f.verified:
                    bad.append(f.path)
                    if manifest.source == "hub":
                        path.unlink()
                        deleted.append(f.path)
            ok = not bad and not missing
            label = manifest.name + (f" ({manifest.quant})" if manifest.quant else "")
            if ok:
                manifest.state, manifest.error = COMPLETE, None
                count = len(manifest.files)
                files = f"{count} file{'s' if count != 1 else ''}"
                message = f"Every file of {label} matches its sha256 ({files})."
            else:
                parts = []
                if bad:
                    parts.append("damaged (sha256 mismatch): " + ", ".join(bad))
                if missing:
                    parts.append("missing: " + ", ".join(missing))
                if deleted:
                    parts.append("deleted so that a new download fetches them again")
                message = f"{label} is not usable; " + "; ".join(parts) + "."
                manifest.state, manifest.error = FAILED, message
            self.save(manifest)
            report.update(state=manifest.state, message=message)
            return VerifyResult(model_id, ok, tuple(bad), tuple(missing), tuple(deleted), message)

    def delete(self, model_id: str) -> int:
        """Remove a model's folder with everything in it; return the bytes freed."""
        folder = self.folder(model_id)
        if not folder.exists():
            raise PonderError(f"There is no model {model_id!r} in the store.")
        with self.lock(model_id):  # refuses while a download writes there
            freed = self.disk_usage(model_id)
        shutil.rmtree(folder)
        return freed


def describe(model: StoredModel) -> None:
    """Fill in architecture, quantization and parameter count from the GGUF headers."""
    from model_runtime.gguf.reader import read_gguf_info

    manifest = model.manifest
    paths = [f.path for f in manifest.files if f.path.lower().endswith(".gguf")]
    if not paths:
        return
    try:
        infos = [read_gguf_info(model.folder / p) for p in paths]
    except ModelFileError:
        return
    first = next((i for i in infos if i.split_index == 0), infos[0])
    manifest.architecture = first.architecture
    manifest.parameter_count = sum(i.parameter_count for i in infos)
    if manifest.quant is None:
        manifest.quant = first.quantization
