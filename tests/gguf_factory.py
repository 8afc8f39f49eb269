"""Write tiny but real GGUF models (random weights, real tokenizer) with gguf's GGUFWriter."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import gguf
import numpy as np
from gguf import GGMLQuantizationType, GGUFValueType, LlamaFileType, TokenType

Dtype = Literal["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1"]

ARCHITECTURES = ("llama", "qwen2", "qwen3", "deepseek2")

# Weight dtype -> (ggml type of 2-D weights, general.file_type llama.cpp would write).
_DTYPES: dict[str, tuple[GGMLQuantizationType, LlamaFileType]] = {
    "f32": (GGMLQuantizationType.F32, LlamaFileType.ALL_F32),
    "f16": (GGMLQuantizationType.F16, LlamaFileType.MOSTLY_F16),
    "bf16": (GGMLQuantizationType.BF16, LlamaFileType.MOSTLY_BF16),
    "q8_0": (GGMLQuantizationType.Q8_0, LlamaFileType.MOSTLY_Q8_0),
    "q4_0": (GGMLQuantizationType.Q4_0, LlamaFileType.MOSTLY_Q4_0),
    "q4_1": (GGMLQuantizationType.Q4_1, LlamaFileType.MOSTLY_Q4_1),
    "q5_0": (GGMLQuantizationType.Q5_0, LlamaFileType.MOSTLY_Q5_0),
    "q5_1": (GGMLQuantizationType.Q5_1, LlamaFileType.MOSTLY_Q5_1),
}

# The special tokens of the DeepSeek-R1 family (fullwidth bars and U+2581, as in the real vocab).
R1_BOS = "<｜begin▁of▁sentence｜>"
R1_EOS = "<｜end▁of▁sentence｜>"
R1_SPECIALS = (R1_BOS, R1_EOS, "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>")

# A chat template shaped like DeepSeek-R1's: the generation prompt opens the thinking block.
R1_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'user' %}<｜User｜>{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}<｜Assistant｜>{{ m['content'] }}<｜end▁of▁sentence｜>"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}"
)

_PRE_TOKENIZER = {
    "llama": "llama-bpe",
    "qwen2": "qwen2",
    "qwen3": "qwen2",
    "deepseek2": "deepseek-v3",
}
_ROPE_BASE = {"llama": 10000.0, "qwen2": 1000000.0, "qwen3": 1000000.0, "deepseek2": 10000.0}


def write_tiny_model(
    path: str | os.PathLike[str],
    *,
    arch: str = "llama",
    n_vocab: int = 320,
    n_embd: int = 64,
    n_layer: int = 2,
    n_head: int = 4,
    n_head_kv: int | Sequence[int] | None = None,
    n_ff: int = 128,
    context_length: int = 2048,
    chat_template: str | None = None,
    n_expert: int = 0,
    n_expert_used: int = 0,
    dtype: Dtype = "f16",
    file_type: int | Literal["auto"] | None = "auto",
    tokenizer: Literal["llama", "gpt2"] | None = None,
    name: str | None = "Tiny Test Model",
    size_label: str | None = None,
    tied_embeddings: bool = False,
    extra_kv: Mapping[str, Any] | None = None,
    omit_keys: Iterable[str] = (),
    seed: int = 0,
) -> Path:
    """Write one tiny GGUF that llama.cpp loads; return its path.

    A per-layer n_head_kv only exercises metadata readers: llama.cpp's llama/qwen loaders
    want the same KV head count in every layer.
    """
    writer = _build(
        Path(path),
        arch=arch,
        n_vocab=n_vocab,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        n_head_kv=n_head_kv,
        n_ff=n_ff,
        context_length=context_length,
        chat_template=chat_template,
        n_expert=n_expert,
        n_expert_used=n_expert_used,
        dtype=dtype,
        file_type=file_type,
        tokenizer=tokenizer,
        name=name,
        size_label=size_label,
        tied_embeddings=tied_embeddings,
        extra_kv=extra_kv,
        omit_keys=omit_keys,
        seed=seed,
        split_max_tensors=0,
    )
    _finish(writer)
    return Path(path)


def write_split(
    directory: str | os.PathLike[str], stem: str, n_parts: int, **model: Any
) -> list[Path]:
    """Write a tiny model as parts stem-0000i-of-0000N.gguf with split.* keys; return them."""
    if n_parts < 2:
        raise ValueError("a split model has at least two parts")
    base = Path(directory) / f"{stem}.gguf"
    probe = _build(base, split_max_tensors=0, **_with_defaults(model))
    n_tensors = len(probe.tensors[0])
    per_part = math.ceil(n_tensors / n_parts)
    if math.ceil(n_tensors / per_part) != n_parts:
        raise ValueError(f"{n_tensors} tensors cannot be cut into exactly {n_parts} parts")
    writer = _build(base, split_max_tensors=per_part, **_with_defaults(model))
    _finish(writer)
    return [
        base.with_name(gguf.SHARD_NAME_FORMAT.format(stem, i + 1, n_parts)) for i in range(n_parts)
    ]


def write_big_vocab_model(
    path: str | os.PathLike[str], n_vocab: int = 150_000, **model: Any
) -> Path:
    """Write a qwen2 model with a full-size tokenizer (tokens, scores, types), tiny weights."""
    model.setdefault("arch", "qwen2")
    model.setdefault("n_embd", 32)
    model.setdefault("n_head", 2)
    model.setdefault("n_ff", 32)
    model.setdefault("n_layer", 1)
    model.setdefault("tied_embeddings", True)
    return write_tiny_model(path, n_vocab=n_vocab, **model)


# -- building ----------------------------------------------------------------------------------


def _with_defaults(model: Mapping[str, Any]) -> dict[str, Any]:
    """write_tiny_model's defaults, overridden by model (for the split writer)."""
    defaults: dict[str, Any] = {
        "arch": "llama",
        "n_vocab": 320,
        "n_embd": 64,
        "n_layer": 2,
        "n_head": 4,
        "n_head_kv": None,
        "n_ff": 128,
        "context_length": 2048,
        "chat_template": None,
        "n_expert": 0,
        "n_expert_used": 0,
        "dtype": "f16",
        "file_type": "auto",
        "tokenizer": None,
        "name": "Tiny Test Model",
        "size_label": None,
        "tied_embeddings": False,
        "extra_kv": None,
        "omit_keys": (),
        "seed": 0,
    }
    unknown = set(model) - set(defaults)
    if unknown:
        raise TypeError(f"unknown model arguments: {sorted(unknown)}")
    return {**defaults, **model}


def _build(
    path: Path,
    *,
    arch: str,
    n_vocab: int,
    n_embd: int,
    n_layer: int,
    n_head: int,
    n_head_kv: int | Sequence[int] | None,
    n_ff: int,
    context_length: int,
    chat_template: str | None,
    n_expert: int,
    n_expert_used: int,
    dtype: str,
    file_type: int | str | None,
    tokenizer: str | None,
    name: str | None,
    size_label: str | None,
    tied_embeddings: bool,
    extra_kv: Mapping[str, Any] | None,
    omit_keys: Iterable[str],
    seed: int,
    split_max_tensors: int,
) -> gguf.GGUFWriter:
    """A GGUFWriter holding all metadata and tensors of the model, not yet written."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unsupported architecture {arch!r}; choose from {ARCHITECTURES}")
    if dtype not in _DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}; choose from {sorted(_DTYPES)}")
    if n_embd % n_head:
        raise ValueError("n_embd must be a multiple of n_head")
    if arch in ("qwen2", "qwen3") and n_expert:
        raise ValueError(f"{arch} has no experts (that would be {arch}moe)")
    if n_expert_used > n_expert:
        raise ValueError("n_expert_used cannot exceed n_expert")
    if arch == "deepseek2" and not n_expert:
        n_expert, n_expert_used = 4, 2

    writer = gguf.GGUFWriter(path, arch, split_max_tensors=split_max_tensors)
    if tokenizer is None:
        tokenizer = "llama" if arch == "llama" else "gpt2"
    _add_tokenizer(writer, tokenizer, n_vocab, _PRE_TOKENIZER[arch])
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    if name is not None:
        writer.add_name(name)
    if size_label is not None:
        writer.add_size_label(size_label)
    weight_type, default_ftype = _DTYPES[dtype]
    if file_type == "auto":
        writer.add_file_type(int(default_ftype))
    elif file_type is not None:
        writer.add_file_type(int(file_type))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    head_dim = n_embd // n_head
    if n_head_kv is None:
        n_head_kv = n_head
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(_ROPE_BASE[arch])
    if n_expert:
        writer.add_expert_count(n_expert)
        writer.add_expert_used_count(n_expert_used)

    rng = np.random.default_rng(seed)
    tensors = _Tensors(writer, rng, weight_type)
    tensors.add("token_embd.weight", (n_vocab, n_embd))
    tensors.norm("output_norm.weight", n_embd)
    if not tied_embeddings:
        tensors.add("output.weight", (n_vocab, n_embd))

    if arch == "deepseek2":
        _deepseek2(writer, tensors, n_embd, n_head, n_layer, n_ff, n_expert)
    else:
        writer.add_head_count_kv(n_head_kv)
        writer.add_rope_dimension_count(head_dim)
        kv_heads = [n_head_kv] * n_layer if isinstance(n_head_kv, int) else list(n_head_kv)
        if len(kv_heads) != n_layer:
            raise ValueError("a per-layer n_head_kv needs one value per layer")
        for i in range(n_layer):
            _dense_layer(tensors, arch, i, n_embd, n_head, kv_heads[i], head_dim, n_ff, n_expert)

    for key, value in (extra_kv or {}).items():
        _add_value(writer, key, value)
    for key in omit_keys:
        writer.kv_data[0].pop(key, None)
    return writer


def _finish(writer: gguf.GGUFWriter) -> None:
    """Write header, metadata, tensor table and data, then close the file(s)."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _dense_layer(
    t: _Tensors,
    arch: str,
    i: int,
    n_embd: int,
    n_head: int,
    n_head_kv: int,
    head_dim: int,
    n_ff: int,
    n_expert: int,
) -> None:
    """The tensors of one llama/qwen2/qwen3 block (numpy shapes: ggml's ne reversed)."""
    p = f"blk.{i}."
    n_q, n_kv = n_head * head_dim, n_head_kv * head_dim
    t.norm(p + "attn_norm.weight", n_embd)
    t.add(p + "attn_q.weight", (n_q, n_embd))
    t.add(p + "attn_k.weight", (n_kv, n_embd))
    t.add(p + "attn_v.weight", (n_kv, n_embd))
    if arch == "qwen2":
        t.norm(p + "attn_q.bias", n_q, random=True)
        t.norm(p + "attn_k.bias", n_kv, random=True)
        t.norm(p + "attn_v.bias", n_kv, random=True)
    if arch == "qwen3":
        t.norm(p + "attn_q_norm.weight", head_dim)
        t.norm(p + "attn_k_norm.weight", head_dim)
    t.add(p + "attn_output.weight", (n_embd, n_q))
    t.norm(p + "ffn_norm.weight", n_embd)
    if n_expert:
        t.add(p + "ffn_gate_inp.weight", (n_expert, n_embd), force_float=True)
        t.add(p + "ffn_gate_exps.weight", (n_expert, n_ff, n_embd))
        t.add(p + "ffn_up_exps.weight", (n_expert, n_ff, n_embd))
        t.add(p + "ffn_down_exps.weight", (n_expert, n_embd, n_ff))
    else:
        t.add(p + "ffn_gate.weight", (n_ff, n_embd))
        t.add(p + "ffn_up.weight", (n_ff, n_embd))
        t.add(p + "ffn_down.weight", (n_embd, n_ff))


def _deepseek2(
    writer: gguf.GGUFWriter,
    t: _Tensors,
    n_embd: int,
    n_head: int,
    n_layer: int,
    n_ff: int,
    n_expert: int,
) -> None:
    """DeepSeek-V3/R1 layout as convert_hf_to_gguf writes it today: MLA with split k_b/v_b."""
    q_lora, kv_lora, rope, nope, v_dim, n_ff_exp = 32, 64, 16, 32, 32, 32
    writer.add_leading_dense_block_count(1)
    writer.add_q_lora_rank(q_lora)
    writer.add_kv_lora_rank(kv_lora)
    # MLA: the KV cache holds one "head" of the compressed latent plus the rope part.
    writer.add_head_count_kv(1)
    writer.add_key_length(kv_lora + rope)
    writer.add_value_length(kv_lora)
    writer.add_key_length_mla(nope + rope)
    writer.add_value_length_mla(v_dim)
    writer.add_rope_dimension_count(rope)
    writer.add_expert_feed_forward_length(n_ff_exp)
    writer.add_expert_shared_count(1)
    writer.add_expert_weights_scale(2.5)
    writer.add_expert_weights_norm(True)
    writer.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
    for i in range(n_layer):
        p = f"blk.{i}."
        t.norm(p + "attn_norm.weight", n_embd)
        t.norm(p + "attn_q_a_norm.weight", q_lora)
        t.norm(p + "attn_kv_a_norm.weight", kv_lora)
        t.add(p + "attn_q_a.weight", (q_lora, n_embd))
        t.add(p + "attn_q_b.weight", (n_head * (nope + rope), q_lora))
        t.add(p + "attn_kv_a_mqa.weight", (kv_lora + rope, n_embd))
        t.add(p + "attn_k_b.weight", (n_head, kv_lora, nope))
        t.add(p + "attn_v_b.weight", (n_head, v_dim, kv_lora))
        t.add(p + "attn_output.weight", (n_embd, n_head * v_dim))
        t.norm(p + "ffn_norm.weight", n_embd)
        if i == 0:
            t.add(p + "ffn_gate.weight", (n_ff, n_embd))
            t.add(p + "ffn_up.weight", (n_ff, n_embd))
            t.add(p + "ffn_down.weight", (n_embd, n_ff))
            continue
        t.add(p + "ffn_gate_inp.weight", (n_expert, n_embd), force_float=True)
        t.norm(p + "exp_probs_b.bias", n_expert, random=True)
        t.add(p + "ffn_gate_exps.weight", (n_expert, n_ff_exp, n_embd))
        t.add(p + "ffn_up_exps.weight", (n_expert, n_ff_exp, n_embd))
        t.add(p + "ffn_down_exps.weight", (n_expert, n_embd, n_ff_exp))
        t.add(p + "ffn_gate_shexp.weight", (n_ff_exp, n_embd))
        t.add(p + "ffn_up_shexp.weight", (n_ff_exp, n_embd))
        t.add(p + "ffn_down_shexp.weight", (n_embd, n_ff_exp))


class _Tensors:
    """Adds random tensors to a writer: 2-D+ weights in the chosen type, 1-D ones in F32."""

    def __init__(
        self, writer: gguf.GGUFWriter, rng: np.random.Generator, weight_type: GGMLQuantizationType
    ) -> None:
        self.writer = writer
        self.rng = rng
        self.weight_type = weight_type

    def add(self, name: str, shape: tuple[int, ...], *, force_float: bool = False) -> None:
        """Add a weight with numpy shape `shape` (ggml's ne is the reverse)."""
        data = (self.rng.standard_normal(shape) * 0.02).astype(np.float32)
        qtype = self.weight_type
        block, _ = gguf.GGML_QUANT_SIZES[qtype]
        if force_float or shape[-1] % block:
            # As llama-quantize does, keep what the type cannot hold (or should not) in F16/F32.
            is_f32 = qtype == GGMLQuantizationType.F32
            qtype = GGMLQuantizationType.F32 if is_f32 else GGMLQuantizationType.F16
        if qtype == GGMLQuantizationType.F32:
            self.writer.add_tensor(name, data)
        elif qtype == GGMLQuantizationType.F16:
            self.writer.add_tensor(name, data.astype(np.float16))
        else:
            self.writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)

    def norm(self, name: str, n: int, *, random: bool = False) -> None:
        """Add a 1-D F32 tensor: ones for a norm, small random values for a bias."""
        data = (
            (self.rng.standard_normal(n) * 0.02).astype(np.float32)
            if random
            else np.ones(n, dtype=np.float32)
        )
        self.writer.add_tensor(name, data)


# -- tokenizer ---------------------------------------------------------------------------------


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet: each byte as a printable character."""
    bs = list(range(ord("!"), ord("~") + 1))
    bs += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = list(bs)
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


def _add_tokenizer(writer: gguf.GGUFWriter, model: str, n_vocab: int, pre: str) -> None:
    """A real, self-consistent vocabulary of exactly n_vocab tokens."""
    tokens: list[str] = []
    types: list[int] = []
    scores: list[float] = []
    if model == "llama":
        # SentencePiece layout: <unk> <s> </s>, the 256 byte tokens, then pieces.
        tokens += ["<unk>", "<s>", "</s>"]
        types += [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
        tokens += [f"<0x{b:02X}>" for b in range(256)]
        types += [TokenType.BYTE] * 256
        pieces = ["▁", "▁t", "▁the", "e", "h", "t", "▁a", "▁think"]
        n_fill = n_vocab - len(tokens) - len(pieces)
        if n_fill < 0:
            minimum = len(tokens) + len(pieces)
            raise ValueError(f"a llama vocabulary needs at least {minimum} tokens")
        tokens += pieces + [f"▁w{i}" for i in range(n_fill)]
        types += [TokenType.NORMAL] * (len(pieces) + n_fill)
        scores = [0.0] * 259 + [-float(i) for i in range(n_vocab - 259)]
        bos, eos = 1, 2
        writer.add_tokenizer_model("llama")
        writer.add_add_bos_token(True)
    elif model == "gpt2":
        # Byte-level BPE: the 256 byte characters, a few merges, fillers, then the specials.
        tokens += list(_bytes_to_unicode().values())
        merges = ["Ġ t", "h e", "Ġt he", "Ġ a"]
        tokens += ["Ġt", "he", "Ġthe", "Ġa"]
        n_fill = n_vocab - len(tokens) - len(R1_SPECIALS)
        if n_fill < 0:
            minimum = len(tokens) + len(R1_SPECIALS)
            raise ValueError(f"a gpt2 vocabulary needs at least {minimum} tokens")
        tokens += [f"w{i}" for i in range(n_fill)]
        types += [TokenType.NORMAL] * len(tokens)
        first_special = len(tokens)
        tokens += list(R1_SPECIALS)
        types += [TokenType.CONTROL] * 4 + [TokenType.USER_DEFINED] * 2
        scores = [0.0] * n_vocab
        bos, eos = first_special, first_special + 1
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(pre)
        writer.add_key_value(
            gguf.Keys.Tokenizer.MERGES, merges, GGUFValueType.ARRAY, GGUFValueType.STRING
        )
        writer.add_add_bos_token(True)
    else:
        raise ValueError(f"unknown tokenizer {model!r}")
    assert len(tokens) == len(types) == len(scores) == n_vocab
    writer.add_key_value(
        gguf.Keys.Tokenizer.LIST, tokens, GGUFValueType.ARRAY, GGUFValueType.STRING
    )
    writer.add_key_value(
        gguf.Keys.Tokenizer.SCORES, scores, GGUFValueType.ARRAY, GGUFValueType.FLOAT32
    )
    writer.add_key_value(
        gguf.Keys.Tokenizer.TOKEN_TYPE,
        [int(t) for t in types],
        GGUFValueType.ARRAY,
        GGUFValueType.INT32,
    )
    writer.add_bos_token_id(bos)
    writer.add_eos_token_id(eos)


def _add_value(writer: gguf.GGUFWriter, key: str, value: Any) -> None:
    """Add one extra metadata value, its GGUF type inferred from the Python type."""
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        if value >= 0:
            writer.add_uint32(key, value)
        else:
            writer.add_int32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    elif isinstance(value, Sequence):
        writer.add_array(key, value)
    else:
        raise TypeError(f"cannot store {type(value).__name__} in GGUF metadata")
