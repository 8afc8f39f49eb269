"""How much memory a load takes, from the model's metadata alone: weights, KV cache, compute.

The formulas follow what llama.cpp (the build llama-cpp-python 0.3.36 ships) allocates,
checked against its own log on real and header-only models (bench/plan_accuracy.py):

* weights: the tensors' bytes; the repeating layers go to the GPU last-first, the output
  head only once every layer is there, token_embd always stays in system memory;
* KV cache: n_ctx rounded up to 256 cells, per layer n_head_kv × key_length for K and
  n_head_kv × value_length for V. DeepSeek-2 with MLA (key_length_mla in the metadata)
  caches the compressed latent (kv_lora_rank + rope = 576 values) once and reads V out of
  it: no V cache at all. Older DeepSeek-2 GGUFs without MLA cache full K and V per head;
* compute buffer: the peak of one ubatch's graph — logits (n_vocab per token) or, without
  flash attention, the attention scores (n_head + 1 mask rows of n_ctx per token).
"""

from __future__ import annotations

from dataclasses import dataclass

from model_runtime.gguf.profile import ModelProfile
from model_runtime.units import MIB

CTX_PAD = 256  # llama.cpp rounds n_ctx up to a multiple of this
UBATCH = 512  # llama-cpp-python's n_ubatch = min(n_batch, 512)
HOST_OVERHEAD = 256 * MIB  # the engine process: Python, llama.cpp, tokenizer tables
DEVICE_OVERHEAD = 512 * MIB  # per GPU: driver context, cuBLAS/Metal workspaces

# KV cache types: name -> (ggml type id for Llama(type_k=…), elements per block, bytes per block)
KV_TYPES = {
    "f32": (0, 1, 4),
    "f16": (1, 1, 2),
    "bf16": (30, 1, 2),
    "q8_0": (8, 32, 34),
    "q5_1": (7, 32, 24),
    "q5_0": (6, 32, 22),
    "q4_1": (3, 32, 20),
    "q4_0": (2, 32, 18),
    "iq4_nl": (20, 32, 18),
}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a load needs in system memory (host) and in GPU memory (device, all GPUs)."""

    n_ctx: int  # as llama.cpp will allocate it (padded)
    weights_host: int
    weights_device: int
    kv_host: int
    kv_device: int
    compute_host: int
    compute_device: int
    output_host: int  # the logits buffer
    overhead_host: int
    overhead_device: int

    @property
    def host_total(self) -> int:
        """Everything in system memory."""
        return (
            self.weights_host
            + self.kv_host
            + self.compute_host
            + self.output_host
            + self.overhead_host
        )

    @property
    def device_total(self) -> int:
        """Everything in GPU memory."""
        return self.weights_device + self.kv_device + self.compute_device + self.overhead_device

    @property
    def buffers_total(self) -> int:
        """What llama.cpp itself allocates (weights, KV, compute, output), without overheads."""
        return (
            self.weights_host
            + self.weights_device
            + self.kv_host
            + self.kv_device
            + self.compute_host
            + self.compute_device
            + self.output_host
        )

    @property
    def kv_bytes(self) -> int:
        """The whole KV cache."""
        return self.kv_host + self.kv_device


def padded_ctx(n_ctx: int) -> int:
    """The context llama.cpp really allocates for a requested n_ctx."""
    return max(CTX_PAD, -(-n_ctx // CTX_PAD) * CTX_PAD)


def kv_type_id(name: str) -> int:
    """The ggml type id of a KV cache type name, for Llama(type_k=…, type_v=…)."""
    if name not in KV_TYPES:
        raise ValueError(f"unknown KV cache type {name!r}; choose from {sorted(KV_TYPES)}")
    return KV_TYPES[name][0]


def kv_type_usable(profile: ModelProfile, name: str) -> bool:
    """Whether llama.cpp can store this model's K and V heads in a cache of this type."""
    block = KV_TYPES[name][1]
    return profile.key_length % block == 0 and profile.value_length % block == 0


def _type_size(name: str, n_elements: int) -> int:
    if name not in KV_TYPES:
        raise ValueError(f"unknown KV cache type {name!r}; choose from {sorted(KV_TYPES)}")
    _, block, size = KV_TYPES[name]
    return n_elements // block * size


def kv_layer_bytes(
    profile: ModelProfile, n_ctx: int, type_k: str = "f16", type_v: str = "f16"
) -> tuple[int, ...]:
    """The KV cache of each layer for a context of n_ctx tokens."""
    cells = padded_ctx(n_ctx)
    out = []
    for n_kv in profile.n_head_kv:
        k = _type_size(type_k, n_kv * profile.key_length) * cells
        v = 0 if profile.mla else _type_size(type_v, n_kv * profile.value_length) * cells
        out.append(k + v)
    return tuple(out)


def mask_per_token(n_ctx: int, *, flash_attn: bool) -> int:
    """The attention mask's size per token of a batch, in f32 values: n_kv f32 values, or
    f16 with flash attention."""
    n_kv = padded_ctx(n_ctx)
    return n_kv // 2 if flash_attn else n_kv


def compute_bytes(
    profile: ModelProfile, n_ctx: int, *, flash_attn: bool, n_batch: int = 512
) -> int:
    """The compute buffer of the whole graph for one ubatch (its widest point, in f32)."""
    p = profile
    n_ub = min(n_batch, UBATCH)
    n_kv = padded_ctx(n_ctx)
    kv_heads = max(p.n_head_kv) if p.n_head_kv else p.n_head
    logits = p.n_vocab + 2 * p.n_embd
    q_dim = p.n_head * p.key_length
    if p.mla:
        base = 2 * q_dim + 8 * p.n_embd
    else:
        base = 3 * p.n_embd + 2 * q_dim + kv_heads * (p.key_length + p.value_length) + 5
    # The mask lives from the first attention to the last. Without flash attention, the
    # scores take n_head more rows of n_kv.
    mask = mask_per_token(n_ctx, flash_attn=flash_attn)
    attention = mask + base + (0 if flash_attn else p.n_head * n_kv)
    n_ff = max(p.n_expert_used * p.n_ff_exp, p.n_ff) if p.is_moe else p.n_ff
    ffn = mask + 3 * n_ff + 2 * p.n_embd + 5
    return n_ub * 4 * max(logits, attention, ffn)


def estimate_memory(
    profile: ModelProfile,
    *,
    n_ctx: int,
    n_gpu_layers: int = 0,
    cpu_expert_layers: int = 0,
    n_gpus: int = 0,
    flash_attn: bool = False,
    type_k: str = "f16",
    type_v: str = "f16",
    n_batch: int = 512,
) -> MemoryEstimate:
    """Where the bytes of a load go, for a placement of layers and experts.

    n_gpu_layers counts like llama.cpp's: the last layers first, the output head only when
    it exceeds the number of layers. cpu_expert_layers keeps the routed experts of the first
    that many layers in system memory (llama.cpp's --n-cpu-moe). n_gpus=0 means CPU only.
    """
    p = profile
    n_layer = p.n_layer
    ngl = max(0, min(n_gpu_layers, n_layer + 1)) if n_gpus else 0
    first_gpu = n_layer - min(ngl, n_layer)
    output_on_gpu = ngl > n_layer
    kv = kv_layer_bytes(p, n_ctx, type_k, type_v)

    weights_device = kv_device = 0
    for i in range(first_gpu, n_layer):
        weights_device += p.layer_bytes[i]
        if i < cpu_expert_layers:
            weights_device -= p.expert_bytes[i]
        kv_device += kv[i]
    if output_on_gpu:
        weights_device += p.output_bytes + (p.input_bytes if p.tied_output else 0)
    weights_host = p.weights_bytes - weights_device
    if output_on_gpu and p.tied_output:
        weights_host += p.input_bytes  # the copy on the GPU does not free token_embd

    full = compute_bytes(p, n_ctx, flash_attn=flash_attn, n_batch=n_batch)
    n_ub = min(n_batch, UBATCH)
    if ngl == 0:
        compute_host, compute_device = full, 0
    else:
        # Each GPU holds a compute buffer; the CPU one keeps the embeddings, the logits while
        # the head is in RAM, and the expert matmuls of the experts kept there.
        compute_device = full * n_gpus
        host = 2 * p.n_embd
        if not output_on_gpu or first_gpu > 0:
            host = max(host, p.n_vocab + 2 * p.n_embd)
        if cpu_expert_layers and p.is_moe:
            host = max(host, 3 * p.n_expert_used * p.n_ff_exp + 3 * p.n_embd)
        # The graph's inputs stay in pinned system memory for the whole graph: the biggest is
        # the attention mask. Measured on an H200 (CUDA_Host buffer, 0.3.36): 18-100 MiB,
        # from 4,096 to 32,768 tokens.
        host += mask_per_token(n_ctx, flash_attn=flash_attn)
        compute_host = n_ub * 4 * host
        if first_gpu > 0 or (cpu_expert_layers and p.is_moe):
            # A big batch runs RAM-resident weights on the GPU, copying one tensor at a time.
            compute_device += p.largest_tensor
    return MemoryEstimate(
        n_ctx=padded_ctx(n_ctx),
        weights_host=weights_host,
        weights_device=weights_device,
        kv_host=sum(kv) - kv_device,
        kv_device=kv_device,
        compute_host=compute_host,
        compute_device=compute_device,
        output_host=p.n_vocab * 4,
        overhead_host=HOST_OVERHEAD,
        overhead_device=DEVICE_OVERHEAD * n_gpus if ngl else 0,
    )
