"""Read a GGUF model file's metadata and tensor table quickly, treating the file as untrusted."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from model_runtime.errors import ModelFileError
from model_runtime.gguf.format import (
    FTYPE_GUESSED,
    GGUF_MAGIC,
    LLAMA_FTYPE_NAMES,
    GgufArray,
    GgufTensor,
)
from model_runtime.gguf.parser import Header, Parser


@dataclass(frozen=True)
class GgufInfo:
    """What Ponder needs to know about one GGUF file (one part of a split model)."""

    path: Path
    file_size: int
    version: int
    architecture: str | None
    name: str | None
    size_label: str | None
    file_type: int | None
    quantization: str | None
    parameter_count: int  # of the tensors in this file only, for a split model's part
    tensor_count: int
    tensor_data_size: int  # bytes of tensor data, without padding
    data_offset: int  # where the tensor data starts; GgufTensor.offset is absolute
    alignment: int
    context_length: int | None
    embedding_length: int | None
    block_count: int | None
    feed_forward_length: int | None
    head_count: int | None
    head_count_kv: int | None  # the largest over layers when stored per layer
    head_count_kv_per_layer: tuple[int, ...] | None
    key_length: int | None
    value_length: int | None
    expert_count: int | None
    expert_used_count: int | None
    vocab_size: int | None
    tokenizer_model: str | None
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    split_index: int  # 0-based, as split.no
    split_count: int
    split_tensor_count: int | None  # tensors in all parts together
    kv: Mapping[str, Any] = field(repr=False)
    tensors: tuple[GgufTensor, ...] = field(repr=False)

    @property
    def is_split(self) -> bool:
        """True when this file is one part of a model split into several files."""
        return self.split_count > 1


def read_gguf_info(path: str | os.PathLike[str]) -> GgufInfo:
    """Read a GGUF file's header, metadata and tensor table; raise ModelFileError if unusable."""
    p = Path(path)
    if p.is_dir():
        raise ModelFileError(f"{p} is a folder, not a GGUF model file")
    try:
        with open(p, "rb") as f:
            file_size = os.fstat(f.fileno()).st_size
            if file_size == 0:
                raise ModelFileError(f"{p} is empty (0 bytes); it may be an incomplete download")
            if f.read(4) != GGUF_MAGIC:
                raise ModelFileError(f"{p} is not a GGUF model file")
            f.seek(0)
            return info_from_header(p, file_size, Parser(p, f, file_size).parse())
    except FileNotFoundError:
        raise ModelFileError(f"Model file not found: {p}") from None
    except OSError as e:
        raise ModelFileError(f"Cannot read model file {p}: {e.strerror or e}") from None


def read_gguf_stream(name: str, stream: Any, file_size: int) -> GgufInfo:
    """A GGUF header read from a stream (any object with readinto) of a file of file_size
    bytes, e.g. the start of a file on the Hub: only the header's bytes are read."""
    if file_size <= 0:
        raise ModelFileError(f"{name} is empty (0 bytes)")
    return info_from_header(Path(name), file_size, Parser(Path(name), stream, file_size).parse())


def info_from_header(path: Path, file_size: int, header: Header) -> GgufInfo:
    """Pick the well-known fields out of the raw metadata."""
    version, kv, tensors, data_offset, alignment = header
    arch = _str(kv, "general.architecture")

    def hp(name: str) -> Any:
        return kv.get(f"{arch}.{name}") if arch else None

    head_count_kv_raw = hp("attention.head_count_kv")
    per_layer = None
    if isinstance(head_count_kv_raw, tuple) and all(_is_int(x) for x in head_count_kv_raw):
        per_layer = tuple(int(x) for x in head_count_kv_raw)

    file_type = _int(kv.get("general.file_type"))
    tokens = kv.get("tokenizer.ggml.tokens")
    if isinstance(tokens, GgufArray):
        vocab_size: int | None = tokens.length
    elif isinstance(tokens, tuple):
        vocab_size = len(tokens)
    else:
        vocab_size = _int(hp("vocab_size"))

    return GgufInfo(
        path=path,
        file_size=file_size,
        version=version,
        architecture=arch,
        name=_str(kv, "general.name"),
        size_label=_str(kv, "general.size_label"),
        file_type=file_type,
        quantization=_quantization(file_type, tensors),
        parameter_count=sum(t.n_elements for t in tensors),
        tensor_count=len(tensors),
        tensor_data_size=sum(t.n_bytes for t in tensors),
        data_offset=data_offset,
        alignment=alignment,
        context_length=_int(hp("context_length")),
        embedding_length=_int(hp("embedding_length")),
        block_count=_int(hp("block_count")),
        feed_forward_length=_int(hp("feed_forward_length")),
        head_count=_int(hp("attention.head_count")),
        head_count_kv=_int(head_count_kv_raw),
        head_count_kv_per_layer=per_layer,
        key_length=_int(hp("attention.key_length")),
        value_length=_int(hp("attention.value_length")),
        expert_count=_int(hp("expert_count")),
        expert_used_count=_int(hp("expert_used_count")),
        vocab_size=vocab_size,
        tokenizer_model=_str(kv, "tokenizer.ggml.model"),
        chat_template=_str(kv, "tokenizer.chat_template"),
        bos_token_id=_int(kv.get("tokenizer.ggml.bos_token_id")),
        eos_token_id=_int(kv.get("tokenizer.ggml.eos_token_id")),
        split_index=_int(kv.get("split.no")) or 0,
        split_count=_int(kv.get("split.count")) or 1,
        split_tensor_count=_int(kv.get("split.tensors.count")),
        kv=MappingProxyType(kv),
        tensors=tensors,
    )


def _quantization(file_type: int | None, tensors: tuple[GgufTensor, ...]) -> str | None:
    """Name the quantization from general.file_type, else the most common 2-D weight type."""
    if file_type is not None:
        name = LLAMA_FTYPE_NAMES.get(file_type & ~FTYPE_GUESSED)
        if name is not None:
            return name
    counts = Counter(t.type_name for t in tensors if len(t.shape) >= 2)
    if counts:
        return counts.most_common(1)[0][0]
    return None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int(v: Any) -> int | None:
    """An integer value, the largest of a per-layer tuple of integers, or None."""
    if _is_int(v):
        return int(v)
    if isinstance(v, tuple) and v and all(_is_int(x) for x in v):
        return int(max(v))
    return None


def _str(kv: Mapping[str, Any], key: str) -> str | None:
    v = kv.get(key)
    return v if isinstance(v, str) else None
