"""Tensor placement overrides reach llama.cpp: MoE experts stay in system memory, on a real load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from model_runtime.chat.generation import Finished, GenerationParams, LoadRequest, Message
from model_runtime.engine import EngineClient
from model_runtime.llama.tensor_overrides import (
    ALL_EXPERTS,
    experts_of_layers,
    model_params_patch,
    overridden_tensors,
)
from tests.gguf_factory import R1_CHAT_TEMPLATE, write_tiny_model

EXPERT_TENSORS = [f"blk.{i}.ffn_{k}_exps.weight" for i in (1, 2) for k in ("up", "down", "gate")]


def test_patterns_pick_the_routed_experts_only() -> None:
    names = [
        "blk.1.ffn_up_exps.weight",
        "blk.11.ffn_gate_exps.weight",
        "blk.1.ffn_up_shexp.weight",
        "blk.1.ffn_gate_inp.weight",
        "blk.2.attn_kv_a_mqa.weight",
    ]
    everywhere = re.compile(ALL_EXPERTS)
    assert [n for n in names if everywhere.search(n)] == names[:2]
    (first_two,) = experts_of_layers([0, 1])
    assert [n for n in names if re.search(first_two, n)] == ["blk.1.ffn_up_exps.weight"]
    assert experts_of_layers([]) == ()


def test_a_broken_pattern_is_refused_before_llama_cpp_sees_it() -> None:
    with pytest.raises(re.error), model_params_patch(["blk.(1.ffn"]):
        pass


def test_the_patch_is_undone_after_the_block() -> None:
    from llama_cpp import llama_cpp

    original = llama_cpp.llama_model_default_params
    with model_params_patch([ALL_EXPERTS], no_alloc=True):
        params = llama_cpp.llama_model_default_params()
        assert params.tensor_buft_overrides and params.no_alloc
    assert llama_cpp.llama_model_default_params is original
    assert not original().tensor_buft_overrides


def test_override_log_lines_are_read() -> None:
    log = (
        "tensor blk.0.ffn_up_exps.weight (12 MiB q4_K) buffer type overridden to CPU\n"
        "load_tensors:   CPU_Mapped model buffer size =    92.10 MiB\n"
    )
    assert overridden_tensors(log) == {"blk.0.ffn_up_exps.weight": "CPU"}


@pytest.fixture(scope="module")
def tiny_deepseek2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ds2") / "tiny-deepseek2.gguf"
    return write_tiny_model(
        path,
        arch="deepseek2",
        n_layer=3,
        n_expert=4,
        n_expert_used=2,
        chat_template=R1_CHAT_TEMPLATE,
    )


@pytest.mark.slow
def test_engine_keeps_the_experts_in_ram_and_generates(
    tiny_deepseek2: Path, tmp_path: Path
) -> None:
    client = EngineClient(log_dir=tmp_path)
    try:
        request = LoadRequest(
            model_path=str(tiny_deepseek2),
            n_ctx=512,
            n_threads=1,
            tensor_overrides=(ALL_EXPERTS,),
            type_k="f32",  # the tiny model's head (80) takes no 32-blocks of q8_0
            type_v="f32",  # MLA reads V out of the K cache: llama.cpp wants them alike
            flash_attn=True,
        )
        summary = client.load(request)
        assert summary.architecture == "deepseek2"
        events = list(client.generate([Message("user", "the")], GenerationParams(max_tokens=6)))
        assert isinstance(events[-1], Finished)
        assert events[-1].stats.n_generated > 0
        assert client.log_path is not None
        log = client.log_path.read_text(errors="replace")
    finally:
        client.close()
    overridden = overridden_tensors(log)
    # blk.0 is DeepSeek's leading dense layer: it has no experts to move
    assert sorted(overridden) == sorted(EXPERT_TENSORS)
    assert set(overridden.values()) == {"CPU"}
    assert "K (f32)" in log  # the KV cache type reached llama.cpp too
