"""Tests for the GGUF metadata reader, on real files written by the gguf package."""

from __future__ import annotations

import contextlib
import os
import struct
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest

from model_runtime.errors import ModelFileError
from model_runtime.gguf import parser
from model_runtime.gguf.format import GgufArray
from model_runtime.gguf.reader import GgufInfo, read_gguf_info
from tests.gguf_factory import (
    ARCHITECTURES,
    R1_BOS,
    R1_CHAT_TEMPLATE,
    R1_EOS,
    Dtype,
    write_big_vocab_model,
    write_split,
    write_tiny_model,
)

# -- helpers -----------------------------------------------------------------------------------


def _elements(info: GgufInfo) -> int:
    """Sum of tensor element counts, computed here from the shapes."""
    return sum(int(np.prod(t.shape, dtype=np.int64)) for t in info.tensors)


def _llama_params(n_vocab: int, n_embd: int, n_layer: int, n_q: int, n_kv: int, n_ff: int) -> int:
    """Parameter count of the factory's llama layout, from first principles."""
    per_layer = 2 * n_embd + 2 * n_embd * n_q + 2 * n_embd * n_kv + 3 * n_embd * n_ff
    return 2 * n_vocab * n_embd + n_embd + n_layer * per_layer


def _s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def _kv_u32(key: str, value: int) -> bytes:
    return _s(key) + struct.pack("<II", 4, value)


def _kv_str(key: str, value: str | bytes) -> bytes:
    return _s(key) + struct.pack("<I", 8) + _s(value)


def _tensor_info(name: str, dims: tuple[int, ...], ggml_type: int = 0, offset: int = 0) -> bytes:
    return (
        _s(name)
        + struct.pack("<I", len(dims))
        + struct.pack(f"<{len(dims)}Q", *dims)
        + struct.pack("<IQ", ggml_type, offset)
    )


def _raw_gguf(
    kvs: list[bytes],
    tensors: Sequence[bytes] = (),
    *,
    n_kv: int | None = None,
    n_tensors: int | None = None,
    version: int = 3,
    data: bytes = b"",
) -> bytes:
    """Bytes of a hand-made GGUF: header, the given kv and tensor entries, padding, data."""
    head = b"GGUF" + struct.pack(
        "<IQQ",
        version,
        len(tensors) if n_tensors is None else n_tensors,
        len(kvs) if n_kv is None else n_kv,
    )
    body = head + b"".join(kvs) + b"".join(tensors)
    if tensors:
        body += b"\0" * (-len(body) % 32)
    return body + data


def _write(tmp_path: Path, content: bytes, name: str = "model.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _assert_rejected(path: Path, *fragments: str) -> ModelFileError:
    """The reader refuses the file quickly with a ModelFileError that names it."""
    start = time.perf_counter()
    with pytest.raises(ModelFileError) as excinfo:
        read_gguf_info(path)
    assert time.perf_counter() - start < 1.0
    message = str(excinfo.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return excinfo.value


_BASE_KV = [_kv_str("general.architecture", "llama"), _kv_str("general.name", "x")]


# -- fields of real files ----------------------------------------------------------------------


def test_llama_fields_match_what_was_written(tmp_path: Path) -> None:
    path = write_tiny_model(
        tmp_path / "llama.gguf",
        arch="llama",
        n_vocab=300,
        n_embd=64,
        n_layer=3,
        n_head=4,
        n_head_kv=2,
        n_ff=96,
        context_length=4096,
        chat_template="{{ messages }}",
        name="Tiny Llama",
        size_label="1M",
    )
    info = read_gguf_info(path)

    assert info.path == path
    assert info.file_size == path.stat().st_size
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.name == "Tiny Llama"
    assert info.size_label == "1M"
    assert info.block_count == 3
    assert info.head_count == 4
    assert info.head_count_kv == 2
    assert info.head_count_kv_per_layer is None
    assert info.embedding_length == 64
    assert info.feed_forward_length == 96
    assert info.context_length == 4096
    assert info.expert_count is None and info.expert_used_count is None
    assert info.vocab_size == 300
    assert info.tokenizer_model == "llama"
    assert (info.bos_token_id, info.eos_token_id) == (1, 2)
    assert info.chat_template == "{{ messages }}"
    assert info.file_type == 1
    assert info.quantization == "F16"
    assert info.parameter_count == _elements(info)
    assert info.parameter_count == _llama_params(300, 64, 3, 64, 32, 96)
    assert info.tensor_count == 2 + 1 + 3 * 9
    assert not info.is_split
    assert (info.split_index, info.split_count, info.split_tensor_count) == (0, 1, None)


def test_qwen2_fields_match_what_was_written(tmp_path: Path) -> None:
    path = write_tiny_model(
        tmp_path / "qwen2.gguf",
        arch="qwen2",
        n_vocab=400,
        n_layer=2,
        n_head=4,
        n_head_kv=1,
        context_length=131072,
        chat_template=R1_CHAT_TEMPLATE,
        dtype="q8_0",
    )
    info = read_gguf_info(path)

    assert info.architecture == "qwen2"
    assert info.block_count == 2
    assert (info.head_count, info.head_count_kv) == (4, 1)
    assert info.context_length == 131072
    assert info.vocab_size == 400
    assert info.chat_template == R1_CHAT_TEMPLATE
    assert info.tokenizer_model == "gpt2"
    assert info.kv["tokenizer.ggml.pre"] == "qwen2"
    assert info.kv["tokenizer.ggml.merges"] == ("Ġ t", "h e", "Ġt he", "Ġ a")
    # The R1 specials sit at the end of the factory's BPE vocabulary.
    assert (info.bos_token_id, info.eos_token_id) == (400 - 6, 400 - 5)
    assert info.quantization == "Q8_0"
    assert info.parameter_count == _elements(info)
    biases = [t for t in info.tensors if t.name.endswith(".bias")]
    assert len(biases) == 2 * 3
    q8 = [t for t in info.tensors if t.type_name == "Q8_0"]
    assert q8 and all(t.n_bytes == t.n_elements // 32 * 34 for t in q8)


def test_qwen3_has_qk_norms(tmp_path: Path) -> None:
    info = read_gguf_info(write_tiny_model(tmp_path / "q3.gguf", arch="qwen3", n_head=4))
    assert info.architecture == "qwen3"
    names = {t.name for t in info.tensors}
    assert {"blk.0.attn_q_norm.weight", "blk.1.attn_k_norm.weight"} <= names
    assert info.parameter_count == _elements(info)


def test_deepseek2_moe_fields(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "ds.gguf", arch="deepseek2", n_expert=8, n_expert_used=2)
    info = read_gguf_info(path)
    assert info.architecture == "deepseek2"
    assert (info.expert_count, info.expert_used_count) == (8, 2)
    assert info.head_count_kv == 1  # MLA: one latent "head" in the KV cache
    assert (info.key_length, info.value_length) == (64 + 16, 64)
    assert info.kv["deepseek2.leading_dense_block_count"] == 1
    exps = next(t for t in info.tensors if t.name == "blk.1.ffn_up_exps.weight")
    assert exps.shape == (64, 32, 8)  # ggml order: n_embd, n_ff_exp, n_expert
    assert info.parameter_count == _elements(info)


def test_per_layer_head_count_kv_keeps_max_and_array(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "m.gguf", n_layer=3, n_head=4, n_head_kv=[1, 4, 2])
    info = read_gguf_info(path)
    assert info.head_count_kv == 4
    assert info.head_count_kv_per_layer == (1, 4, 2)


@pytest.mark.parametrize(
    ("dtype", "name", "file_type"),
    [
        ("f32", "F32", 0),
        ("f16", "F16", 1),
        ("bf16", "BF16", 32),
        ("q8_0", "Q8_0", 7),
        ("q4_0", "Q4_0", 2),
        ("q4_1", "Q4_1", 3),
        ("q5_0", "Q5_0", 8),
        ("q5_1", "Q5_1", 9),
    ],
)
def test_quantization_from_file_type(
    tmp_path: Path, dtype: Dtype, name: str, file_type: int
) -> None:
    info = read_gguf_info(write_tiny_model(tmp_path / "m.gguf", dtype=dtype))
    assert (info.file_type, info.quantization) == (file_type, name)


@pytest.mark.parametrize(
    ("file_type", "name"),
    [(15, "Q4_K_M"), (12, "Q3_K_M"), (24, "IQ1_S"), (27, "IQ3_M"), (1024 | 18, "Q6_K")],
)
def test_quantization_names_follow_llama_ftype(tmp_path: Path, file_type: int, name: str) -> None:
    info = read_gguf_info(write_tiny_model(tmp_path / "m.gguf", file_type=file_type))
    assert info.quantization == name


@pytest.mark.parametrize(("dtype", "name"), [("q8_0", "Q8_0"), ("f16", "F16"), ("q4_1", "Q4_1")])
def test_quantization_guessed_from_tensors_without_file_type(
    tmp_path: Path, dtype: Dtype, name: str
) -> None:
    path = write_tiny_model(tmp_path / "m.gguf", dtype=dtype, file_type=None)
    info = read_gguf_info(path)
    assert info.file_type is None
    assert info.quantization == name


def test_unknown_file_type_falls_back_to_tensor_types(tmp_path: Path) -> None:
    info = read_gguf_info(write_tiny_model(tmp_path / "m.gguf", dtype="q8_0", file_type=999))
    assert (info.file_type, info.quantization) == (999, "Q8_0")


def test_long_arrays_are_summarised_short_ones_kept(tmp_path: Path) -> None:
    info = read_gguf_info(write_tiny_model(tmp_path / "m.gguf", n_vocab=300))
    assert info.kv["tokenizer.ggml.tokens"] == GgufArray("string", 300)
    assert info.kv["tokenizer.ggml.scores"] == GgufArray("float32", 300)
    assert info.kv["tokenizer.ggml.token_type"] == GgufArray("int32", 300)
    assert info.kv["general.architecture"] == "llama"
    assert info.kv["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-6)
    with pytest.raises(TypeError):
        info.kv["general.name"] = "changed"  # type: ignore[index]


def test_extra_metadata_values_round_trip(tmp_path: Path) -> None:
    extra = {"ponder.flag": True, "ponder.neg": -3, "ponder.ratio": 0.5, "ponder.list": [1, 2, 3]}
    info = read_gguf_info(write_tiny_model(tmp_path / "m.gguf", extra_kv=extra))
    assert info.kv["ponder.flag"] is True
    assert info.kv["ponder.neg"] == -3
    assert info.kv["ponder.ratio"] == 0.5
    assert info.kv["ponder.list"] == (1, 2, 3)


def test_agrees_with_gguf_reader(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "m.gguf", arch="qwen2", dtype="q8_0", context_length=8192)
    info = read_gguf_info(path)
    reader = gguf.GGUFReader(path)

    assert reader.fields["qwen2.context_length"].contents() == info.context_length
    assert reader.fields["general.architecture"].contents() == info.architecture
    assert len(reader.fields["tokenizer.ggml.tokens"].contents()) == info.vocab_size
    assert reader.fields["tokenizer.ggml.eos_token_id"].contents() == info.eos_token_id
    assert len(reader.tensors) == info.tensor_count
    for theirs, mine in zip(reader.tensors, info.tensors, strict=True):
        assert theirs.name == mine.name
        assert tuple(int(d) for d in theirs.shape) == mine.shape
        assert int(theirs.tensor_type) == mine.type_id
        assert theirs.data_offset == mine.offset
        assert theirs.n_bytes == mine.n_bytes
    assert sum(int(t.n_elements) for t in reader.tensors) == info.parameter_count


def test_split_parts(tmp_path: Path) -> None:
    parts = write_split(tmp_path, "tiny", 3, arch="qwen2", chat_template="t")
    assert [p.name for p in parts] == [f"tiny-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    infos = [read_gguf_info(p) for p in parts]
    assert [i.split_index for i in infos] == [0, 1, 2]
    assert all(i.is_split and i.split_count == 3 for i in infos)
    total = infos[0].split_tensor_count
    assert total == sum(i.tensor_count for i in infos)
    # The model's metadata lives in the first part; the others carry the split keys only.
    assert infos[0].architecture == "qwen2" and infos[0].chat_template == "t"
    assert infos[1].architecture is None and infos[1].vocab_size is None


def test_real_smollm2_file(smollm2: Path) -> None:
    start = time.perf_counter()
    info = read_gguf_info(smollm2)
    assert time.perf_counter() - start < 1.0
    assert (info.architecture, info.size_label) == ("llama", "135M")
    assert (info.file_type, info.quantization) == (3, "Q4_1")
    assert (info.block_count, info.head_count, info.head_count_kv) == (30, 9, 3)
    assert (info.context_length, info.embedding_length) == (8192, 576)
    assert (info.vocab_size, info.tokenizer_model) == (49152, "gpt2")
    assert info.kv["tokenizer.ggml.merges"] == GgufArray("string", 48900)
    assert info.chat_template is not None and "<|im_start|>" in info.chat_template
    assert (info.tensor_count, info.parameter_count) == (272, 134_515_008)
    last = info.tensors[-1]
    assert last.offset + last.n_bytes <= info.file_size


# -- speed -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_vocab_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_big_vocab_model(tmp_path_factory.mktemp("big") / "big-vocab.gguf")


def test_big_vocabulary_reads_fast(big_vocab_file: Path) -> None:
    start = time.perf_counter()
    info = read_gguf_info(big_vocab_file)
    elapsed = time.perf_counter() - start
    assert info.vocab_size == 150_000
    assert info.kv["tokenizer.ggml.scores"] == GgufArray("float32", 150_000)
    assert elapsed < 1.0, f"reading took {elapsed:.3f} s"


# -- refusing bad files ------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    _assert_rejected(tmp_path / "nope.gguf", "not found")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "dir.gguf").mkdir()
    _assert_rejected(tmp_path / "dir.gguf", "folder")


def test_empty_file(tmp_path: Path) -> None:
    _assert_rejected(_write(tmp_path, b""), "empty")


def test_random_bytes(tmp_path: Path) -> None:
    content = b"\x00JNK" + os.urandom(4096)
    _assert_rejected(_write(tmp_path, content), "not a GGUF model file")


def test_other_model_format(tmp_path: Path) -> None:
    path = _write(tmp_path, b"PK\x03\x04" + bytes(100), "model.safetensors")
    _assert_rejected(path, "not a GGUF")


@pytest.mark.parametrize("seed", range(8))
def test_magic_followed_by_garbage(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    content = b"GGUF" + rng.integers(0, 256, 2048, dtype=np.uint8).tobytes()
    _assert_rejected(_write(tmp_path, content))


def test_magic_with_plausible_header_then_garbage(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    garbage = rng.integers(0, 256, 4096, np.uint8).tobytes()
    content = b"GGUF" + struct.pack("<IQQ", 3, 3, 5) + garbage
    _assert_rejected(_write(tmp_path, content))


@pytest.mark.parametrize(
    ("version", "fragment"),
    [(0, "version"), (1, "version 1"), (4, "version 4"), (3 << 24, "big-endian")],
)
def test_unsupported_versions(tmp_path: Path, version: int, fragment: str) -> None:
    _assert_rejected(_write(tmp_path, _raw_gguf(_BASE_KV, version=version)), fragment)


def test_version_2_is_read(tmp_path: Path) -> None:
    info = read_gguf_info(_write(tmp_path, _raw_gguf(_BASE_KV, version=2)))
    assert (info.version, info.architecture, info.tensor_count) == (2, "llama", 0)


def test_truncated_at_many_offsets(tmp_path: Path) -> None:
    whole = write_tiny_model(tmp_path / "whole.gguf", arch="qwen2", chat_template=R1_CHAT_TEMPLATE)
    info = read_gguf_info(whole)
    data_end = max(t.offset + t.n_bytes for t in info.tensors)
    content = whole.read_bytes()
    cuts = sorted(
        {1, 3, 4, 8, 16, 23, 24, 30}
        | {int(c) for c in np.linspace(25, info.data_offset, 24)}
        | {int(c) for c in np.linspace(info.data_offset, data_end - 1, 16)}
    )
    assert len(cuts) >= 40
    start = time.perf_counter()
    for cut in cuts:
        cut_path = _write(tmp_path, content[:cut], "cut.gguf")
        with pytest.raises(ModelFileError) as excinfo:
            read_gguf_info(cut_path)
        message = str(excinfo.value)
        assert "cut.gguf" in message, cut
        if cut >= 24:
            assert "truncated" in message, (cut, message)
    assert time.perf_counter() - start < 5.0


def test_corrupted_header_bytes_never_escape_as_other_errors(tmp_path: Path) -> None:
    whole = write_tiny_model(tmp_path / "whole.gguf", arch="qwen2", n_vocab=300)
    header_end = read_gguf_info(whole).data_offset
    content = bytearray(whole.read_bytes())
    rng = np.random.default_rng(7)
    start = time.perf_counter()
    for _ in range(300):
        damaged = bytearray(content)
        for pos in rng.integers(4, header_end, size=int(rng.integers(1, 4))):
            damaged[pos] = int(rng.integers(0, 256))
        path = _write(tmp_path, bytes(damaged), "damaged.gguf")
        with contextlib.suppress(ModelFileError):
            read_gguf_info(path)
    assert time.perf_counter() - start < 10.0


@pytest.mark.parametrize("first_read", [1, 24, 100, 4096])
def test_reading_in_small_chunks_gives_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first_read: int
) -> None:
    path = write_tiny_model(tmp_path / "m.gguf", arch="deepseek2", n_vocab=5000)
    expected = read_gguf_info(path)
    monkeypatch.setattr(parser, "_FIRST_READ", first_read)
    monkeypatch.setattr(parser, "_WALK_BLOCK", 7)
    assert read_gguf_info(path) == expected
    content = path.read_bytes()
    for cut in range(1, expected.data_offset, max(1, expected.data_offset // 50)):
        with pytest.raises(ModelFileError, match="truncated"):
            read_gguf_info(_write(tmp_path, content[: max(cut, 24)], "cut.gguf"))


def test_truncated_data_says_incomplete_download(tmp_path: Path) -> None:
    whole = write_tiny_model(tmp_path / "whole.gguf")
    content = whole.read_bytes()
    _assert_rejected(_write(tmp_path, content[: len(content) - 1000]), "incomplete download")


def test_metadata_beyond_the_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_tiny_model(tmp_path / "m.gguf", n_vocab=1000)
    assert read_gguf_info(path).vocab_size == 1000
    monkeypatch.setattr(parser, "MAX_METADATA_BYTES", 4096)
    _assert_rejected(path, "damaged", "must fit")


def test_trailing_bytes_are_accepted(tmp_path: Path) -> None:
    whole = write_tiny_model(tmp_path / "whole.gguf")
    longer = _write(tmp_path, whole.read_bytes() + bytes(100), "longer.gguf")
    assert read_gguf_info(longer).tensor_count == read_gguf_info(whole).tensor_count


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(_raw_gguf(_BASE_KV, n_kv=2**60), id="2**60 kv pairs"),
        pytest.param(_raw_gguf(_BASE_KV, n_kv=2**64 - 1), id="2**64-1 kv pairs"),
        pytest.param(_raw_gguf(_BASE_KV, n_tensors=2**60), id="2**60 tensors"),
        pytest.param(
            _raw_gguf([struct.pack("<Q", 2**62) + b"general.name"], n_kv=1), id="2**62-long key"
        ),
        pytest.param(
            _raw_gguf([_s("general.name") + struct.pack("<IQ", 8, 2**62) + b"abc"]),
            id="2**62-long string value",
        ),
        pytest.param(
            _raw_gguf([_s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2**62)]),
            id="2**62 strings in an array",
        ),
        pytest.param(
            _raw_gguf([_s("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 2**61)]),
            id="2**61 floats in an array",
        ),
        pytest.param(
            _raw_gguf(
                [_s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 100)]
                + [struct.pack("<Q", 2**62) + b"x"] * 100
            ),
            id="huge string inside a skipped array",
        ),
        pytest.param(
            _raw_gguf(
                [_s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 100)]
                + [struct.pack("<Q", 2**63 + 5)] * 100
            ),
            id="overflowing string lengths in a skipped array",
        ),
        pytest.param(
            _raw_gguf(_BASE_KV, [_s(b"t" * 2**10) + b"\0" * 20]), id="over-long tensor name"
        ),
    ],
)
def test_huge_counts_and_lengths_are_refused_quickly(tmp_path: Path, content: bytes) -> None:
    _assert_rejected(_write(tmp_path, content))


@pytest.mark.parametrize(
    ("entries", "tensors", "fragment"),
    [
        ([_s("general.name") + struct.pack("<II", 13, 0)], [], "unknown value type 13"),
        ([_s("k") + struct.pack("<IIQ", 9, 42, 1)], [], "unknown type 42"),
        ([_s("k") + struct.pack("<IIQ", 9, 9, 1)], [], "nested arrays"),
        ([_s("") + struct.pack("<II", 4, 1)], [], "empty"),
        ([_kv_u32("a.b", 1), _kv_u32("a.b", 2)], [], "twice"),
        ([_kv_u32("general.alignment", 24)], [], "power of two"),
        ([_kv_str("general.alignment", "32")], [], "alignment"),
        (_BASE_KV, [_tensor_info("w", (32, 2, 2, 2, 2))], "5 dimensions"),
        (_BASE_KV, [_tensor_info("w", (32,), ggml_type=99)], "unknown ggml type 99"),
        (_BASE_KV, [_tensor_info("w", (33, 2), ggml_type=8)], "blocks"),
        (_BASE_KV, [_tensor_info("w", (32,), offset=64)], "offset"),
        (_BASE_KV, [_tensor_info("w", (2**62, 2**62))], "shape"),
        (_BASE_KV, [_tensor_info("w", (4,)), _tensor_info("w", (4,), offset=32)], "twice"),
    ],
)
def test_malformed_headers(
    tmp_path: Path, entries: list[bytes], tensors: list[bytes], fragment: str
) -> None:
    content = _raw_gguf(entries, tensors, data=bytes(4096))
    _assert_rejected(_write(tmp_path, content), fragment)


def test_invalid_utf8_is_replaced_not_raised(tmp_path: Path) -> None:
    content = _raw_gguf(
        [_kv_str("general.architecture", "llama"), _kv_str("general.name", b"R1 \xff\xfe dist")]
    )
    info = read_gguf_info(_write(tmp_path, content))
    assert info.name == "R1 \ufffd\ufffd dist"


def test_minimal_hand_made_file(tmp_path: Path) -> None:
    tensors = [_tensor_info("w", (32, 3), ggml_type=8)]  # Q8_0: 3 rows of one block
    content = _raw_gguf(_BASE_KV, tensors, data=bytes(3 * 34))
    info = read_gguf_info(_write(tmp_path, content))
    assert info.tensor_count == 1 and info.parameter_count == 96
    assert info.quantization == "Q8_0"  # no general.file_type: guessed from the tensor
    assert info.tensors[0].n_bytes == 102
    assert info.tensors[0].offset == info.data_offset
    assert info.data_offset % 32 == 0
    assert info.context_length is None and info.vocab_size is None


# -- llama.cpp accepts the factory's files -----------------------------------------------------


_LLAMA_CPP_CASES = [pytest.param({"arch": arch}, id=arch) for arch in ARCHITECTURES] + [
    pytest.param({"arch": "llama", "tokenizer": "gpt2", "dtype": "q4_0"}, id="r1-distill-llama"),
    pytest.param({"arch": "llama", "n_expert": 4, "n_expert_used": 2}, id="llama-moe"),
    pytest.param({"arch": "qwen2", "dtype": "q8_0", "tied_embeddings": True}, id="qwen2-q8_0"),
    pytest.param({"arch": "deepseek2", "dtype": "q8_0"}, id="deepseek2-q8_0"),
]


@pytest.mark.slow
@pytest.mark.parametrize("model", _LLAMA_CPP_CASES)
def test_llama_cpp_loads_factory_models(tmp_path: Path, model: dict[str, Any]) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    path = write_tiny_model(tmp_path / "m.gguf", chat_template=R1_CHAT_TEMPLATE, **model)
    info = read_gguf_info(path)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=64, verbose=False)
    try:
        assert llm.n_vocab() == info.vocab_size
        assert llm.n_ctx() >= 64  # llama.cpp rounds the context up
        assert llm.metadata["general.architecture"] == info.architecture
        assert llm.metadata["tokenizer.chat_template"] == R1_CHAT_TEMPLATE
        assert (llm.token_bos(), llm.token_eos()) == (info.bos_token_id, info.eos_token_id)
        if info.tokenizer_model == "gpt2":
            specials = llm.detokenize([llm.token_bos(), llm.token_eos()], special=True)
            assert specials.decode() == R1_BOS + R1_EOS
        out = llm.create_completion("the", max_tokens=3, temperature=0.0)
        assert out["usage"]["completion_tokens"] >= 1
    finally:
        llm.close()


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["qwen2", "deepseek2"])
def test_llama_cpp_loads_split_model(tmp_path: Path, arch: str) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    parts = write_split(tmp_path, "tiny", 3, arch=arch)
    llm = llama_cpp.Llama(model_path=str(parts[0]), n_ctx=64, verbose=False)
    try:
        assert llm.n_vocab() == read_gguf_info(parts[0]).vocab_size
        assert llm.metadata["split.count"] == "3"
    finally:
        llm.close()
