"""Read a GGUF model file's metadata and tensor table quickly, treating the file as untrusted."""

from __future__ import annotations

import io
import os
import struct
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from model_runtime.errors import ModelFileError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

# Real headers (metadata + tensor table) stay well under 32 MiB even with a 256k-token
# vocabulary and its merges; the cap bounds the work a damaged header can cause.
MAX_METADATA_BYTES = 64 * 1024 * 1024
# Arrays up to this length are kept in GgufInfo.kv; longer ones only as GgufArray.
MAX_INLINE_ARRAY = 64
# Numeric per-layer arrays (head_count_kv, feed_forward_length ...) are kept up to this length.
MAX_LAYER_ARRAY = 1024

_MAX_DIMS = 4  # GGML_MAX_DIMS
_MAX_TENSOR_NAME = 63  # GGML_MAX_NAME minus the terminating NUL
_INT64_MAX = 2**63 - 1
_FTYPE_GUESSED = 1024
_MIB = 1024 * 1024
_FIRST_READ = 2 * _MIB  # the whole header of most models
_WALK_BLOCK = 4096  # strings walked between checks on the buffer

# GGUF metadata value types.
_T_UINT8, _T_INT8, _T_UINT16, _T_INT16, _T_UINT32, _T_INT32 = 0, 1, 2, 3, 4, 5
_T_FLOAT32, _T_BOOL, _T_STRING, _T_ARRAY, _T_UINT64, _T_INT64, _T_FLOAT64 = 6, 7, 8, 9, 10, 11, 12

_VALUE_TYPE_NAMES = {
    _T_UINT8: "uint8",
    _T_INT8: "int8",
    _T_UINT16: "uint16",
    _T_INT16: "int16",
    _T_UINT32: "uint32",
    _T_INT32: "int32",
    _T_FLOAT32: "float32",
    _T_BOOL: "bool",
    _T_STRING: "string",
    _T_ARRAY: "array",
    _T_UINT64: "uint64",
    _T_INT64: "int64",
    _T_FLOAT64: "float64",
}
# struct format character of each fixed-size value type.
_SCALAR_FORMATS = {
    _T_UINT8: "B",
    _T_INT8: "b",
    _T_UINT16: "H",
    _T_INT16: "h",
    _T_UINT32: "I",
    _T_INT32: "i",
    _T_FLOAT32: "f",
    _T_BOOL: "?",
    _T_UINT64: "Q",
    _T_INT64: "q",
    _T_FLOAT64: "d",
}
_SCALAR_STRUCTS = {t: struct.Struct("<" + fmt) for t, fmt in _SCALAR_FORMATS.items()}

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_HEADER = struct.Struct("<4sIQQ")  # magic, version, tensor count, kv count
_TYPE_AND_OFFSET = struct.Struct("<IQ")

# ggml tensor types: id -> (name, elements per block, bytes per block), as in ggml.h.
GGML_TYPES: Mapping[int, tuple[str, int, int]] = MappingProxyType(
    {
        0: ("F32", 1, 4),
        1: ("F16", 1, 2),
        2: ("Q4_0", 32, 18),
        3: ("Q4_1", 32, 20),
        6: ("Q5_0", 32, 22),
        7: ("Q5_1", 32, 24),
        8: ("Q8_0", 32, 34),
        9: ("Q8_1", 32, 40),
        10: ("Q2_K", 256, 84),
        11: ("Q3_K", 256, 110),
        12: ("Q4_K", 256, 144),
        13: ("Q5_K", 256, 176),
        14: ("Q6_K", 256, 210),
        15: ("Q8_K", 256, 292),
        16: ("IQ2_XXS", 256, 66),
        17: ("IQ2_XS", 256, 74),
        18: ("IQ3_XXS", 256, 98),
        19: ("IQ1_S", 256, 50),
        20: ("IQ4_NL", 32, 18),
        21: ("IQ3_S", 256, 110),
        22: ("IQ2_S", 256, 82),
        23: ("IQ4_XS", 256, 136),
        24: ("I8", 1, 1),
        25: ("I16", 1, 2),
        26: ("I32", 1, 4),
        27: ("I64", 1, 8),
        28: ("F64", 1, 8),
        29: ("IQ1_M", 256, 56),
        30: ("BF16", 1, 2),
        34: ("TQ1_0", 256, 54),
        35: ("TQ2_0", 256, 66),
        39: ("MXFP4", 32, 17),
        40: ("NVFP4", 64, 36),
        41: ("Q1_0", 128, 18),
        42: ("Q2_0", 64, 18),
    }
)

# llama.cpp's LLAMA_FTYPE values (general.file_type) -> the names llama-quantize uses.
LLAMA_FTYPE_NAMES: Mapping[int, str] = MappingProxyType(
    {
        0: "F32",
        1: "F16",
        2: "Q4_0",
        3: "Q4_1",
        4: "Q4_1_SOME_F16",
        7: "Q8_0",
        8: "Q5_0",
        9: "Q5_1",
        10: "Q2_K",
        11: "Q3_K_S",
        12: "Q3_K_M",
        13: "Q3_K_L",
        14: "Q4_K_S",
        15: "Q4_K_M",
        16: "Q5_K_S",
        17: "Q5_K_M",
        18: "Q6_K",
        19: "IQ2_XXS",
        20: "IQ2_XS",
        21: "Q2_K_S",
        22: "IQ3_XS",
        23: "IQ3_XXS",
        24: "IQ1_S",
        25: "IQ4_NL",
        26: "IQ3_S",
        27: "IQ3_M",
        28: "IQ2_S",
        29: "IQ2_M",
        30: "IQ4_XS",
        31: "IQ1_M",
        32: "BF16",
        33: "Q4_0_4_4",
        34: "Q4_0_4_8",
        35: "Q4_0_8_8",
        36: "TQ1_0",
        37: "TQ2_0",
        38: "MXFP4_MOE",
        39: "NVFP4",
        40: "Q1_0",
        41: "Q2_0",
    }
)


@dataclass(frozen=True)
class GgufArray:
    """A metadata array too long to keep: its element type and length only."""

    item_type: str
    length: int


@dataclass(frozen=True)
class GgufTensor:
    """One tensor-table entry: shape in ggml order (ne[0] first), type, place in the file."""

    name: str
    shape: tuple[int, ...]
    type_id: int
    type_name: str
    offset: int
    n_bytes: int

    @property
    def n_elements(self) -> int:
        """The number of elements (the product of the dimensions)."""
        n = 1
        for d in self.shape:
            n *= d
        return n


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
            return _Parser(p, f, file_size).parse()
    except FileNotFoundError:
        raise ModelFileError(f"Model file not found: {p}") from None
    except OSError as e:
        raise ModelFileError(f"Cannot read model file {p}: {e.strerror or e}") from None


def read_gguf_stream(name: str, stream: Any, file_size: int) -> GgufInfo:
    """A GGUF header read from a stream (any object with readinto) of a file of file_size
    bytes, e.g. the start of a file on the Hub: only the header's bytes are read."""
    if file_size <= 0:
        raise ModelFileError(f"{name} is empty (0 bytes)")
    return _Parser(Path(name), stream, file_size).parse()


def _read_fully(f: Any, view: memoryview) -> int:
    """Fill view from f as far as the file goes; return the number of bytes read."""
    done = 0
    while done < len(view):
        with view[done:] as rest:
            n = f.readinto(rest)
        if not n:
            break
        done += n
    return done


class _Truncated(Exception):
    """Internal: a read ran past the end of the file or of the metadata cap."""


def _walk_strings(buf: bytearray, pos: int, n: int) -> int:
    """The position after n length-prefixed strings starting at pos (the hot loop)."""
    unpack = _U64.unpack_from
    # Unrolled by four: the loop overhead is a fair share of the cost per string.
    for _ in range(n >> 2):
        pos += 8 + unpack(buf, pos)[0]
        pos += 8 + unpack(buf, pos)[0]
        pos += 8 + unpack(buf, pos)[0]
        pos += 8 + unpack(buf, pos)[0]
    for _ in range(n & 3):
        pos += 8 + unpack(buf, pos)[0]
    return pos


class _Parser:
    """One pass over a GGUF header, read in growing bulk chunks; every count is checked first.

    Plain reads rather than mmap: a mapped file that shrinks under us would kill the process
    with SIGBUS, and the header is a few MiB at most.
    """

    def __init__(self, path: Path, f: io.BufferedReader, file_size: int) -> None:
        self.path = path
        self.f = f
        self.file_size = file_size
        self.limit = min(file_size, MAX_METADATA_BYTES)
        self.buf = bytearray()
        self.pos = 0
        self.section = "header"

    # -- errors --------------------------------------------------------------------------------

    def damaged(self, why: str) -> ModelFileError:
        """A ModelFileError for a file whose content cannot be right."""
        return ModelFileError(f"{self.path} is damaged: {why}")

    def truncated(self) -> ModelFileError:
        """A ModelFileError for a read past the end of the file (or of the metadata cap)."""
        if self.limit < self.file_size:
            return self.damaged(
                f"its {self.section} runs past the first {self.limit / _MIB:g} MiB, "
                "where a model's metadata must fit"
            )
        return ModelFileError(
            f"{self.path} is truncated or damaged: it ends inside the {self.section} "
            f"({self.file_size:,} bytes); it may be an incomplete download"
        )

    def need(self, n_bytes: int, what: str) -> None:
        """Fail unless n_bytes more bytes can follow pos (bounds counts before any loop)."""
        if n_bytes > self.limit - self.pos:
            if n_bytes > self.file_size - self.pos:
                raise ModelFileError(
                    f"{self.path} is truncated or damaged: {what} do not fit in the file "
                    f"({self.file_size:,} bytes)"
                )
            raise self.truncated()

    # -- reading -------------------------------------------------------------------------------

    def ensure(self, upto: int) -> None:
        """Make the buffer hold bytes [0, upto), reading ahead in doubling chunks."""
        if upto <= len(self.buf):
            return
        if upto > self.limit:
            raise _Truncated
        have = len(self.buf)
        size = min(self.limit, max(upto, 2 * have, _FIRST_READ))
        # readinto a preallocated buffer: several times faster than read() and concatenation.
        new = bytearray(size)
        new[:have] = self.buf
        with memoryview(new) as view:
            got = have + _read_fully(self.f, view[have:])
        if got < size:  # the file shrank while we read it
            del new[got:]
            self.limit = self.file_size = got
        self.buf = new
        if got < upto:
            raise _Truncated

    def u32(self) -> int:
        """Read a little-endian uint32."""
        self.ensure(self.pos + 4)
        (v,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(v)

    def u64(self) -> int:
        """Read a little-endian uint64."""
        self.ensure(self.pos + 8)
        (v,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return int(v)

    def raw_string(self) -> bytes:
        """Read a length-prefixed string's bytes, its length checked against the file first."""
        n = self.u64()
        self.ensure(self.pos + n)
        start = self.pos
        self.pos = start + n
        return bytes(self.buf[start : self.pos])

    def string(self) -> str:
        """Read a length-prefixed UTF-8 string (undecodable bytes become U+FFFD)."""
        return self.raw_string().decode("utf-8", errors="replace")

    # -- structure -----------------------------------------------------------------------------

    def parse(self) -> GgufInfo:
        """Parse the whole header and build the GgufInfo."""
        try:
            return self._parse()
        except _Truncated:
            raise self.truncated() from None
        except OverflowError:
            raise self.damaged(f"a length in its {self.section} is impossibly large") from None
        except MemoryError:
            raise self.damaged(f"its {self.section} is too large to read") from None

    def _parse(self) -> GgufInfo:
        self.ensure(_HEADER.size)
        magic, version, n_tensors, n_kv = _HEADER.unpack_from(self.buf, 0)
        if magic != GGUF_MAGIC:
            raise ModelFileError(f"{self.path} is not a GGUF model file")
        self.pos = _HEADER.size
        self._check_version(version)

        self.section = "metadata"
        # Each entry needs at least: key length (8), a 1-byte key, a type (4) and a 1-byte value.
        self.need(n_kv * 14, f"its {n_kv:,} metadata entries")
        kv: dict[str, Any] = {}
        for _ in range(n_kv):
            key = self.string()
            if not key:
                raise self.damaged("a metadata key is empty")
            if key in kv:
                raise self.damaged(f"metadata key {key!r} appears twice")
            vtype = self.u32()
            if key == "general.alignment" and vtype != _T_UINT32:
                raise self.damaged("general.alignment is not a uint32")
            kv[key] = self.value(key, vtype)

        alignment = kv.get("general.alignment", DEFAULT_ALIGNMENT)
        if alignment == 0 or alignment & (alignment - 1):
            raise self.damaged(f"its alignment {alignment} is not a power of two")

        self.section = "tensor table"
        # Each tensor info needs at least: name length (8), n_dims (4), type (4), offset (8).
        self.need(n_tensors * 24, f"its {n_tensors:,} tensor entries")
        raw_tensors = self.tensor_table(n_tensors)

        data_offset = self.pos
        if n_tensors:
            data_offset += -self.pos % alignment
        self.section = "tensor data"
        tensors, data_size = self.place_tensors(raw_tensors, data_offset, alignment)
        if data_offset + data_size > self.file_size:
            raise ModelFileError(
                f"{self.path} is truncated: its tensors need {data_offset + data_size:,} bytes "
                f"but the file has {self.file_size:,}; it may be an incomplete download"
            )
        return _build_info(self.path, self.file_size, version, kv, tensors, data_offset, alignment)

    def _check_version(self, version: int) -> None:
        if version == 0:
            raise self.damaged("its GGUF version is 0")
        if version & 0xFFFF == 0:
            raise ModelFileError(f"{self.path} is a big-endian GGUF file, which is not supported")
        if version == 1:
            raise ModelFileError(f"{self.path} uses GGUF version 1, which is no longer supported")
        if version not in SUPPORTED_VERSIONS:
            raise ModelFileError(
                f"{self.path} uses GGUF version {version}, newer than this version of Ponder reads"
            )

    def value(self, key: str, vtype: int) -> Any:
        """Read one metadata value of the given type; long arrays become GgufArray summaries."""
        s = _SCALAR_STRUCTS.get(vtype)
        if s is not None:
            self.ensure(self.pos + s.size)
            (v,) = s.unpack_from(self.buf, self.pos)
            self.pos += s.size
            return v
        if vtype == _T_STRING:
            return self.string()
        if vtype == _T_ARRAY:
            return self.array(key)
        raise self.damaged(f"metadata key {key!r} has unknown value type {vtype}")

    def array(self, key: str) -> Any:
        """Read an array value, decoding it only when short; long ones are skipped."""
        itype = self.u32()
        n = self.u64()
        fmt = _SCALAR_FORMATS.get(itype)
        if fmt is not None:
            size = _SCALAR_STRUCTS[itype].size
            self.need(n * size, f"the {n:,} items of {key!r}")
            per_layer = n <= MAX_LAYER_ARRAY and not key.startswith("tokenizer.")
            keep = n <= MAX_INLINE_ARRAY or per_layer
            start = self.pos
            self.pos += n * size
            if keep:
                self.ensure(self.pos)
                return struct.unpack_from(f"<{n}{fmt}", self.buf, start)
            return GgufArray(_VALUE_TYPE_NAMES[itype], n)
        if itype == _T_STRING:
            self.need(n * 8, f"the {n:,} strings of {key!r}")
            if n <= MAX_INLINE_ARRAY:
                return tuple(self.string() for _ in range(n))
            self.skip_strings(n)
            return GgufArray("string", n)
        if itype == _T_ARRAY:
            raise self.damaged(f"metadata key {key!r} holds nested arrays, which llama.cpp rejects")
        raise self.damaged(f"metadata key {key!r} is an array of unknown type {itype}")

    def skip_strings(self, n: int) -> None:
        """Walk past n length-prefixed strings without decoding them, a block at a time."""
        pos = self.pos
        while n:
            k = min(n, _WALK_BLOCK)
            try:
                after = _walk_strings(self.buf, pos, k)
            except struct.error:  # a length prefix lies beyond what has been read so far
                stop = self.first_unread_prefix(pos, k)
                if stop + 8 <= len(self.buf):  # cannot happen; never spin on it
                    raise _Truncated from None
                self.ensure(stop + 8)
                continue
            except OverflowError:  # a position beyond any possible file
                raise _Truncated from None
            if after > self.limit:
                raise _Truncated
            pos = after
            n -= k
        self.pos = pos

    def first_unread_prefix(self, pos: int, n: int) -> int:
        """Where the walk over n strings first meets a length prefix not yet in the buffer."""
        buf = self.buf
        end = len(buf)
        for _ in range(n):
            if pos + 8 > end:
                break
            pos += 8 + _U64.unpack_from(buf, pos)[0]
        return pos

    def tensor_table(self, n_tensors: int) -> list[tuple[str, tuple[int, ...], int, int]]:
        """Read the tensor infos: (name, shape, ggml type, offset relative to the data)."""
        out = []
        seen: set[str] = set()
        for _ in range(n_tensors):
            raw = self.raw_string()
            name = raw.decode("utf-8", errors="replace")
            if len(raw) > _MAX_TENSOR_NAME:
                raise self.damaged(f"tensor name {name[:80]!r}... is too long")
            if name in seen:
                raise self.damaged(f"tensor {name!r} appears twice")
            seen.add(name)
            n_dims = self.u32()
            if n_dims > _MAX_DIMS:
                raise self.damaged(f"tensor {name!r} has {n_dims} dimensions")
            self.ensure(self.pos + 8 * n_dims + _TYPE_AND_OFFSET.size)
            buf = self.buf
            shape = struct.unpack_from(f"<{n_dims}Q", buf, self.pos)
            self.pos += 8 * n_dims
            n_elements = 1
            for d in shape:
                if d > _INT64_MAX:
                    raise self.damaged(f"tensor {name!r} has an impossible shape {shape}")
                n_elements *= d
            if n_elements > _INT64_MAX:
                raise self.damaged(f"tensor {name!r} has an impossible shape {shape}")
            ttype, offset = _TYPE_AND_OFFSET.unpack_from(buf, self.pos)
            self.pos += _TYPE_AND_OFFSET.size
            out.append((name, shape, ttype, offset))
        return out

    def place_tensors(
        self, raw: list[tuple[str, tuple[int, ...], int, int]], data_offset: int, alignment: int
    ) -> tuple[tuple[GgufTensor, ...], int]:
        """Check types, sizes and offsets as llama.cpp does; return the tensors and data size."""
        tensors = []
        # llama.cpp requires each tensor to start where the previous one's padding ends.
        expected = 0
        data_end = 0
        for name, shape, ttype, offset in raw:
            info = GGML_TYPES.get(ttype)
            if info is None:
                raise self.damaged(f"tensor {name!r} has unknown ggml type {ttype}")
            type_name, block, type_size = info
            row = shape[0] if shape else 1
            if row % block:
                raise self.damaged(
                    f"tensor {name!r} rows of {row} are not whole {type_name} blocks"
                )
            n_elements = 1
            for d in shape:
                n_elements *= d
            n_bytes = n_elements // block * type_size
            if offset != expected:
                raise self.damaged(f"tensor {name!r} is at offset {offset}, expected {expected}")
            data_end = offset + n_bytes
            expected = data_end + (-data_end % alignment)
            tensors.append(
                GgufTensor(name, tuple(shape), ttype, type_name, data_offset + offset, n_bytes)
            )
        return tuple(tensors), data_end


def _build_info(
    path: Path,
    file_size: int,
    version: int,
    kv: dict[str, Any],
    tensors: tuple[GgufTensor, ...],
    data_offset: int,
    alignment: int,
) -> GgufInfo:
    """Pick the well-known fields out of the raw metadata."""
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
        name = LLAMA_FTYPE_NAMES.get(file_type & ~_FTYPE_GUESSED)
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
