"""Valid-looking but broken models: copies of real GGUF files whose metadata the gguf package's
own scripts edited (gguf_set_metadata changes a number in place, gguf_new_metadata writes a
copy with other keys). Each reads as a GGUF file; llama.cpp refuses it or aborts on it."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import gguf
from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata
from gguf.scripts.gguf_set_metadata import set_metadata

from tests.gguf_factory import write_tiny_model

BROKEN_TEMPLATE = "{% if messages %}never closed"


def set_value(src: Path, dst: Path, key: str, value: int) -> Path:
    """A copy of src with one number changed in place, as gguf_set_metadata does it."""
    shutil.copyfile(src, dst)
    reader = gguf.GGUFReader(dst, "r+")
    set_metadata(reader, argparse.Namespace(key=key, value=str(value), dry_run=False, force=True))
    reader.data.flush()
    del reader
    return dst


def rewrite(
    src: Path,
    dst: Path,
    *,
    arch: str | None = None,
    chat_template: str | None = None,
    add: Mapping[str, tuple[gguf.GGUFValueType, Any]] | None = None,
    remove: Iterable[str] = (),
) -> Path:
    """A copy of src written by gguf_new_metadata's copy: another architecture (its keys
    renamed with it), chat template, or added and removed keys."""
    reader = gguf.GGUFReader(src, "r")
    old_arch = str(reader.get_field(gguf.Keys.General.ARCHITECTURE).contents())
    new_metadata: dict[str, MetadataDetails] = {}
    removed = list(remove)
    if arch is not None:
        for field in reader.fields.values():
            if field.name.startswith(f"{old_arch}."):
                kind = field.types[0]
                sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
                new_name = arch + field.name[len(old_arch) :]
                new_metadata[new_name] = MetadataDetails(kind, field.contents(), sub_type=sub)
                removed.append(field.name)
    if chat_template is not None:
        new_metadata[gguf.Keys.Tokenizer.CHAT_TEMPLATE] = MetadataDetails(
            gguf.GGUFValueType.STRING, chat_template
        )
    for key, (kind, value) in (add or {}).items():
        new_metadata[key] = MetadataDetails(kind, value)
    writer = gguf.GGUFWriter(dst, arch=arch or old_arch, endianess=reader.endianess)
    copy_with_new_metadata(reader, writer, new_metadata, removed)
    return dst


def tiny(folder: Path, arch: str = "llama", **model: Any) -> Path:
    """A tiny real model that llama.cpp loads (deepseek2: 4 experts, 2 used per token)."""
    return write_tiny_model(folder / f"tiny-{arch}.gguf", arch=arch, **model)


# name -> (how to break a tiny model, a fragment of the reason given)
BROKEN: dict[str, tuple[Any, str]] = {
    "unknown-architecture": (
        lambda src, dst: rewrite(src, dst, arch="xlama"),
        "cannot run models of the 'xlama' architecture",
    ),
    "block-count-100000": (
        lambda src, dst: set_value(src, dst, "llama.block_count", 100000),
        "100,000 layers",
    ),
    "head-count-0": (
        lambda src, dst: set_value(src, dst, "llama.attention.head_count", 0),
        "0 attention heads",
    ),
    "broken-template": (
        lambda src, dst: rewrite(src, dst, chat_template=BROKEN_TEMPLATE),
        "chat template is broken",
    ),
    "expert-count-mismatch": (
        lambda src, dst: set_value(src, dst, "deepseek2.expert_count", 6),
        "holds 4 experts, but expert_count says 6",
    ),
    "no-expert-used": (  # llama.cpp: GGML_ASSERT(n_expert_used_max > 0)
        lambda src, dst: set_value(src, dst, "deepseek2.expert_used_count", 0),
        "routes tokens to none",
    ),
}


def broken_model(folder: Path, name: str) -> tuple[Path, str]:
    """The broken model called name, made in folder, and a fragment of the reason it is refused."""
    make, reason = BROKEN[name]
    arch = "deepseek2" if "expert" in name else "llama"
    source = tiny(folder, arch, n_layer=3 if arch == "deepseek2" else 2)
    return make(source, folder / f"{name}.gguf"), reason
