"""Download one model from the Hub into the store: resumable, verified, all split parts as one.

The bytes already on disk are the state: a file downloads to <name>.incomplete, continues from
its size after a cancel, a dropped connection or a restart (HTTP Range), and becomes <name> only
once its sha256 matches the Hub's. The model is usable when every file is verified.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from model_runtime.errors import (
    ChecksumMismatch,
    ConnectionFailed,
    DownloadCancelled,
    DownloadError,
    NotEnoughDisk,
    PonderError,
    RepoNotFound,
)
from model_runtime.gguf.quants import QuantChoice, RemoteFile, find_quant, quant_label
from model_runtime.models import hf_cache, hub
from model_runtime.models.catalog import CatalogModel, catalog_for_repo, find_model
from model_runtime.models.checksums import sha256_file
from model_runtime.models.manifest import (
    COMPLETE,
    DOWNLOADING,
    FAILED,
    PARTIAL_SUFFIX,
    PAUSED,
    Manifest,
    ModelFile,
)
from model_runtime.models.sink import Sink
from model_runtime.models.store import ModelStore, StoredModel, describe, model_id_for
from model_runtime.progress import CHECKING, Progress, ProgressCallback, Reporter
from model_runtime.units import GIB


@dataclass(frozen=True)
class DownloadRequest:
    """What to download: a repo (or a catalog id such as 'r1-distill-qwen-7b') and a quant."""

    repo_id: str
    quant: str | None = None  # e.g. 'Q4_K_M' or 'UD-IQ1_S'; all parts of a split model
    files: tuple[str, ...] = ()  # or exact file paths in the repo
    revision: str | None = None  # branch, tag or commit; default: main
    model_id: str | None = None  # the store folder to use; default: from repo and quant


@dataclass(frozen=True)
class DownloadOptions:
    """How patient and careful a download is."""

    stall_seconds: float = 30.0  # no bytes for this long: drop the connection and reconnect
    connect_seconds: float = 20.0
    max_retries: int = 8  # failed attempts in a row (without new bytes) before giving up
    backoff_base: float = 1.0  # seconds before the first retry; doubles each time
    backoff_max: float = 60.0
    disk_reserve: int = 256 * 1024 * 1024  # left free beyond the model
    reuse_hf_cache: bool = True  # link files found in the Hugging Face cache


@dataclass(frozen=True)
class _Resolved:
    """A resolved request: which repo, commit and files."""

    repo_id: str
    revision: str
    choice: QuantChoice
    license: str | None
    catalog: CatalogModel | None


def expected_model_id(request: DownloadRequest) -> str | None:
    """The store id a request will download into, when it can be known without the network."""
    if request.model_id:
        return request.model_id
    if request.quant and "/" in request.repo_id:
        return model_id_for(request.repo_id, request.quant.upper())
    if request.files and "/" in request.repo_id:
        return model_id_for(request.repo_id, quant_label(request.files[0]))
    return None


def download_model(
    request: DownloadRequest,
    *,
    store: ModelStore | None = None,
    options: DownloadOptions | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> StoredModel:
    """Download (or resume) a model into the store and verify every file; return it.

    Raises DownloadCancelled when `cancel` is set (the bytes stay; the state becomes paused),
    NotEnoughDisk before the first byte, ChecksumMismatch, and the other DownloadErrors.
    """
    store = store or ModelStore()
    options = options or DownloadOptions()
    cancel = cancel or threading.Event()

    known = expected_model_id(request)
    existing = store.find(known) if known else None
    same_revision = request.revision in (None, existing and existing.manifest.revision)
    if existing and existing.manifest.is_usable and same_revision and _all_present(existing):
        if on_progress is not None:  # nothing to fetch: no network at all
            size = existing.manifest.total_size
            on_progress(Progress(existing.model_id, COMPLETE, size, size, message="already here"))
        return existing
    revision = request.revision or (existing.manifest.revision if existing else None)
    resolved = _resolve(request, revision)
    model_id = known or model_id_for(resolved.repo_id, resolved.choice.name)
    with store.lock(model_id):
        return _Download(store, options, resolved, model_id, on_progress, cancel).run()


def _all_present(model: StoredModel) -> bool:
    return all((model.folder / f.path).is_file() for f in model.manifest.files)


def _resolve(request: DownloadRequest, revision: str | None) -> _Resolved:
    """Find the repo, commit and files a request means (network: the repo's metadata)."""
    catalog = None
    repos = [request.repo_id]
    if "/" not in request.repo_id:
        catalog = find_model(request.repo_id)
        if catalog is None:
            raise RepoNotFound(
                f"{request.repo_id!r} is neither a Hub repository (owner/name) nor in the catalog."
            )
        repos = [r.repo_id for r in catalog.repos]
    quant = request.quant or (catalog.recommended_quant if catalog and not request.files else None)
    problems = []
    for repo_id in repos:
        try:
            listing = hub.repo_listing(repo_id, revision)
        except RepoNotFound as exc:
            if len(repos) == 1:
                raise
            problems.append(str(exc))  # a catalog model: try its next repo
            continue
        repo_catalog = catalog or catalog_for_repo(repo_id)
        choice = _choose(listing, request.files, quant, repo_catalog)
        if isinstance(choice, QuantChoice):
            return _Resolved(
                repo_id=listing.repo_id,
                revision=listing.revision,
                choice=choice,
                license=listing.license or (repo_catalog.license if repo_catalog else None),
                catalog=repo_catalog,
            )
        problems.append(choice)
    raise RepoNotFound(" ".join(problems))


def _choose(
    listing: hub.RepoListing,
    files: tuple[str, ...],
    quant: str | None,
    catalog: CatalogModel | None,
) -> QuantChoice | str:
    """The files to fetch from one repo, or why there are none (in words)."""
    if files:
        by_path = {f.path: f for f in listing.files}
        missing = [p for p in files if p not in by_path]
        if missing:
            return f"{listing.repo_id} has no file {', '.join(missing)}."
        chosen = tuple(by_path[p] for p in files)
        return QuantChoice(quant_label(files[0]) or PurePosixPath(files[0]).stem, chosen)
    offered = listing.quants
    if quant is None:
        if len(offered) == 1:
            return offered[0]
        names = ", ".join(c.name for c in offered) or "none"
        return f"Choose a quantization of {listing.repo_id}: {names}."
    repo = (
        next((r for r in catalog.repos if r.repo_id == listing.repo_id), None) if catalog else None
    )
    choice = repo.files_for(listing.files, quant) if repo else find_quant(listing.files, quant)
    if choice is None:
        names = ", ".join(c.name for c in offered) or "none"
        return f"{listing.repo_id} has no {quant} GGUF (it offers: {names})."
    return choice


def _safe_path(folder: Path, path: str) -> Path:
    """folder/path, refusing repo paths that would leave the folder."""
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or any(p in ("..", "") for p in parts):
        raise DownloadError(f"The Hub listed an unsafe file path: {path!r}")
    return folder.joinpath(*parts)


class _Download:
    """One run of download_model, holding the model folder's lock."""

    def __init__(
        self,
        store: ModelStore,
        options: DownloadOptions,
        source: _Resolved,
        model_id: str,
        on_progress: ProgressCallback | None,
        cancel: threading.Event,
    ) -> None:
        self.store = store
        self.options = options
        self.source = source
        self.cancel = cancel
        self.folder = store.folder(model_id)
        self.manifest = self._manifest(model_id)
        self.report = Reporter(
            model_id, self.manifest.total_size, on_progress, file_count=len(self.manifest.files)
        )
        self.offset = 0  # of the file being fetched: its bytes on disk
        self.hasher: Any = hashlib.sha256()  # of those bytes

    def _manifest(self, model_id: str) -> Manifest:
        """The stored manifest brought up to the source, or a new one; stale bytes removed."""
        source = self.source
        found = self.store.find(model_id)
        old = {f.path: f for f in found.manifest.files} if found else {}
        files = []
        for remote in source.choice.files:
            entry = ModelFile(remote.path, remote.size, remote.sha256)
            before = old.get(remote.path)
            if before is not None and (before.sha256, before.size) == (entry.sha256, entry.size):
                entry.verified = before.verified
            elif before is not None:  # the file changed on the Hub: its old bytes are useless
                self._remove(remote.path)
            files.append(entry)
        for path in old.keys() - {f.path for f in files}:
            self._remove(path)  # no longer part of the model
        if found is not None:
            manifest = found.manifest
            manifest.files = files
            manifest.revision = source.revision
        else:
            manifest = Manifest(
                model_id=model_id,
                name=source.catalog.name if source.catalog else source.repo_id.split("/")[-1],
                source="hub",
                files=files,
                repo_id=source.repo_id,
                revision=source.revision,
                quant=source.choice.name,
                license=source.license,
                catalog_id=source.catalog.id if source.catalog else None,
            )
        return manifest

    def _final(self, path: str) -> Path:
        return _safe_path(self.folder, path)

    def _partial(self, path: str) -> Path:
        final = self._final(path)
        return final.with_name(final.name + PARTIAL_SUFFIX)

    def _remove(self, path: str) -> None:
        for p in (self._final(path), self._partial(path)):
            p.unlink(missing_ok=True)

    def _save(self, state: str | None = None, error: str | None = None) -> None:
        if state is not None:
            self.manifest.state = state
        self.manifest.error = error
        self.store.save(self.manifest)

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> StoredModel:
        created = not self.folder.joinpath("ponder-model.json").exists()
        keep_record = True
        try:
            todo, cached = self._plan_files()
            self.report.update(done=self.store.partial_bytes(self.manifest), state=DOWNLOADING)
            try:
                self._check_disk(todo)
            except NotEnoughDisk:
                if created:  # nothing of it is on disk: leave no trace in the store
                    keep_record = False
                    shutil.rmtree(self.folder, ignore_errors=True)
                raise
            self._save(DOWNLOADING)
            for i, entry in enumerate(self.manifest.files, 1):
                self.report.update(file=entry.path, file_index=i, state=DOWNLOADING, message="")
                if entry.path in cached:
                    self._link_cached(entry, cached[entry.path])
                elif not entry.verified:
                    self._fetch(entry)
            model = StoredModel(self.manifest, self.folder)
            describe(model)
            self._save(COMPLETE)
            self.report.update(state=COMPLETE, done=self.manifest.total_size, eta=0.0, message="")
            return model
        except (DownloadCancelled, KeyboardInterrupt):
            self._save(PAUSED)
            self.report.update(state=PAUSED, speed=0.0, eta=None, message="paused")
            raise
        except Exception as exc:
            message = str(exc) if isinstance(exc, PonderError) else f"{type(exc).__name__}: {exc}"
            if keep_record:
                self._save(FAILED, message)
            self.report.update(state=FAILED, speed=0.0, eta=None, message=message)
            raise

    def _plan_files(self) -> tuple[list[ModelFile], dict[str, Path]]:
        """Files still to download, and those the Hugging Face cache can supply instead."""
        todo: list[ModelFile] = []
        cached: dict[str, Path] = {}
        for entry in self.manifest.files:
            final, partial = self._final(entry.path), self._partial(entry.path)
            if entry.verified and final.is_file() and final.stat().st_size == entry.size:
                continue
            if final.exists() and not partial.exists():
                # Renamed but not recorded (a crash in between): it is hashed again.
                os.replace(final, partial)
            entry.verified = False
            blob = None
            if self.options.reuse_hf_cache and not partial.exists():
                wanted = RemoteFile(entry.path, entry.size, entry.sha256)
                blob = hf_cache.find_blob(self.source.repo_id, wanted)
            if blob is not None:
                cached[entry.path] = blob
            else:
                todo.append(entry)
        return todo, cached

    def _check_disk(self, todo: list[ModelFile]) -> None:
        """Refuse before the first byte when the rest of the model does not fit."""
        needed = 0
        for entry in todo:
            partial = self._partial(entry.path)
            have = partial.stat().st_size if partial.exists() else 0
            needed += max(0, entry.size - have)
        if not needed:
            return
        free = shutil.disk_usage(self.folder).free
        if needed + self.options.disk_reserve > free:
            raise NotEnoughDisk(
                f"{self.manifest.model_id} needs {needed / GIB:.2f} GiB more disk space, but only "
                f"{free / GIB:.2f} GiB is free in {self.store.root} (Ponder keeps "
                f"{self.options.disk_reserve / GIB:.2f} GiB spare). Free some space, or move "
                "Ponder's data folder (PONDER_HOME), and try again.",
                needed=needed,
                free=free,
            )

    def _link_cached(self, entry: ModelFile, blob: Path) -> None:
        """Take a file from the Hugging Face cache (hard link, else symbolic link); verify it."""
        final, partial = self._final(entry.path), self._partial(entry.path)
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        try:
            os.link(blob, partial)
        except OSError:
            os.symlink(blob.resolve(), partial)
        self.report.update(state=CHECKING, message=f"reusing {entry.path} from the HF cache")
        digest = sha256_file(partial, cancel=self.cancel)
        if entry.sha256 is not None and digest != entry.sha256:
            partial.unlink()  # a damaged cache entry: fetch the file instead
            self.report.update(state=DOWNLOADING, message="")
            self._fetch(entry)
            return
        self._accept(entry, digest, partial, final)
        self.report.advance(entry.size)

    def _paused(self) -> DownloadCancelled:
        return DownloadCancelled(f"The download of {self.manifest.model_id} was stopped.")

    def _fetch(self, entry: ModelFile) -> None:
        """Download one file to its .incomplete, resuming from its size, then verify it."""
        final, partial = self._final(entry.path), self._partial(entry.path)
        partial.parent.mkdir(parents=True, exist_ok=True)
        self.hasher = hashlib.sha256()
        self.offset = partial.stat().st_size if partial.exists() else 0
        if self.offset > entry.size:
            partial.unlink()
            self.offset = 0
        if self.offset:
            gib = self.offset / GIB
            self.report.update(state=CHECKING, message=f"checking {gib:.2f} GiB already here")
            sha256_file(partial, hasher=self.hasher, limit=self.offset, cancel=self.cancel)
            self.report.update(state=DOWNLOADING, message="")
        failures = 0
        while self.offset < entry.size:
            if self.cancel.is_set():
                raise self._paused()
            before = self.offset
            try:
                self._transfer(entry, partial)
                if self.offset < entry.size and not self.cancel.is_set():
                    raise ConnectionFailed(f"The Hub ended {entry.path} at byte {self.offset:,}.")
            except OSError as exc:
                if not isinstance(exc, ConnectionFailed):
                    if exc.errno == errno.ENOSPC:
                        raise NotEnoughDisk(
                            f"The disk filled up while downloading {entry.path}. The bytes so "
                            "far are kept: free some space and resume.",
                            needed=entry.size - self.offset,
                            free=0,
                        ) from None
                    raise
                failures = 1 if self.offset > before else failures + 1
                if failures > self.options.max_retries:
                    raise DownloadError(
                        f"Gave up on {entry.path} after {failures} failed attempts in a row: "
                        f"{exc} The bytes so far are kept; resume when the network is back."
                    ) from None
                delay = min(
                    self.options.backoff_max, self.options.backoff_base * 2 ** (failures - 1)
                )
                self.report.update(message=f"{exc} Retrying in {delay:g} s.")
                if self.cancel.wait(delay):
                    raise self._paused() from None
        self._accept(entry, self.hasher.hexdigest(), partial, final)

    def _transfer(self, entry: ModelFile, partial: Path) -> None:
        """One connection: append bytes from self.offset until the file ends, drops or stalls."""
        options = self.options
        with hub.open_file(
            self.source.repo_id,
            self.source.revision,
            entry.path,
            offset=self.offset,
            stall_seconds=options.stall_seconds,
            connect_seconds=options.connect_seconds,
        ) as stream:
            if stream.total is not None and stream.total != entry.size:
                raise DownloadError(
                    f"The Hub serves {entry.path} with {stream.total:,} bytes but listed "
                    f"{entry.size:,}; the repository may have changed. Try again."
                )
            mode = "ab"
            if stream.offset != self.offset:  # the server ignored Range: the whole file comes
                self.report.update(done=self.report.done - self.offset)
                self.offset, self.hasher, mode = 0, hashlib.sha256(), "wb"
            with Sink(partial, mode, self.hasher) as sink:
                for chunk in stream.chunks():
                    if self.offset + len(chunk) > entry.size:
                        raise DownloadError(f"The Hub sent more bytes than {entry.path} has.")
                    sink.put(chunk)
                    self.offset += len(chunk)
                    self.report.advance(len(chunk))
                    if self.cancel.is_set():
                        return

    def _accept(self, entry: ModelFile, digest: str, partial: Path, final: Path) -> None:
        """Make a fully fetched file usable if its sha256 matches; else delete it and fail."""
        if entry.sha256 is not None and digest != entry.sha256:
            partial.unlink(missing_ok=True)
            self.report.update(done=max(0, self.report.done - entry.size))
            raise ChecksumMismatch(
                f"{entry.path} of {self.source.repo_id} is damaged: its sha256 is {digest}, but "
                f"the Hub says {entry.sha256}. The file was deleted; download the model again."
            )
        os.replace(partial, final)
        entry.sha256 = digest
        entry.verified = True
        self._save()
