"""The real shapes of the catalog's models, as GgufInfo objects or header-only GGUF files.

A header-only file holds the real metadata and tensor table (names, shapes, quant types,
offsets) and is then extended, sparsely, to the size the tensor data would take: it reads
and plans like the real download and costs a few MiB of disk. llama.cpp can "load" it with
no_alloc, which simulates the allocations without reading tensor data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from gguf import GGMLQuantizationType as Q

from model_runtime.gguf.format import GGML_TYPES, GgufArray, GgufTensor
from model_runtime.gguf.parser import Header
from model_runtime.gguf.reader import GgufInfo, info_from_header
from tests.gguf_factory import _add_tokenizer

GIB = 1024**3


@dataclass(frozen=True)
class Shape:
    """An architecture's hyperparameters, as its GGUF metadata states them."""

    name: str
    arch: str
    n_vocab: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int
    context_length: int = 131072
    tied_embeddings: bool = False
    # deepseek2 (DeepSeek-V3/R1): MLA attention and routed experts
    n_expert: int = 0
    n_expert_used: int = 0
    n_ff_exp: int = 0
    n_dense_lead: int = 0
    q_lora: int = 0
    kv_lora: int = 0
    rope: int = 0
    nope: int = 0
    v_dim: int = 0
    mla: bool = True  # False: a GGUF converted before llama.cpp's MLA (attn_kv_b, full KV heads)


SHAPES = {
    "qwen-1.5b": Shape("DeepSeek-R1-Distill-Qwen-1.5B", "qwen2", 151936, 1536, 28, 12, 2, 8960),
    "qwen-7b": Shape("DeepSeek-R1-Distill-Qwen-7B", "qwen2", 152064, 3584, 28, 28, 4, 18944),
    "qwen-14b": Shape("DeepSeek-R1-Distill-Qwen-14B", "qwen2", 152064, 5120, 48, 40, 8, 13824),
    "qwen-32b": Shape("DeepSeek-R1-Distill-Qwen-32B", "qwen2", 152064, 5120, 64, 40, 8, 27648),
    "llama-8b": Shape("DeepSeek-R1-Distill-Llama-8B", "llama", 128256, 4096, 32, 32, 8, 14336),
    "llama-70b": Shape("DeepSeek-R1-Distill-Llama-70B", "llama", 128256, 8192, 80, 64, 8, 28672),
    "qwen3-8b": Shape("DeepSeek-R1-0528-Qwen3-8B", "qwen3", 151936, 4096, 36, 32, 8, 12288),
    "r1-671b": Shape(
        "DeepSeek-R1", "deepseek2", 129280, 7168, 61, 128, 1, 18432, context_length=163840,
        n_expert=256, n_expert_used=8, n_ff_exp=2048, n_dense_lead=3,
        q_lora=1536, kv_lora=512, rope=64, nope=128, v_dim=128,
    ),
}  # fmt: skip

# (shape, quantization) of each catalog entry.
CATALOG = (
    ("qwen-1.5b", "Q4_K_M"),
    ("qwen-7b", "Q4_K_M"),
    ("qwen-14b", "Q4_K_M"),
    ("qwen-32b", "Q4_K_M"),
    ("llama-8b", "Q4_K_M"),
    ("llama-70b", "Q4_K_M"),
    ("qwen3-8b", "Q4_K_M"),
    ("r1-671b", "UD-IQ1_S"),
    ("r1-671b", "Q4_K_M"),
)
_FILE_TYPES = {"Q4_K_M": 15, "UD-IQ1_S": 24, "Q8_0": 7}


def _more_bits(i: int, n: int) -> bool:
    """llama-quantize's use_more_bits: the layers whose attn_v/ffn_down get Q6_K in Q4_K_M."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _weight_type(name: str, layer: int, n_layer: int, quant: str, row: int) -> Q:
    """The ggml type llama-quantize gives a 2-D+ weight, simplified."""
    if quant == "Q8_0":
        return Q.Q8_0
    if quant == "UD-IQ1_S" and "_exps." in name:
        kind = Q.IQ1_S
    elif name == "output.weight" or (
        ("attn_v." in name or "ffn_down" in name) and _more_bits(layer, n_layer)
    ):
        kind = Q.Q6_K
    else:
        kind = Q.Q4_K
    if row % 256:  # K- and IQ-quants need whole 256-blocks; llama-quantize falls back
        return Q.Q8_0 if kind == Q.Q6_K else Q.Q5_0
    return kind


def tensor_table(shape: Shape, quant: str) -> list[tuple[str, tuple[int, ...], Q]]:
    """(name, numpy shape, ggml type) of every tensor, in llama.cpp's file order."""
    s = shape
    out: list[tuple[str, tuple[int, ...], Q]] = []

    def weight(name: str, dims: tuple[int, ...], layer: int = 0, float32: bool = False) -> None:
        if len(dims) == 1 or float32:
            out.append((name, dims, Q.F32))
        else:
            out.append((name, dims, _weight_type(name, layer, s.n_layer, quant, dims[-1])))

    weight("token_embd.weight", (s.n_vocab, s.n_embd))
    weight("output_norm.weight", (s.n_embd,))
    if not s.tied_embeddings:
        weight("output.weight", (s.n_vocab, s.n_embd))
    head_dim = s.n_embd // s.n_head
    for i in range(s.n_layer):

        def w(name: str, dims: tuple[int, ...], float32: bool = False, i: int = i) -> None:
            weight(f"blk.{i}.{name}", dims, i, float32)

        w("attn_norm.weight", (s.n_embd,))
        if s.arch == "deepseek2":
            w("attn_q_a_norm.weight", (s.q_lora,))
            w("attn_kv_a_norm.weight", (s.kv_lora,))
            w("attn_q_a.weight", (s.q_lora, s.n_embd))
            w("attn_q_b.weight", (s.n_head * (s.nope + s.rope), s.q_lora))
            w("attn_kv_a_mqa.weight", (s.kv_lora + s.rope, s.n_embd))
            if s.mla:
                w("attn_k_b.weight", (s.n_head, s.kv_lora, s.nope))
                w("attn_v_b.weight", (s.n_head, s.v_dim, s.kv_lora))
            else:
                w("attn_kv_b.weight", (s.n_head * (s.nope + s.v_dim), s.kv_lora))
            w("attn_output.weight", (s.n_embd, s.n_head * s.v_dim))
        else:
            n_q, n_kv = s.n_head * head_dim, s.n_head_kv * head_dim
            w("attn_q.weight", (n_q, s.n_embd))
            w("attn_k.weight", (n_kv, s.n_embd))
            w("attn_v.weight", (n_kv, s.n_embd))
            if s.arch == "qwen2":
                w("attn_q.bias", (n_q,))
                w("attn_k.bias", (n_kv,))
                w("attn_v.bias", (n_kv,))
            if s.arch == "qwen3":
                w("attn_q_norm.weight", (head_dim,))
                w("attn_k_norm.weight", (head_dim,))
            w("attn_output.weight", (s.n_embd, n_q))
        w("ffn_norm.weight", (s.n_embd,))
        if s.n_expert and i >= s.n_dense_lead:
            w("ffn_gate_inp.weight", (s.n_expert, s.n_embd), float32=True)
            w("exp_probs_b.bias", (s.n_expert,))
            w("ffn_gate_exps.weight", (s.n_expert, s.n_ff_exp, s.n_embd))
            w("ffn_up_exps.weight", (s.n_expert, s.n_ff_exp, s.n_embd))
            w("ffn_down_exps.weight", (s.n_expert, s.n_embd, s.n_ff_exp))
            w("ffn_gate_shexp.weight", (s.n_ff_exp, s.n_embd))
            w("ffn_up_shexp.weight", (s.n_ff_exp, s.n_embd))
            w("ffn_down_shexp.weight", (s.n_embd, s.n_ff_exp))
        else:
            w("ffn_gate.weight", (s.n_ff, s.n_embd))
            w("ffn_up.weight", (s.n_ff, s.n_embd))
            w("ffn_down.weight", (s.n_embd, s.n_ff))
    return out


def _n_bytes(dims: tuple[int, ...], qtype: Q) -> int:
    _, block, size = GGML_TYPES[int(qtype)]
    n = int(np.prod(dims))
    return n // block * size


def metadata(shape: Shape, quant: str) -> dict[str, Any]:
    """The hyperparameter keys a converter writes (without the tokenizer)."""
    s, a = shape, shape.arch
    kv: dict[str, Any] = {
        "general.architecture": a,
        "general.name": s.name,
        "general.file_type": _FILE_TYPES[quant],
        f"{a}.context_length": s.context_length,
        f"{a}.embedding_length": s.n_embd,
        f"{a}.block_count": s.n_layer,
        f"{a}.feed_forward_length": s.n_ff,
        f"{a}.attention.head_count": s.n_head,
        f"{a}.attention.layer_norm_rms_epsilon": 1e-6,
        f"{a}.rope.freq_base": 10000.0,
    }
    if a != "deepseek2":
        kv[f"{a}.attention.head_count_kv"] = s.n_head_kv
        kv[f"{a}.rope.dimension_count"] = s.n_embd // s.n_head
        return kv
    kv.update(
        {
            f"{a}.leading_dense_block_count": s.n_dense_lead,
            f"{a}.attention.q_lora_rank": s.q_lora,
            f"{a}.attention.kv_lora_rank": s.kv_lora,
            f"{a}.rope.dimension_count": s.rope,
            f"{a}.expert_count": s.n_expert,
            f"{a}.expert_used_count": s.n_expert_used,
            f"{a}.expert_feed_forward_length": s.n_ff_exp,
            f"{a}.expert_shared_count": 1,
            f"{a}.expert_weights_scale": 2.5,
            f"{a}.expert_weights_norm": True,
            f"{a}.expert_gating_func": 2,
        }
    )
    if s.mla:  # the compressed latent is the one KV "head"
        kv[f"{a}.attention.head_count_kv"] = 1
        kv[f"{a}.attention.key_length"] = s.kv_lora + s.rope
        kv[f"{a}.attention.value_length"] = s.kv_lora
        kv[f"{a}.attention.key_length_mla"] = s.nope + s.rope
        kv[f"{a}.attention.value_length_mla"] = s.v_dim
    else:
        kv[f"{a}.attention.head_count_kv"] = s.n_head
        kv[f"{a}.attention.key_length"] = s.nope + s.rope
        kv[f"{a}.attention.value_length"] = s.v_dim
    return kv


def gguf_info(key: str | Shape, quant: str) -> GgufInfo:
    """The GgufInfo read_gguf_info would return for the real file, built without a file."""
    shape = SHAPES[key] if isinstance(key, str) else key
    kv = metadata(shape, quant)
    kv["tokenizer.ggml.model"] = "gpt2"
    kv["tokenizer.ggml.tokens"] = GgufArray("string", shape.n_vocab)
    tensors, offset, data_offset = [], 0, 8 * 1024 * 1024  # a header of a few MiB
    for name, dims, qtype in tensor_table(shape, quant):
        n_bytes = _n_bytes(dims, qtype)
        ne = tuple(reversed(dims))
        tname = GGML_TYPES[int(qtype)][0]
        tensors.append(GgufTensor(name, ne, int(qtype), tname, data_offset + offset, n_bytes))
        offset += n_bytes + (-n_bytes % 32)
    path = Path(f"{shape.name}-{quant}.gguf")
    header = Header(3, kv, tuple(tensors), data_offset, 32)
    return info_from_header(path, data_offset + offset, header)


def write_header_only(path: str | os.PathLike[str], key: str, quant: str) -> Path:
    """Write the real header of a catalog model and extend it sparsely to its full size."""
    shape, path = SHAPES[key], Path(path)
    writer = gguf.GGUFWriter(path, shape.arch)
    for k, v in metadata(shape, quant).items():
        if k == "general.architecture":
            continue
        if isinstance(v, bool):
            writer.add_bool(k, v)
        elif isinstance(v, int):
            writer.add_uint32(k, v)
        elif isinstance(v, float):
            writer.add_float32(k, v)
        else:
            writer.add_string(k, v)
    pre = {"llama": "llama-bpe", "deepseek2": "deepseek-v3"}.get(shape.arch, "qwen2")
    _add_tokenizer(writer, "gpt2", shape.n_vocab, pre)
    total = 0
    for name, dims, qtype in tensor_table(shape, quant):
        n_bytes = _n_bytes(dims, qtype)
        writer.add_tensor_info(name, dims, np.dtype(np.float32), n_bytes, raw_dtype=qtype)
        total += n_bytes + (-n_bytes % writer.data_alignment)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    header = path.stat().st_size
    data_offset = header + (-header % writer.data_alignment)
    os.truncate(path, data_offset + total)  # sparse: the holes take no disk space
    return path
