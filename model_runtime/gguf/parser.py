"""The GGUF header parser: one pass over an untrusted file, in growing bulk reads, every count
checked before anything is allocated or looped over."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any, NamedTuple

from model_runtime.errors import ModelFileError
from model_runtime.gguf.format import (
    DEFAULT_ALIGNMENT,
    GGML_TYPES,
    GGUF_MAGIC,
    SUPPORTED_VERSIONS,
    GgufArray,
    GgufTensor,
)

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


class Header(NamedTuple):
    """What a GGUF header holds, before the reader picks out the well-known fields."""

    version: int
    kv: dict[str, Any]
    tensors: tuple[GgufTensor, ...]
    data_offset: int
    alignment: int


class Parser:
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

    def parse(self) -> Header:
        """Parse the whole header: version, metadata, tensors and where their data starts."""
        try:
            return self._parse()
        except _Truncated:
            raise self.truncated() from None
        except OverflowError:
            raise self.damaged(f"a length in its {self.section} is impossibly large") from None
        except MemoryError:
            raise self.damaged(f"its {self.section} is too large to read") from None

    def _parse(self) -> Header:
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
        return Header(version, kv, tensors, data_offset, alignment)

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
            return GgufArray(_VALUE_TYPE_NAMES[itype], n, (start, self.pos))
        if itype == _T_STRING:
            self.need(n * 8, f"the {n:,} strings of {key!r}")
            if n <= MAX_INLINE_ARRAY:
                return tuple(self.string() for _ in range(n))
            start = self.pos
            self.skip_strings(n)
            return GgufArray("string", n, (start, self.pos))
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
