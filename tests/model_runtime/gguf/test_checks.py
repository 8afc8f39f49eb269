"""The checks of a model's metadata against what llama.cpp accepts, on real GGUF files."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf import GGUFValueType

from model_runtime.errors import ModelFileError
from model_runtime.gguf.checks import check_model, template_error
from model_runtime.gguf.profile import read_model
from model_runtime.gguf.reader import read_gguf_info
from tests.broken_models import BROKEN, broken_model, rewrite, set_value, tiny
from tests.gguf_factory import ARCHITECTURES, R1_CHAT_TEMPLATE, write_split, write_tiny_model
from tests.model_shapes import CATALOG, gguf_info, write_header_only

KNOWN = frozenset({"llama", "qwen2", "qwen3", "deepseek2"})


def refusal(path: Path, architectures: frozenset[str] | None = KNOWN) -> str:
    with pytest.raises(ModelFileError) as caught:
        check_model(read_model(path), architectures=architectures)
    return str(caught.value)


@pytest.mark.parametrize("name", list(BROKEN))
def test_each_broken_model_is_refused_with_its_reason(tmp_path: Path, name: str) -> None:
    path, reason = broken_model(tmp_path, name)
    read_gguf_info(path)  # it reads as a GGUF file
    message = refusal(path)
    assert reason in message and message.startswith(f"{path.name} is not a model llama.cpp")


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("llama.block_count", 0, "0 layers"),
        ("llama.block_count", 513, "takes 1 to 512"),
        ("llama.block_count", 1, "its tensors make 2 layers, but block_count says 1"),
        ("llama.block_count", 3, "layer 2 has no tensors"),
        ("llama.attention.head_count_kv", 0, "0 key/value heads"),
        ("llama.attention.head_count_kv", 3, "4 attention heads cannot share 3 key/value heads"),
        ("llama.attention.head_count_kv", 2, "blk.0.attn_k.weight is 64 × 64, but 2 key/"),
        ("llama.rope.dimension_count", 8, "rotary dimension 8"),
        ("llama.embedding_length", 66, "66 is not a multiple of its 4 attention heads"),
    ],
)
def test_counts_out_of_range_or_against_the_tensors(
    tmp_path: Path, key: str, value: int, reason: str
) -> None:
    source = tiny(tmp_path, "llama")
    assert reason in refusal(set_value(source, tmp_path / "edited.gguf", key, value))


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("deepseek2.expert_used_count", 9, "routes each token to 9 experts"),
        ("deepseek2.expert_count", 2000, "at most 1024"),
        ("deepseek2.attention.head_count", 2, "blk.0.attn_q_b.weight"),
    ],
)
def test_experts_and_mla_heads(tmp_path: Path, key: str, value: int, reason: str) -> None:
    source = tiny(tmp_path, "deepseek2", n_layer=3)
    assert reason in refusal(set_value(source, tmp_path / "edited.gguf", key, value))


def test_expert_weights_without_an_expert_count(tmp_path: Path) -> None:
    source = tiny(tmp_path, "deepseek2", n_layer=3)
    edited = rewrite(source, tmp_path / "edited.gguf", remove=["deepseek2.expert_count"])
    assert "expert_used_count" in refusal(edited)  # routes to 2 of 0 experts
    edited = rewrite(
        source,
        tmp_path / "edited2.gguf",
        remove=["deepseek2.expert_count", "deepseek2.expert_used_count"],
    )
    assert "expert weights (blk.1.ffn_gate_exps.weight) but no expert_count" in refusal(edited)


def test_missing_sizes_and_architecture(tmp_path: Path) -> None:
    source = tiny(tmp_path, "qwen2")
    no_ctx = rewrite(source, tmp_path / "a.gguf", remove=["qwen2.context_length"])
    assert "does not say its context length" in refusal(no_ctx)
    no_arch = write_tiny_model(tmp_path / "b.gguf", omit_keys=["general.architecture"])
    assert "general.architecture is missing" in refusal(no_arch)
    projector = rewrite(source, tmp_path / "mmproj.gguf", arch="clip")
    assert "vision projector" in refusal(projector, frozenset({"clip", "qwen2"}))


def test_every_chat_template_must_compile(tmp_path: Path) -> None:
    source = tiny(tmp_path, "llama", chat_template=R1_CHAT_TEMPLATE)
    extra = {"tokenizer.chat_template.tool_use": (GGUFValueType.STRING, "{{ unclosed ")}
    edited = rewrite(source, tmp_path / "edited.gguf", add=extra)
    assert "chat template 'tool_use' is broken" in refusal(edited)
    # Hugging Face's {% generation %} tag compiles in llama-cpp-python, so it does here
    assert template_error("{% generation %}{{ m }}{% endgeneration %}") is None
    assert template_error("{% for m in messages %}{% break %}{% endfor %}") is None
    assert "line 2" in (template_error("ok\n{% if x %}") or "")


def test_the_architecture_check_needs_the_builds_list(tmp_path: Path) -> None:
    path, _ = broken_model(tmp_path, "unknown-architecture")
    check_model(read_model(path), architectures=None)  # unknown: left to llama.cpp's refusal
    assert "'xlama'" in refusal(path, KNOWN)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_models_llama_cpp_loads_pass(tmp_path: Path, arch: str) -> None:
    kinds = [
        write_tiny_model(tmp_path / f"{arch}.gguf", arch=arch, chat_template=R1_CHAT_TEMPLATE),
        write_tiny_model(tmp_path / f"{arch}-gqa.gguf", arch=arch, n_head=4, n_head_kv=2),
        write_tiny_model(tmp_path / f"{arch}-tied.gguf", arch=arch, tied_embeddings=True),
    ]
    if arch == "llama":
        kinds.append(write_tiny_model(tmp_path / "moe.gguf", n_expert=4, n_expert_used=2))
    for path in kinds:
        check_model(read_model(path), architectures=KNOWN)


def test_split_models_pass_whole_and_from_their_first_part(tmp_path: Path) -> None:
    parts = write_split(
        tmp_path, "tiny-r1", 3, arch="deepseek2", n_layer=6, n_expert=8, n_expert_used=2
    )
    check_model(read_model(parts[2]), architectures=KNOWN)  # any part finds the others
    first = read_gguf_info(parts[0])
    assert len({t.name.split(".")[1] for t in first.tensors if t.name.startswith("blk.")}) < 6
    check_model(first, architectures=KNOWN)  # a header read from the Hub: the layers it holds
    with pytest.raises(ModelFileError, match="not the first part"):
        check_model(read_gguf_info(parts[1]), architectures=KNOWN)
    broken = set_value(parts[0], tmp_path / "first-part.gguf", "deepseek2.block_count", 2)
    with pytest.raises(ModelFileError, match="block_count says 2"):
        check_model(read_gguf_info(broken), architectures=KNOWN)


def test_the_catalogs_real_shapes_pass(tmp_path: Path) -> None:
    for entry in CATALOG:
        check_model(gguf_info(*entry), architectures=KNOWN)
    for entry in (("qwen3-8b", "Q4_K_M"), ("r1-671b", "UD-IQ1_S"), ("llama-8b", "Q4_K_M")):
        path = write_header_only(tmp_path / f"{entry[0]}.gguf", *entry)
        check_model(read_model(path), architectures=KNOWN)


def test_the_real_small_model_passes(smollm2: Path) -> None:
    check_model(read_model(smollm2), architectures=KNOWN)
