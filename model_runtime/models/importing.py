"""Bring models into the store without the Hub: local GGUF files, the Hugging Face cache."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from model_runtime.errors import DownloadCancelled, ModelFileError, PonderError
from model_runtime.gguf.quants import RemoteFile, find_quant, split_part
from model_runtime.llama.architectures import check_runnable
from model_runtime.models import hf_cache
from model_runtime.models.checksums import sha256_file
from model_runtime.models.hf_cache import CachedFile
from model_runtime.models.manifest import COMPLETE, PARTIAL_SUFFIX, Manifest, ModelFile
from model_runtime.models.store import ModelStore, StoredModel, describe, model_id_for, safe_name
from model_runtime.progress import IMPORTING, ProgressCallback, Reporter

ImportMode = Literal["copy", "move", "link"]
_COPY_BLOCK = 8 * 1024 * 1024


def import_gguf(
    path: str | os.PathLike[str],
    *,
    mode: ImportMode = "copy",
    model_id: str | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Add a local GGUF (all parts, given any one of a split model) by copy, move or link."""
    store = store or ModelStore()
    from model_runtime.gguf.reader import read_gguf_info

    sources = _split_siblings(Path(path))
    infos = [read_gguf_info(p) for p in sources]
    check_runnable(infos)  # before anything is written: a refused import leaves nothing
    first = infos[0]
    stem = split_part(sources[0].name)
    base = stem.prefix if stem else sources[0].name[: -len(".gguf")]
    model_id = model_id or safe_name(f"local--{base}")
    if store.find(model_id) is not None:
        raise PonderError(f"The store already has a model called {model_id}.")
    manifest = Manifest(
        model_id=model_id,
        name=first.name or base,
        source="import",
        files=[ModelFile(p.name, p.stat().st_size, None) for p in sources],
        quant=first.quantization,
        architecture=first.architecture,
        parameter_count=sum(i.parameter_count for i in infos),
    )
    model = store.save(manifest)
    brought: list[tuple[Path, Path]] = []
    try:
        with store.lock(model_id):
            report = Reporter(model_id, manifest.total_size, on_progress, file_count=len(sources))
            report.update(state=IMPORTING)
            for i, (src, entry) in enumerate(zip(sources, manifest.files, strict=True), 1):
                report.update(file=entry.path, file_index=i)
                dst = model.folder / entry.path
                brought.append((src, dst))
                entry.sha256 = _bring(src, dst, mode, report, cancel)
                entry.verified = True
            manifest.state = COMPLETE
            store.save(manifest)
            report.update(state=COMPLETE)
    except BaseException:
        if mode == "move":  # give the person's files back before removing the folder
            for src, dst in brought:
                if dst.exists() and not src.exists():
                    with contextlib.suppress(OSError):
                        shutil.move(dst, src)
        with contextlib.suppress(OSError):
            shutil.rmtree(model.folder)
        raise
    return model


def import_from_hf_cache(
    repo_id: str,
    quant: str,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Add a quantization found in the Hugging Face cache, offline, by linking its blobs."""
    store = store or ModelStore()
    cached = {c.path: c for c in hf_cache.cached_files(repo_id)}
    remote = [RemoteFile(c.path, c.size, c.sha256) for c in cached.values()]
    choice = find_quant(remote, quant)
    if choice is None:
        raise PonderError(f"The Hugging Face cache has no complete {quant} of {repo_id}.")
    model_id = model_id_for(repo_id, choice.name)
    if store.find(model_id) is not None:
        raise PonderError(f"The store already has {model_id}.")
    revision = cached[choice.files[0].path].revision
    _check_cached(choice.files, cached)
    manifest = Manifest(
        model_id=model_id,
        name=repo_id.split("/")[-1],
        source="hf-cache",
        files=[ModelFile(f.path, f.size, f.sha256) for f in choice.files],
        repo_id=repo_id,
        revision=revision,
        quant=choice.name,
    )
    model = store.save(manifest)
    try:
        with store.lock(model_id):
            report = Reporter(
                model_id, manifest.total_size, on_progress, file_count=len(choice.files)
            )
            report.update(state=IMPORTING)
            for i, entry in enumerate(manifest.files, 1):
                report.update(file=entry.path, file_index=i)
                digest = _bring(
                    cached[entry.path].blob, model.folder / entry.path, "link", report, cancel
                )
                if entry.sha256 is not None and digest != entry.sha256:
                    raise PonderError(
                        f"The cached {entry.path} of {repo_id} is damaged (sha256 mismatch)."
                    )
                entry.sha256, entry.verified = digest, True
            describe(model)
            manifest.state = COMPLETE
            store.save(manifest)
            report.update(state=COMPLETE)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(model.folder)
        raise
    return model


def _check_cached(files: Sequence[RemoteFile], cached: Mapping[str, CachedFile]) -> None:
    """Refuse a cached model that llama.cpp would refuse, before anything is written."""
    from model_runtime.gguf.reader import read_gguf_info

    infos = []
    for f in files:
        if f.path.lower().endswith(".gguf"):
            c = cached[f.path]
            named = hf_cache.repo_folder(c.repo_id) / "snapshots" / c.revision / c.path
            infos.append(read_gguf_info(named if named.is_file() else c.blob))  # says its name
    if infos:
        check_runnable(infos)


def _split_siblings(path: Path) -> list[Path]:
    """The file itself, or every part 1..N of the split model it belongs to."""
    if not path.is_file():
        raise ModelFileError(f"Model file not found: {path}")
    part = split_part(path.name)
    if part is None:
        return [path]
    parts = []
    for i in range(1, part.count + 1):
        sibling = path.with_name(f"{part.prefix}-{i:05d}-of-{part.count:05d}.gguf")
        if not sibling.is_file():
            raise ModelFileError(
                f"{path.name} is part of a split model, but {sibling.name} is missing."
            )
        parts.append(sibling)
    return parts


def _bring(
    src: Path, dst: Path, mode: ImportMode, report: Reporter, cancel: threading.Event | None
) -> str:
    """Put src at dst by copy, move or link (hard link, else symbolic); return its sha256."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode == "copy":
        return _copy_hashing(src, dst, report, cancel)
    if mode == "move":
        try:
            os.replace(src, dst)
        except OSError:  # another file system
            digest = _copy_hashing(src, dst, report, cancel)
            src.unlink()
            return digest
    else:
        try:
            os.link(src, dst)
        except OSError:
            os.symlink(src.resolve(), dst)
    return sha256_file(dst, on_bytes=report.advance, cancel=cancel)


def _copy_hashing(src: Path, dst: Path, report: Reporter, cancel: threading.Event | None) -> str:
    """Copy a file and hash it in the same pass."""
    h = hashlib.sha256()
    tmp = dst.with_name(dst.name + PARTIAL_SUFFIX)
    buf = bytearray(_COPY_BLOCK)
    view = memoryview(buf)
    with open(src, "rb", buffering=0) as fin, open(tmp, "wb") as fout:
        while n := fin.readinto(view):
            h.update(view[:n])
            fout.write(view[:n])
            report.advance(n)
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled(f"The import of {src.name} was stopped.")
    os.replace(tmp, dst)
    return h.hexdigest()
