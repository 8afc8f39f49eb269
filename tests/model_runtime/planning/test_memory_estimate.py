"""The memory estimate: its arithmetic, and against what llama.cpp really allocates here."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_runtime.gguf.profile import profile_from_gguf, read_model, split_parts
from model_runtime.planning.memory_estimate import (
    estimate_memory,
    kv_layer_bytes,
    kv_type_id,
    kv_type_usable,
    padded_ctx,
)
from model_runtime.planning.memory_probe import measure_load, parse_allocations
from tests.gguf_factory import write_tiny_model
from tests.model_shapes import gguf_info

MIB = 1024 * 1024
R1 = profile_from_gguf(gguf_info("r1-671b", "Q4_K_M"))
QWEN_7B = profile_from_gguf(gguf_info("qwen-7b", "Q4_K_M"))

LOG = """\
load_tensors:   CPU_Mapped model buffer size =    92.10 MiB
load_tensors:        CUDA0 model buffer size =  1024.00 MiB
llama_context:        CPU  output buffer size =     0.19 MiB
llama_kv_cache:      CUDA0 KV buffer size =    90.00 MiB
llama_kv_cache: size =   90.00 MiB (  4096 cells,  30 layers,  1/1 seqs), K (f16):   45.00 MiB
sched_reserve:      CUDA0 compute buffer size =    99.38 MiB
sched_reserve:  CUDA_Host compute buffer size =     9.01 MiB
tensor blk.3.ffn_up_exps.weight (1 MiB q4_K) buffer type overridden to CPU
"""


def test_the_log_parser_reads_every_buffer() -> None:
    m = parse_allocations(LOG)
    assert m.model_buffers == {"CPU_Mapped": round(92.10 * MIB), "CUDA0": 1024 * MIB}
    assert m.kv_bytes == 90 * MIB and m.kv_buffers == {"CUDA0": 90 * MIB}
    assert m.compute_buffers == {"CUDA0": round(99.38 * MIB), "CUDA_Host": round(9.01 * MIB)}
    assert m.output_bytes == round(0.19 * MIB)
    assert m.overridden == {"blk.3.ffn_up_exps.weight": "CPU"}


def test_context_is_padded_like_llama_cpp() -> None:
    assert [padded_ctx(n) for n in (1, 256, 1000, 8192)] == [256, 256, 1024, 8192]


def test_kv_cache_per_layer() -> None:
    # Qwen-7B: 4 KV heads of 128, K and V in f16
    assert kv_layer_bytes(QWEN_7B, 8192) == (8192 * 4 * 128 * 2 * 2,) * 28
    # q8_0 stores 32 values in 34 bytes
    assert kv_layer_bytes(QWEN_7B, 8192, "q8_0", "q8_0")[0] == 8192 * 4 * 128 // 32 * 34 * 2
    # R1 with MLA: one 576-wide latent per token and layer, no V
    assert kv_layer_bytes(R1, 4096) == (4096 * 576 * 2,) * 61


def test_kv_types() -> None:
    assert kv_type_id("q8_0") == 8 and kv_type_id("f16") == 1
    with pytest.raises(ValueError, match="unknown KV cache type"):
        kv_type_id("q3_k")
    assert kv_type_usable(R1, "q8_0") and kv_type_usable(QWEN_7B, "q4_0")


def test_layers_go_to_the_gpu_last_first_and_the_head_last_of_all() -> None:
    p, n = QWEN_7B, QWEN_7B.n_layer
    cpu = estimate_memory(p, n_ctx=4096)
    assert cpu.weights_device == cpu.kv_device == cpu.compute_device == 0
    assert cpu.weights_host == p.weights_bytes
    layers = estimate_memory(p, n_ctx=4096, n_gpu_layers=n, n_gpus=1)
    assert layers.weights_device == sum(p.layer_bytes)
    assert layers.weights_host == p.input_bytes + p.output_bytes
    assert layers.kv_host == 0
    whole = estimate_memory(p, n_ctx=4096, n_gpu_layers=n + 1, n_gpus=1)
    assert whole.weights_host == p.input_bytes  # token_embd always stays in RAM
    assert whole.compute_host < cpu.compute_host
    some = estimate_memory(p, n_ctx=4096, n_gpu_layers=4, n_gpus=1)
    assert some.weights_device == sum(p.layer_bytes[-4:])
    assert some.kv_device == sum(kv_layer_bytes(p, 4096)[-4:])


# What llama.cpp 0.3.36 (CUDA, sm_90) allocated on an H200 with every layer and the head on the
# GPU: (model, n_ctx, flash attention) -> MiB of its CUDA0 and CUDA_Host compute buffers.
H200_COMPUTE = {
    ("qwen-7b", 4096, False): (304.0, 24.0),
    ("qwen-7b", 4096, True): (304.0, 18.0),
    ("qwen-7b", 32768, False): (1886.0, 80.0),
    ("qwen-7b", 32768, True): (304.0, 46.0),
    ("qwen-32b", 32768, False): (2668.0, 88.0),
    ("qwen-32b", 32768, True): (307.0, 52.0),
    ("llama-70b", 4096, True): (266.5, 36.0),
    ("llama-70b", 32768, False): (4228.0, 100.0),
    ("qwen3-8b", 32768, True): (304.8, 48.0),
    ("r1-671b", 32768, True): (412.0, 60.0),
}


@pytest.mark.parametrize(("key", "n_ctx", "flash_attn"), list(H200_COMPUTE))
def test_gpu_compute_buffers_match_an_h200(key: str, n_ctx: int, flash_attn: bool) -> None:
    """The GPU's compute buffer is never under what llama.cpp took, and at most 7 % over; the
    pinned host one (the graph's inputs, the attention mask first) within 4 MiB."""
    quant = "UD-IQ1_S" if key == "r1-671b" else "Q4_K_M"
    p = profile_from_gguf(gguf_info(key, quant))
    e = estimate_memory(p, n_ctx=n_ctx, flash_attn=flash_attn, n_gpu_layers=999, n_gpus=1)
    device, host = H200_COMPUTE[key, n_ctx, flash_attn]
    assert device <= e.compute_device / MIB <= device * 1.07
    assert abs(e.compute_host / MIB - host) <= 4


def test_experts_kept_in_ram_leave_the_gpu() -> None:
    p, n = R1, R1.n_layer
    all_on_gpu = estimate_memory(p, n_ctx=8192, n_gpu_layers=n + 1, n_gpus=2)
    moe = estimate_memory(p, n_ctx=8192, n_gpu_layers=n + 1, cpu_expert_layers=20, n_gpus=2)
    moved = sum(p.expert_bytes[:20])
    assert all_on_gpu.weights_device - moe.weights_device == moved
    assert moe.weights_host - all_on_gpu.weights_host == moved
    assert moe.kv_device == all_on_gpu.kv_device  # attention stays on the GPU
    assert p.expert_bytes[:3] == (0, 0, 0)  # R1's three leading dense layers have no experts


def test_split_parts_are_found_from_any_part(tmp_path: Path) -> None:
    part = tmp_path / "DeepSeek-R1-UD-IQ1_S-00002-of-00003.gguf"
    assert [p.name for p in split_parts(part)] == [
        f"DeepSeek-R1-UD-IQ1_S-0000{i}-of-00003.gguf" for i in (1, 2, 3)
    ]
    assert split_parts(tmp_path / "one.gguf") == [tmp_path / "one.gguf"]


# -- against llama.cpp on this machine ---------------------------------------------------------

DENSE = {"n_vocab": 2000, "n_embd": 256, "n_head": 8, "n_head_kv": 2, "n_ff": 512}
TINY = {
    "llama": {"arch": "llama", **DENSE},
    "qwen2": {"arch": "qwen2", **DENSE},
    "qwen3": {"arch": "qwen3", **DENSE},
    "deepseek2": {"arch": "deepseek2", "n_layer": 3, "n_expert": 4, "n_expert_used": 2},
}


def assert_close(path: Path, n_ctx: int, flash_attn: bool, *, no_alloc: bool = True) -> None:
    """llama.cpp's own buffers (weights, KV, compute, output) within 10 % of the estimate."""
    measured = measure_load(str(path), n_ctx=n_ctx, flash_attn=flash_attn, no_alloc=no_alloc)
    estimate = estimate_memory(
        profile_from_gguf(read_model(path)), n_ctx=n_ctx, flash_attn=flash_attn
    )
    assert estimate.kv_bytes == pytest.approx(measured.kv_bytes, abs=0.01 * MIB)
    assert estimate.weights_host == pytest.approx(measured.weights_bytes, rel=0.001)
    assert estimate.buffers_total == pytest.approx(measured.total_bytes, rel=0.10)
    if not no_alloc:  # a real load: the process stays within the whole estimate
        assert measured.rss_bytes <= estimate.host_total


@pytest.mark.slow
@pytest.mark.parametrize(("n_ctx", "flash_attn"), [(512, False), (32768, False), (32768, True)])
def test_smollm2_estimate_matches_llama_cpp(smollm2: Path, n_ctx: int, flash_attn: bool) -> None:
    assert_close(smollm2, n_ctx, flash_attn)


@pytest.mark.slow
def test_smollm2_real_load_stays_within_the_estimate(smollm2: Path) -> None:
    assert_close(smollm2, 8192, False, no_alloc=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arch", "n_ctx", "flash_attn"),
    [
        ("llama", 32768, False),
        ("qwen2", 512, True),
        ("qwen3", 8192, True),
        ("deepseek2", 32768, False),
    ],
)
def test_tiny_models_estimate_matches_llama_cpp(
    tmp_path: Path, arch: str, n_ctx: int, flash_attn: bool
) -> None:
    path = write_tiny_model(tmp_path / f"{arch}.gguf", context_length=32768, **TINY[arch])
    assert_close(path, n_ctx, flash_attn)
