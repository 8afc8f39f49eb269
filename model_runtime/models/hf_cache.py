"""Find GGUF files already in the Hugging Face cache (~/.cache/huggingface/hub), offline.

The cache keeps each LFS file once, as blobs/<sha256>, and links it from snapshots/<commit>/.
Ponder reuses such a blob instead of downloading the file again.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from model_runtime.gguf.quants import RemoteFile

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class CachedFile:
    """A file of a repo in the Hugging Face cache: its repo path, blob and (LFS) sha256."""

    repo_id: str
    revision: str
    path: str
    blob: Path
    size: int
    sha256: str | None  # the blob's name for LFS files; None for small git files


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache folder, from the same variables huggingface_hub reads."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.environ[name]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def repo_folder(repo_id: str) -> Path:
    """The cache folder of a model repo (models--owner--name)."""
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def find_blob(repo_id: str, wanted: RemoteFile) -> Path | None:
    """The cached blob with the file's sha256 and size, or None."""
    if not wanted.sha256:
        return None
    blob = repo_folder(repo_id) / "blobs" / wanted.sha256
    try:
        return blob if blob.is_file() and blob.stat().st_size == wanted.size else None
    except OSError:
        return None


def cached_files(repo_id: str, revision: str | None = None) -> list[CachedFile]:
    """The repo's files in the cache (from the newest snapshot, or from `revision`)."""
    folder = repo_folder(repo_id)
    snapshots = folder / "snapshots"
    if revision is None:
        ref = folder / "refs" / "main"
        revision = ref.read_text().strip() if ref.is_file() else None
    if revision is None or not (snapshots / revision).is_dir():
        candidates = (
            sorted(snapshots.glob("*"), key=lambda p: p.stat().st_mtime)
            if snapshots.is_dir()
            else []
        )
        if not candidates:
            return []
        revision = candidates[-1].name
    root = snapshots / revision
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        blob = path.resolve()
        sha = blob.name if _SHA256.match(blob.name) else None
        found.append(
            CachedFile(
                repo_id, revision, path.relative_to(root).as_posix(), blob, blob.stat().st_size, sha
            )
        )
    return found


def cached_repos() -> list[str]:
    """The model repos that have GGUF files in the cache."""
    root = hub_cache_dir()
    repos = []
    for folder in sorted(root.glob("models--*")) if root.is_dir() else []:
        if any(p.name.lower().endswith(".gguf") for p in (folder / "snapshots").rglob("*.gguf")):
            repos.append(folder.name[len("models--") :].replace("--", "/", 1))
    return repos
