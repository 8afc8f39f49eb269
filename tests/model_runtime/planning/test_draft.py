"""The draft model in the plan: its memory counted, on the GPU only beside a whole model, left
out when it does not fit; which files can draft (the same vocabulary), and the catalog's pairs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gguf
import pytest

from model_runtime.errors import ModelFileError, PonderError
from model_runtime.gguf.reader import GgufInfo, read_gguf_info
from model_runtime.gguf.vocabulary import draft_problem
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.hardware.gpus import GpuInfo
from model_runtime.llama.build import LlamaBuild
from model_runtime.models.catalog import find_model, load_catalog, natural_draft
from model_runtime.planning.draft import draft_estimate, speculation_for
from model_runtime.planning.pinned import pin_overrides, pinned_overrides
from model_runtime.planning.plan import DraftFile, PlanOverrides
from model_runtime.planning.planner import plan, plan_load
from tests.gguf_factory import write_tiny_model
from tests.model_shapes import SHAPES

GIB = 1024**3
CUDA = LlamaBuild(gpu_offload=True, system_info="CUDA : ARCHS = 890 | CPU : AVX2 = 1 |")
CPU = CpuInfo("Ryzen", 8, 16, avx2=True, avx512=False)


def box(free_ram: float, gpu_gib: float = 0) -> HardwareInfo:
    gpus = (
        (GpuInfo(0, "nvidia", "RTX", int(gpu_gib * GIB), int(gpu_gib * GIB), usable=True),)
        if gpu_gib
        else ()
    )
    return HardwareInfo(CPU, 64 * GIB, int(free_ram * GIB), gpus, CUDA if gpus else None)


@pytest.fixture(scope="module")
def profiles():
    from model_runtime.gguf.profile import profile_from_gguf
    from tests.model_shapes import gguf_info

    return {key: profile_from_gguf(gguf_info(key, "Q4_K_M")) for key in ("qwen-1.5b", "qwen-32b")}


def with_draft(profiles, hardware: HardwareInfo, **overrides):
    draft = DraftFile("/models/qwen-1.5b.gguf", profiles["qwen-1.5b"], natural=True)
    choice = PlanOverrides(draft=draft.path, **overrides)
    alone = plan(profiles["qwen-32b"], hardware, PlanOverrides(**overrides))
    return alone, plan(profiles["qwen-32b"], hardware, choice, draft_candidates=[draft])


def test_a_draft_in_system_memory_is_counted(profiles) -> None:
    alone, both = with_draft(profiles, box(free_ram=40), n_ctx=8192)
    assert both.speculation.mode == "model" and both.speculation.draft_n_gpu_layers == 0
    assert both.to_load_request().speculation == both.speculation
    estimate = both.draft_estimate
    assert estimate is not None and estimate.device_total == 0
    weights = SHAPES["qwen-1.5b"]  # about a gigabyte at Q4_K_M, plus its KV cache
    assert 0.9 * GIB < estimate.host_total < 2 * GIB, weights
    assert both.verdict.host_needed == alone.verdict.host_needed + estimate.host_total
    assert any(n.startswith("Draft model qwen-1.5b.gguf:") for n in both.notes)


def test_a_draft_goes_on_the_gpu_only_beside_the_whole_model(profiles) -> None:
    _, roomy = with_draft(profiles, box(free_ram=40, gpu_gib=48), n_ctx=8192)
    assert roomy.profile is not None and roomy.n_gpu_layers > roomy.profile.n_layer
    assert roomy.speculation.draft_n_gpu_layers == SHAPES["qwen-1.5b"].n_layer + 1
    assert roomy.draft_estimate is not None and roomy.draft_estimate.device_total > 0
    # a 16 GB card holds the 32B model with some layers off it: the draft stays in RAM
    alone, tight = with_draft(profiles, box(free_ram=40, gpu_gib=16), n_ctx=8192)
    assert tight.profile is not None and tight.n_gpu_layers <= tight.profile.n_layer
    assert tight.speculation.draft_n_gpu_layers == 0
    assert tight.n_gpu_layers == alone.n_gpu_layers  # no layer of the model gave way
    # a card that holds the whole model and little more: the draft stays in RAM too
    whole = plan(profiles["qwen-32b"], box(40, gpu_gib=48), PlanOverrides(n_ctx=8192))
    card = (whole.verdict.device_needed + 0.2 * GIB) / 0.97 / GIB  # the planner keeps 3 %
    _, full = with_draft(profiles, box(free_ram=40, gpu_gib=card), n_ctx=8192)
    assert full.n_gpu_layers == whole.n_gpu_layers
    assert full.speculation.draft_n_gpu_layers == 0


def test_a_draft_that_does_not_fit_beside_the_model_is_left_out(profiles) -> None:
    roomy = box(free_ram=40)
    alone = plan(profiles["qwen-32b"], roomy, PlanOverrides(n_ctx=4096))
    margin = roomy.ram_available - alone.verdict.host_available  # kept for other programs
    free = alone.verdict.host_needed + margin + int(0.3 * GIB)  # the model fits, no more
    _, both = with_draft(profiles, dataclasses.replace(roomy, ram_available=free), n_ctx=4096)
    assert both.verdict.ok
    assert both.speculation.mode == "lookup" and both.draft_estimate is None
    assert any("does not fit beside the model; prompt lookup" in n for n in both.notes)


def test_drafting_choices_without_a_file() -> None:
    assert speculation_for(None).mode == "lookup"
    assert speculation_for("lookup").mode == "lookup"
    assert speculation_for("off").mode == "off"
    with pytest.raises(PonderError, match="not a drafting choice"):
        speculation_for("sometimes")


def test_a_draft_must_be_read_before_it_is_planned(profiles) -> None:
    with pytest.raises(ValueError, match="can't draft for this model"):
        plan(profiles["qwen-32b"], box(40), PlanOverrides(draft="/elsewhere/unknown.gguf"))


def test_the_draft_estimate_counts_the_engine_process_once(profiles) -> None:
    base = plan(profiles["qwen-32b"], box(40), PlanOverrides(n_ctx=8192))
    assert draft_estimate(base, profiles["qwen-1.5b"], on_gpu=False).overhead_host == 0


# -- which files can draft --------------------------------------------------------------------


def tiny(path: Path, name: str, n_vocab: int = 400, **model) -> Path:
    return write_tiny_model(path, name=name, tokenizer="gpt2", n_vocab=n_vocab, **model)


def vocabulary_file(path: Path, tokens: list[str], tokenizer: str = "gpt2") -> GgufInfo:
    """A GGUF with a tokenizer and nothing else: all a vocabulary check reads."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model(tokenizer)
    writer.add_token_list(tokens)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return read_gguf_info(path)


TOKENS = [f"tok{i}" for i in range(300)]


def test_the_same_tokens_up_to_padding_can_draft(tmp_path: Path) -> None:
    """As the R1 Qwen distills: 151,936 tokens in the 1.5B's file and 152,064 in the 7B's
    and up, the same up to the [PAD…] fillers the converter adds."""
    small = vocabulary_file(tmp_path / "small.gguf", TOKENS)
    padded = [*TOKENS, *(f"[PAD{i}]" for i in range(300, 400))]
    assert draft_problem(vocabulary_file(tmp_path / "padded.gguf", padded), small) is None
    assert draft_problem(small, vocabulary_file(tmp_path / "padded.gguf", padded)) is None
    too_many = [*TOKENS, *(f"[PAD{i}]" for i in range(300, 500))]
    problem = draft_problem(vocabulary_file(tmp_path / "more.gguf", too_many), small)
    assert problem is not None and "vocabularies differ (300 tokens (gpt2) against 500" in problem
    changed = [*TOKENS[:150], "other", *TOKENS[151:]]
    problem = draft_problem(vocabulary_file(tmp_path / "changed.gguf", changed), small)
    assert problem is not None and "their 300 tokens are not the same ones" in problem
    llama = vocabulary_file(tmp_path / "llama.gguf", TOKENS, tokenizer="llama")
    assert "vocabularies differ" in (draft_problem(llama, small) or "")
    short = vocabulary_file(tmp_path / "short.gguf", TOKENS[:40])  # kept decoded by the reader
    assert draft_problem(short, vocabulary_file(tmp_path / "short2.gguf", TOKENS[:40])) is None
    assert "not the same" in (
        draft_problem(short, vocabulary_file(tmp_path / "s3.gguf", TOKENS[1:41])) or ""
    )


def test_plan_load_reads_the_candidates_that_can_draft(smollm2: Path, tmp_path: Path) -> None:
    model = tiny(
        tmp_path / "DeepSeek-R1-Distill-Qwen-32B-Q4_K_M.gguf",
        "DeepSeek R1 Distill Qwen 32B",
        n_embd=256,
    )
    natural = tiny(
        tmp_path / "DeepSeek-R1-Distill-Qwen-1.5B-Q8_0.gguf", "DeepSeek R1 Distill Qwen 1.5B"
    )
    plain = tiny(tmp_path / "a-small-model.gguf", "A small model")
    bigger = tiny(tmp_path / "bigger.gguf", "Bigger", n_embd=512)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF not really")
    paths = [str(p) for p in (plain, smollm2, bigger, broken, natural, model)]
    planned = plan_load(model, box(40), candidates=paths)
    found = [(Path(c.path).name, c.natural) for c in planned.draft_candidates]
    assert found == [(natural.name, True), (plain.name, False)]  # the catalog's pair first
    chosen = plan_load(model, box(40), PlanOverrides(draft=str(plain)), candidates=paths)
    assert chosen.speculation.draft_path == str(plain)
    with pytest.raises(ModelFileError, match="can't draft for"):
        plan_load(model, box(40), PlanOverrides(draft=str(smollm2)))


def test_the_catalog_names_the_natural_pairs() -> None:
    pairs = {m.id: m.draft for m in load_catalog() if m.draft}
    assert pairs == {
        "r1-distill-qwen-7b": "r1-distill-qwen-1.5b",
        "r1-distill-qwen-14b": "r1-distill-qwen-1.5b",
        "r1-distill-qwen-32b": "r1-distill-qwen-1.5b",
        "r1-distill-llama-70b": "r1-distill-llama-8b",
    }
    for model_id, draft_id in pairs.items():
        model, draft = find_model(model_id), find_model(draft_id)
        assert model is not None and draft is not None
        assert natural_draft(model) == draft
        assert draft.architecture == model.architecture  # one family, one tokenizer


def test_a_pinned_draft_is_forgotten_when_its_file_is_gone(tmp_path: Path) -> None:
    draft = tiny(tmp_path / "draft.gguf", "Draft")
    pin_overrides(tmp_path / "model.gguf", PlanOverrides(n_ctx=2048, draft=str(draft)))
    assert pinned_overrides(tmp_path / "model.gguf") == PlanOverrides(n_ctx=2048, draft=str(draft))
    draft.unlink()
    assert pinned_overrides(tmp_path / "model.gguf") == PlanOverrides(n_ctx=2048)
    pin_overrides(tmp_path / "model.gguf", PlanOverrides(draft="off"))
    assert pinned_overrides(tmp_path / "model.gguf") == PlanOverrides(draft="off")
