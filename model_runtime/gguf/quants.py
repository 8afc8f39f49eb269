"""Read quantization names and split-part numbers from GGUF file names; group a repo's files."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

# llama.cpp's split naming: <prefix>-00001-of-00003.gguf (gguf.SHARD_NAME_FORMAT).
_SPLIT = re.compile(r"^(?P<prefix>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
# A quantization label at the end of a file stem: Q4_K_M, IQ1_S, UD-IQ1_S, UD-Q2_K_XL, Q8_0,
# F16, BF16, TQ1_0, MXFP4_MOE. The earliest match wins, so "UD-" is kept when present.
_LABEL = re.compile(
    r"[-._](?P<label>(?:UD-)?(?:I?Q\d(?:_[0-9A-Z]+)*|B?F16|F32|TQ\d_\d|MXFP4(?:_MOE)?))$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SplitPart:
    """Where one file sits in a split model: 1-based index out of count."""

    prefix: str
    index: int
    count: int


@dataclass(frozen=True)
class RemoteFile:
    """One file of a Hub repository: its path in the repo, size and LFS sha256."""

    path: str
    size: int
    sha256: str | None  # None for small files kept in git rather than LFS


@dataclass(frozen=True)
class QuantChoice:
    """One quantization a repo offers: its GGUF files (several parts when split) and total size."""

    name: str
    files: tuple[RemoteFile, ...]

    @property
    def size(self) -> int:
        """Bytes of all its files together."""
        return sum(f.size for f in self.files)

    @property
    def is_split(self) -> bool:
        """True when the model comes in several parts."""
        return len(self.files) > 1


def split_part(path: str) -> SplitPart | None:
    """The split position of a part file name (e.g. x-00002-of-00005.gguf), or None."""
    match = _SPLIT.match(PurePosixPath(path).name)
    if match is None:
        return None
    return SplitPart(match["prefix"], int(match["index"]), int(match["count"]))


def quant_label(path: str) -> str | None:
    """The quantization in a GGUF file's name, upper-cased (e.g. 'UD-IQ1_S'), or None."""
    name = PurePosixPath(path).name
    part = split_part(name)
    stem = part.prefix if part else re.sub(r"\.gguf$", "", name, flags=re.IGNORECASE)
    match = _LABEL.search(stem)
    return match["label"].upper() if match else None


def is_model_gguf(path: str) -> bool:
    """True for a GGUF with weights, not a multimodal projector or an importance matrix."""
    name = PurePosixPath(path).name.lower()
    return name.endswith(".gguf") and not name.startswith(("mmproj", "imatrix"))


def group_quants(files: Iterable[RemoteFile]) -> list[QuantChoice]:
    """The repo's GGUF models by quantization, smallest first; incomplete split sets left out.

    A choice is named by its quantization (e.g. 'Q4_K_M'); when a repo holds several models in
    the same quantization, each one's name adds its file name, e.g. 'Q4_K_M (model-b)'.
    """
    by_label: dict[str, dict[str, list[RemoteFile]]] = {}
    for f in files:
        if not is_model_gguf(f.path):
            continue
        part = split_part(f.path)
        stem = part.prefix if part else PurePosixPath(f.path).name[: -len(".gguf")]
        label = quant_label(f.path) or stem
        by_label.setdefault(label, {}).setdefault(stem, []).append(f)
    choices = []
    for label, models in by_label.items():
        complete = {}
        for stem, members in models.items():
            ordered = tuple(sorted(members, key=lambda f: f.path))
            if complete_split(ordered):
                complete[stem] = ordered
        for stem, ordered in complete.items():
            name = label if len(complete) == 1 or stem == label else f"{label} ({stem})"
            choices.append(QuantChoice(name, ordered))
    return sorted(choices, key=lambda c: (c.size, c.name))


def find_quant(files: Iterable[RemoteFile], name: str) -> QuantChoice | None:
    """The choice called `name` (case-insensitive) among a repo's files, or None."""
    wanted = name.strip().upper()
    for choice in group_quants(files):
        if choice.name.upper() == wanted:
            return choice
    return None


def complete_split(files: tuple[RemoteFile, ...]) -> bool:
    """True for one unsplit file, or for all parts 1..N of one split model."""
    if len(files) == 1:
        part = split_part(files[0].path)
        return part is None or part.count == 1
    parts = [split_part(f.path) for f in files]
    if any(p is None for p in parts):
        return False
    counts = {p.count for p in parts if p}
    indexes = sorted(p.index for p in parts if p)
    return len(counts) == 1 and indexes == list(range(1, counts.pop() + 1))


def first_part(paths: Iterable[str]) -> str:
    """The file llama.cpp opens: the only one, or part 1 of a split model."""
    ordered = sorted(paths)
    for path in ordered:
        part = split_part(path)
        if part is not None and part.index == 1:
            return path
    return ordered[0]
