"""What the memory estimate needs from a model's GGUF metadata, all parts of a split model together.

It takes GgufInfo objects, so a header read from a remote file before downloading serves as
well as a local file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from model_runtime.errors import ModelFileError
from model_runtime.gguf.quants import split_part
from model_runtime.gguf.reader import GgufInfo, read_gguf_info

_LAYER = re.compile(r"blk\.(\d+)\.")
_EXPERTS = re.compile(r"\.ffn_(up|down|gate)_exps\.")


@dataclass(frozen=True)
class ModelProfile:
    """A model's shape and where its weight bytes sit, layer by layer."""

    name: str
    architecture: str
    quantization: str
    file_size: int  # all parts
    n_params: int
    n_ctx_train: int
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: tuple[int, ...]  # per layer
    key_length: int  # per KV head, as stored in the cache
    value_length: int
    mla: bool  # DeepSeek-2 MLA: the cache holds the compressed latent once, no separate V
    n_vocab: int
    n_ff: int
    n_expert: int
    n_expert_used: int
    n_ff_exp: int
    input_bytes: int  # token_embd: always in system memory
    output_bytes: int  # output head and final norm: on the GPU only with every layer
    tied_output: bool  # no output.weight: llama.cpp copies token_embd there when offloading
    layer_bytes: tuple[int, ...]  # every tensor of each repeating layer
    expert_bytes: tuple[int, ...]  # of which the routed experts (ffn_*_exps)
    largest_tensor: int = 0  # the biggest layer tensor: a GPU copies it in to run it from RAM

    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts model with expert tensors."""
        return any(self.expert_bytes)

    @property
    def weights_bytes(self) -> int:
        """All tensor bytes, as llama.cpp maps them from the file."""
        return self.input_bytes + self.output_bytes + sum(self.layer_bytes)

    @property
    def bits_per_weight(self) -> float:
        """Average bits per parameter of this quantization."""
        return 8 * self.weights_bytes / max(1, self.n_params)


def split_parts(path: str | Path) -> list[Path]:
    """All parts of a split model (name-0000i-of-0000N.gguf) given any one; else [path]."""
    p = Path(path)
    part = split_part(p.name)
    if part is None:
        return [p]
    suffix = p.name[-len(".gguf") :]  # as the file has it
    return [
        p.with_name(f"{part.prefix}-{i:05d}-of-{part.count:05d}{suffix}")
        for i in range(1, part.count + 1)
    ]


def read_model(path: str | Path) -> list[GgufInfo]:
    """GgufInfo of every part of a model file; a missing part is a ModelFileError."""
    infos = [read_gguf_info(part) for part in split_parts(path)]
    first = infos[0]
    if first.split_count != len(infos):
        raise ModelFileError(
            f"{path} says it has {first.split_count} parts, but {len(infos)} were found"
        )
    return infos


def _int_kv(info: GgufInfo, key: str, default: int = 0) -> int:
    value = info.kv.get(f"{info.architecture}.{key}")
    if isinstance(value, tuple):
        value = max(value) if value else None
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass
class _Sizes:
    """Where a model's bytes are: per layer (and its experts), input, output."""

    layer: list[int]
    experts: list[int]
    seen: list[bool]  # layers with a tensor in the parts read
    input: int = 0
    output: int = 0
    n_params: int = 0
    largest: int = 0
    tied: bool = True  # no output.weight: the output head is the token embedding

    @classmethod
    def of(cls, infos: Sequence[GgufInfo], n_layer: int) -> _Sizes:
        sizes = cls([0] * n_layer, [0] * n_layer, [False] * n_layer)
        for info in infos:
            sizes.n_params += info.parameter_count
            for t in info.tensors:
                m = _LAYER.match(t.name)
                if m and int(m.group(1)) < n_layer:
                    i = int(m.group(1))
                    sizes.seen[i] = True
                    sizes.layer[i] += t.n_bytes
                    sizes.largest = max(sizes.largest, t.n_bytes)
                    if _EXPERTS.search(t.name):
                        sizes.experts[i] += t.n_bytes
                elif t.name.startswith("token_embd."):
                    sizes.input += t.n_bytes
                else:  # output.weight, output_norm, rope tables, next-token layers
                    sizes.output += t.n_bytes
                    if t.name == "output.weight":
                        sizes.tied = False
        return sizes


def profile_from_gguf(
    parts: GgufInfo | Sequence[GgufInfo], *, total_size: int | None = None
) -> ModelProfile:
    """Build the profile from the GgufInfo of a model's parts.

    Given only some parts of a split model (say, the first part's header read before the
    download), pass the total size of all parts: the bytes not seen are spread over the
    layers whose tensors were not seen, with the experts' share of the layers that were.
    """
    infos = [parts] if isinstance(parts, GgufInfo) else sorted(parts, key=lambda i: i.split_index)
    if not infos:
        raise ValueError("no GGUF parts given")
    head = infos[0]
    if head.split_index != 0:
        raise ModelFileError(f"{head.path} is not the first part of its model")
    if not head.architecture or not head.block_count or not head.embedding_length:
        raise ModelFileError(f"{head.path} does not say the model's architecture and size")
    n_layer = head.block_count
    n_embd = head.embedding_length
    n_head = head.head_count or 1
    per_layer = head.head_count_kv_per_layer
    if per_layer is None or len(per_layer) != n_layer:
        per_layer = (head.head_count_kv or n_head,) * n_layer
    head_dim = n_embd // n_head

    sizes = _Sizes.of(infos, n_layer)
    if len(infos) < head.split_count:
        if total_size is None:
            raise ModelFileError(
                f"{head.path} is part of a {head.split_count}-part model; "
                "give all parts or the total size"
            )
        _spread_missing(total_size, infos, sizes.layer, sizes.experts, sizes.seen)
        sizes.tied = False  # the output head may be in a part not read
        seen_bytes = max(1, sum(i.file_size for i in infos))
        sizes.n_params = round(sizes.n_params * total_size / seen_bytes)

    mla = f"{head.architecture}.attention.key_length_mla" in head.kv
    return ModelProfile(
        name=head.name or head.path.stem,
        architecture=head.architecture,
        quantization=head.quantization or "unknown",
        file_size=total_size if total_size is not None else sum(i.file_size for i in infos),
        n_params=sizes.n_params,
        n_ctx_train=head.context_length or 2048,
        n_layer=n_layer,
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=tuple(per_layer),
        key_length=head.key_length or head_dim,
        value_length=head.value_length or head_dim,
        mla=mla,
        n_vocab=head.vocab_size or 32000,
        n_ff=head.feed_forward_length or 4 * n_embd,
        n_expert=head.expert_count or 0,
        n_expert_used=head.expert_used_count or 0,
        n_ff_exp=_int_kv(head, "expert_feed_forward_length"),
        input_bytes=sizes.input,
        output_bytes=sizes.output,
        tied_output=sizes.tied,
        layer_bytes=tuple(sizes.layer),
        expert_bytes=tuple(sizes.experts),
        largest_tensor=sizes.largest,
    )


def _spread_missing(
    total_size: int,
    infos: list[GgufInfo],
    layer_bytes: list[int],
    expert_bytes: list[int],
    seen: list[bool],
) -> None:
    """Give the layers not seen equal shares of the bytes in the parts not read."""
    overhead = sum(i.file_size - i.tensor_data_size for i in infos)
    missing = max(0, total_size - sum(i.tensor_data_size for i in infos) - overhead)
    unseen = [i for i, s in enumerate(seen) if not s] or list(range(len(seen)))
    moe_layers = [i for i, s in enumerate(seen) if s and expert_bytes[i]]
    share = 0.0
    if moe_layers:
        share = sum(expert_bytes[i] for i in moe_layers) / sum(layer_bytes[i] for i in moe_layers)
    each = missing // len(unseen)
    for i in unseen:
        layer_bytes[i] += each
        expert_bytes[i] += int(each * share)
