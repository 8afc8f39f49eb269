"""How many thoughts on one prompt fit beside a load: the KV stream each, as llama.cpp
allocates it, within the planner's margins."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from model_runtime.gguf.profile import profile_from_gguf, read_model
from model_runtime.planning.plan import PlanOverrides
from model_runtime.planning.planner import plan
from model_runtime.planning.votes import (
    MAX_THOUGHTS,
    max_thoughts,
    thought_ctx,
    thoughts_fit,
    thoughts_memory,
)
from tests.model_runtime.planning.test_planner import GIB, MACHINES, PROFILES

MIB = 1024**2


def test_the_run_of_thoughts_costs_what_llama_cpp_allocates(smollm2: Path) -> None:
    """Measured with llama.cpp's log (verbose), SmolLM2 at 8,192 tokens a thought with flash
    attention: KV 180 MiB a thought, the compute buffer 98.25 MiB, logits 0.19 MiB a thought."""
    profile = profile_from_gguf(read_model(smollm2))
    p = plan(
        profile, MACHINES["32g+4090"], PlanOverrides(n_ctx=8192, flash_attn=True, use_gpu=False)
    )
    for n, kv in ((1, 180.0), (4, 720.0), (8, 1440.0)):
        memory = thoughts_memory(p, n)
        assert memory.device == 0
        assert memory.host / MIB == pytest.approx(kv + 98.25 + n * 0.1875, abs=0.5)


@pytest.mark.parametrize(
    ("machine", "entry", "most"),
    [
        ("laptop-8g", ("qwen-1.5b", "Q4_K_M"), 10),
        ("laptop-8g", ("qwen-7b", "Q4_K_M"), 1),  # the model alone fills it
        ("16g+3060", ("qwen-7b", "Q4_K_M"), 9),
        ("32g+4090", ("qwen-7b", "Q4_K_M"), 35),
        ("32g+4090", ("qwen-14b", "Q4_K_M"), 4),
        ("m2max-64g", ("qwen-32b", "Q4_K_M"), 9),
        ("512g+2x80", ("r1-671b", "UD-IQ1_S"), 29),
        ("512g+2x80", ("qwen-7b", "Q4_K_M"), MAX_THOUGHTS),
    ],
)
def test_the_most_thoughts_that_fit(machine: str, entry: tuple[str, str], most: int) -> None:
    p = plan(PROFILES[entry], MACHINES[machine])
    assert p.max_sequences == max_thoughts(p) == most
    assert p.to_load_request().max_sequences == most
    if most > 1:
        assert thoughts_fit(p, most)
    if most < MAX_THOUGHTS:
        assert not thoughts_fit(p, most + 1)


def test_thoughts_go_where_the_layers_are() -> None:
    on_gpu = plan(PROFILES[("qwen-7b", "Q4_K_M")], MACHINES["32g+4090"])
    assert on_gpu.n_gpu_layers > 28
    memory = thoughts_memory(on_gpu, 8)
    assert memory.device > 8 * 400 * MIB  # 8 KV streams of 8,192 tokens on the GPU
    assert memory.host < 100 * MIB  # the host keeps the logits and a small compute buffer


def test_each_thought_is_planned_with_eight_thousand_tokens_at_most() -> None:
    long = plan(PROFILES[("qwen-7b", "Q4_K_M")], MACHINES["32g+4090"])
    assert long.n_ctx == 32768 and thought_ctx(long) == long.sequence_ctx == 8192
    short = plan(PROFILES[("qwen-7b", "Q4_K_M")], MACHINES["32g+4090"], PlanOverrides(n_ctx=4096))
    assert thought_ctx(short) == 4096
    assert short.max_sequences > long.max_sequences  # less memory for the model's own context


def test_a_plan_that_does_not_fit_or_was_forced_offers_no_thoughts() -> None:
    refused = plan(PROFILES[("llama-70b", "Q4_K_M")], MACHINES["laptop-8g"])
    assert not refused.verdict.ok and refused.max_sequences == 1
    forced = plan(
        PROFILES[("llama-70b", "Q4_K_M")], MACHINES["laptop-8g"], PlanOverrides(force=True)
    )
    assert forced.forced and forced.max_sequences == 1


def test_less_free_memory_fewer_thoughts() -> None:
    machine = MACHINES["laptop-8g"]
    roomy = plan(PROFILES[("qwen-1.5b", "Q4_K_M")], machine)
    tight = plan(
        PROFILES[("qwen-1.5b", "Q4_K_M")], dataclasses.replace(machine, ram_available=4 * GIB)
    )
    assert 1 <= tight.max_sequences < roomy.max_sequences
