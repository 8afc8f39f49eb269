"""The planner on simulated machines × the catalog's models, built from real GGUF shapes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from model_runtime.chat.generation import LoadRequest, ModelSummary
from model_runtime.cli import main as cli
from model_runtime.errors import EngineCrashed, InsufficientMemory, ModelFileError
from model_runtime.gguf.profile import profile_from_gguf, read_model
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.hardware.gpus import GpuInfo
from model_runtime.llama.build import LlamaBuild
from model_runtime.llama.tensor_overrides import ALL_EXPERTS
from model_runtime.planning.guarded_load import check_plan, load_planned, plan_changes, safer_plan
from model_runtime.planning.plan import Fit, LoadPlan, PlanOverrides
from model_runtime.planning.planner import plan, plan_load
from tests.broken_models import BROKEN, broken_model
from tests.gguf_factory import write_split, write_tiny_model
from tests.model_shapes import CATALOG, SHAPES, gguf_info, write_header_only

GIB = 1024**3
CUDA = LlamaBuild(gpu_offload=True, system_info="CUDA : ARCHS = 890 | CPU : AVX2 = 1 |")
METAL = LlamaBuild(gpu_offload=True, system_info="Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 |")
CPU_BUILD = LlamaBuild(gpu_offload=False, system_info="CPU : AVX2 = 1 |")


def nvidia(index: int, gib: int, name: str) -> GpuInfo:
    # a desktop's display and driver hold a few percent of the card
    return GpuInfo(index, "nvidia", name, gib * GIB, int(gib * GIB * 0.96), usable=True)


def cpu(name: str, cores: int) -> CpuInfo:
    return CpuInfo(name, cores, 2 * cores, avx2=True, avx512=False)


def nvidia_box(ram: int, free_ram: int, *gpus: GpuInfo, cores: int = 8) -> HardwareInfo:
    return HardwareInfo(cpu("Ryzen", cores), ram * GIB, free_ram * GIB, gpus, CUDA)


M2_MAX_GPU = GpuInfo(0, "apple", "Apple M2 Max GPU", 48 * GIB, 48 * GIB, unified=True, usable=True)
MACHINES = {
    "laptop-8g": HardwareInfo(cpu("Core i5", 4), 8 * GIB, int(5.5 * GIB), (), CPU_BUILD),
    "16g+3060": nvidia_box(16, 12, nvidia(0, 12, "RTX 3060")),
    "32g+4090": nvidia_box(32, 26, nvidia(0, 24, "RTX 4090")),
    "m2max-64g": HardwareInfo(
        CpuInfo("Apple M2 Max", 12, 12, avx2=False, avx512=False),
        64 * GIB,
        52 * GIB,
        (M2_MAX_GPU,),
        METAL,
    ),
    "24g+8g": nvidia_box(24, 20, nvidia(0, 8, "RTX 4060")),
    "512g+2x80": nvidia_box(512, 480, nvidia(0, 80, "H100"), nvidia(1, 80, "H100"), cores=64),
}

# One letter per CATALOG entry: F fits, O fits with offload, N does not fit.
EXPECTED = {
    "laptop-8g": "FNNNNNNNN",
    "16g+3060": "FFFOFNFNN",
    "32g+4090": "FFFFFOFNN",
    "m2max-64g": "FFFFFFFNN",
    "24g+8g": "FFOOFNFNN",
    "512g+2x80": "FFFFFFFFO",
}
LETTERS = {"F": Fit.FITS, "O": Fit.FITS_WITH_OFFLOAD, "N": Fit.DOES_NOT_FIT}

PROFILES = {entry: profile_from_gguf(gguf_info(*entry)) for entry in CATALOG}


def case_id(machine: str, entry: tuple[str, str]) -> str:
    return f"{machine}-{entry[0]}-{entry[1]}"


CASES = [(m, entry, LETTERS[EXPECTED[m][i]]) for m in MACHINES for i, entry in enumerate(CATALOG)]


@pytest.mark.parametrize(
    ("machine", "entry", "expected"), CASES, ids=[case_id(m, e) for m, e, _ in CASES]
)
def test_plan_verdict_and_memory(machine: str, entry: tuple[str, str], expected: Fit) -> None:
    hw = MACHINES[machine]
    profile = PROFILES[entry]
    p = plan(profile, hw, model_path=f"/models/{entry[0]}.gguf")
    v, e = p.verdict, p.estimate
    assert v.fit is expected, v.reason
    gpu_total = sum(g.memory_total for g in hw.gpus)
    assert e.device_total <= gpu_total or not v.ok
    if v.ok:
        # inside memory: what it needs is within what the machine has free
        assert v.host_needed <= v.host_available <= hw.ram_available
        assert v.device_needed <= v.device_available
        assert p.n_ctx <= v.max_ctx <= profile.n_ctx_train
        assert p.n_ctx >= 2048
    else:
        assert v.suggestions
        assert "Needs about" in v.reason
    if not hw.usable_gpus:
        assert p.n_gpu_layers == 0 and e.device_total == 0
    if expected is Fit.FITS and hw.usable_gpus:
        assert p.n_gpu_layers == profile.n_layer + 1 and not p.tensor_overrides
    if expected is Fit.FITS_WITH_OFFLOAD:
        assert e.weights_host > 0 and e.weights_device > 0
    # the plan's own estimate accounts for every weight byte exactly once
    tied_copy = (
        profile.input_bytes if profile.tied_output and p.n_gpu_layers > profile.n_layer else 0
    )
    assert e.weights_host + e.weights_device == profile.weights_bytes + tied_copy


def test_r1_on_a_small_desktop_does_not_fit_and_says_what_would() -> None:
    p = plan(PROFILES[("r1-671b", "UD-IQ1_S")], MACHINES["24g+8g"])
    assert p.verdict.fit is Fit.DOES_NOT_FIT
    assert p.verdict.max_ctx == 0
    assert "choose a smaller model" in p.verdict.suggestions[-1]
    with pytest.raises(InsufficientMemory, match="Needs about 13"):
        check_plan(p)


def test_r1_q4_on_two_big_gpus_keeps_only_early_experts_in_ram() -> None:
    profile = PROFILES[("r1-671b", "Q4_K_M")]
    p = plan(profile, MACHINES["512g+2x80"])
    assert p.verdict.fit is Fit.FITS_WITH_OFFLOAD
    assert p.n_gpu_layers == profile.n_layer + 1  # attention and shared experts: all on GPU
    assert 0 < p.cpu_expert_layers < profile.n_layer
    (pattern,) = p.tensor_overrides
    assert pattern.startswith(r"blk\.(0|1|2|") and pattern.endswith(r")\.ffn_(up|down|gate)_exps")
    assert "experts of" in p.verdict.reason


def test_r1_mla_kv_cache_is_small_and_old_ggufs_are_not() -> None:
    mla = PROFILES[("r1-671b", "UD-IQ1_S")]
    assert mla.mla and mla.n_head_kv == (1,) * 61 and mla.key_length == 576
    old = dataclasses.replace(SHAPES["r1-671b"], mla=False)  # converted before llama.cpp's MLA
    old_profile = profile_from_gguf(gguf_info(old, "UD-IQ1_S"))
    assert not old_profile.mla and old_profile.n_head_kv == (128,) * 61
    hw = MACHINES["512g+2x80"]
    small = plan(mla, hw, PlanOverrides(n_ctx=32768)).estimate.kv_bytes
    big = plan(old_profile, hw, PlanOverrides(n_ctx=32768)).estimate.kv_bytes
    assert small == 32768 * 61 * 576 * 2  # the latent only, no V
    assert big == 32768 * 61 * 128 * (192 + 128) * 2
    assert big > 60 * small


def test_laptop_gets_a_shorter_context_suggested_for_7b() -> None:
    p = plan(PROFILES[("qwen-7b", "Q4_K_M")], MACHINES["laptop-8g"])
    assert p.verdict.fit is Fit.DOES_NOT_FIT
    assert any("smaller quantization" in s for s in p.verdict.suggestions)
    shorter = plan(
        PROFILES[("qwen-7b", "Q4_K_M")], MACHINES["laptop-8g"], PlanOverrides(n_ctx=1024)
    )
    assert shorter.verdict.fit is Fit.FITS


def test_the_context_is_lowered_automatically_when_only_a_shorter_one_fits() -> None:
    hw = dataclasses.replace(MACHINES["laptop-8g"], ram_available=int(5.75 * GIB))
    p = plan(PROFILES[("qwen-7b", "Q4_K_M")], hw)
    assert p.verdict.fit is Fit.FITS
    assert 2048 <= p.n_ctx < 8192
    assert any("Context lowered" in n for n in p.notes)


def test_overrides_are_obeyed_and_force_marks_the_plan() -> None:
    profile = PROFILES[("qwen-32b", "Q4_K_M")]
    hw = MACHINES["16g+3060"]
    p = plan(profile, hw, PlanOverrides(n_ctx=4096, n_gpu_layers=30, type_k="q8_0", type_v="q8_0"))
    assert (p.n_ctx, p.n_gpu_layers, p.type_k, p.flash_attn) == (4096, 30, "q8_0", True)
    assert p.verdict.fit is Fit.FITS_WITH_OFFLOAD
    few = plan(profile, hw, PlanOverrides(n_gpu_layers=10)).verdict
    assert few.fit is Fit.DOES_NOT_FIT and "of system memory" in few.reason
    assert any("automatic placement fits" in s for s in few.suggestions)
    cpu_only = plan(profile, hw, PlanOverrides(use_gpu=False))
    assert cpu_only.n_gpu_layers == 0 and cpu_only.verdict.fit is Fit.DOES_NOT_FIT
    forced = plan(profile, hw, PlanOverrides(use_gpu=False, force=True))
    assert forced.forced and any("does not fit" in n for n in forced.notes)
    check_plan(forced)  # a forced plan is let through
    with pytest.raises(ValueError, match="flash attention"):
        plan(profile, hw, PlanOverrides(type_v="q8_0", flash_attn=False))


def test_plan_turns_into_the_engines_load_request() -> None:
    p = plan(PROFILES[("r1-671b", "Q4_K_M")], MACHINES["512g+2x80"], model_path="/m/r1.gguf")
    request = p.to_load_request()
    assert request == LoadRequest(
        model_path="/m/r1.gguf",
        n_ctx=p.n_ctx,
        n_threads=64,
        n_threads_batch=64,
        n_gpu_layers=62,
        n_batch=512,
        flash_attn=True,
        type_k="f16",
        type_v="f16",
        use_mmap=True,
        use_mlock=False,
        tensor_overrides=p.tensor_overrides,
        max_sequences=p.max_sequences,
        sequence_ctx=8192,
        state_cache_ram=request.state_cache_ram,
    )
    # the KV state cache may keep half of what the plan leaves spare, at most a quarter of RAM
    spare = p.verdict.host_available - p.verdict.host_needed
    assert request.state_cache_ram == min(spare // 2, 128 * GIB)


def test_the_state_cache_never_takes_what_the_plan_needs() -> None:
    """A tight plan leaves the KV state cache no memory; a roomy one gives it a share."""
    tight = plan(PROFILES[("qwen-7b", "Q4_K_M")], MACHINES["laptop-8g"])
    assert tight.verdict.host_needed >= tight.verdict.host_available * 0.6
    roomy = plan(PROFILES[("qwen-1.5b", "Q4_K_M")], MACHINES["512g+2x80"])
    for p in (tight, roomy):
        spare = max(0, p.verdict.host_available - p.verdict.host_needed)
        budget = p.to_load_request().state_cache_ram
        assert budget is not None and 0 <= budget <= spare // 2 + 1
    assert roomy.to_load_request().state_cache_ram == 128 * GIB  # a quarter of 512 GiB
    overfull = plan(PROFILES[("llama-70b", "Q4_K_M")], MACHINES["laptop-8g"])
    assert overfull.to_load_request().state_cache_ram == 0


def rpc_worker(index: int, endpoint: str, gib: int) -> GpuInfo:
    """An RPC worker's device as llama.cpp lists it: memory of the machine behind it."""
    return GpuInfo(
        index, "other", f"RPC worker {endpoint}", gib * GIB, int(gib * GIB * 0.9),
        usable=True, source="rpc", endpoint=endpoint,
    )  # fmt: skip


def test_rpc_workers_memory_counts_like_gpus_and_their_endpoints_reach_the_engine() -> None:
    profile = PROFILES[("r1-671b", "UD-IQ1_S")]
    alone = HardwareInfo(cpu("Ryzen", 16), 128 * GIB, 110 * GIB, (), CPU_BUILD)
    assert plan(profile, alone).verdict.fit is Fit.DOES_NOT_FIT  # 131 GB of weights
    workers = (rpc_worker(0, "10.0.0.5:50052", 128), rpc_worker(1, "10.0.0.6:50052", 128))
    pooled = dataclasses.replace(alone, gpus=workers)
    assert pooled.rpc_workers == ("10.0.0.5:50052", "10.0.0.6:50052")
    p = plan(profile, pooled, model_path="/m/r1.gguf")
    assert p.verdict.ok, p.verdict.reason
    assert p.n_gpu_layers > 0 and p.estimate.weights_device > 0
    assert p.verdict.device_available > 200 * GIB  # both workers' memory, less margins
    assert "RPC worker 10.0.0.5:50052 + RPC worker 10.0.0.6:50052" in p.verdict.reason
    request = p.to_load_request()
    assert request.rpc_workers == ("10.0.0.5:50052", "10.0.0.6:50052")
    assert request.n_gpu_layers == p.n_gpu_layers
    cpu_only = plan(profile, pooled, PlanOverrides(use_gpu=False))
    assert cpu_only.rpc_workers == () and cpu_only.to_load_request().rpc_workers == ()


def test_a_safer_plan_moves_weights_off_the_gpu() -> None:
    dense = plan(PROFILES[("qwen-32b", "Q4_K_M")], MACHINES["16g+3060"])
    safer = safer_plan(dense)
    assert safer is not None and safer.n_gpu_layers == dense.n_gpu_layers * 3 // 4
    assert plan_changes(dense, safer) == (
        f"GPU layers {dense.n_gpu_layers} → {safer.n_gpu_layers}",
    )
    moe = plan(PROFILES[("r1-671b", "Q4_K_M")], MACHINES["512g+2x80"])
    safer_moe = safer_plan(moe)
    assert safer_moe is not None and safer_moe.cpu_expert_layers > moe.cpu_expert_layers
    cpu = plan(PROFILES[("qwen-1.5b", "Q4_K_M")], MACHINES["laptop-8g"])
    safer_cpu = safer_plan(cpu)
    assert safer_cpu is not None and safer_cpu.n_ctx == cpu.n_ctx // 2


class FakeLoader:
    """A scripted engine client: fails the first load as told, then succeeds."""

    def __init__(self, first_error: Exception | None) -> None:
        self.first_error = first_error
        self.requests: list[LoadRequest] = []

    def load(self, request: LoadRequest) -> ModelSummary:
        self.requests.append(request)
        if self.first_error is not None and len(self.requests) == 1:
            raise self.first_error
        return ModelSummary(
            request.model_path, "m", "qwen2", "Q4_K_M", 1, request.n_ctx, 1, 1, True, True, 0.1
        )


def test_load_planned_retries_once_with_a_safer_plan() -> None:
    p = plan(PROFILES[("qwen-32b", "Q4_K_M")], MACHINES["16g+3060"])
    loader = FakeLoader(EngineCrashed("killed by SIGKILL", exitcode=-9))
    loaded = load_planned(loader, p)
    assert loaded.retried and "SIGKILL" in loaded.first_error
    assert loaded.changes == (f"GPU layers {p.n_gpu_layers} → {loaded.plan.n_gpu_layers}",)
    assert [r.n_gpu_layers for r in loader.requests] == [p.n_gpu_layers, loaded.plan.n_gpu_layers]

    fine = FakeLoader(None)
    assert not load_planned(fine, p).retried and len(fine.requests) == 1


def test_load_planned_refuses_what_does_not_fit() -> None:
    p = plan(PROFILES[("llama-70b", "Q4_K_M")], MACHINES["laptop-8g"])
    loader = FakeLoader(None)
    with pytest.raises(InsufficientMemory, match="choose a smaller model"):
        load_planned(loader, p)
    assert loader.requests == []


# -- real files --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def headers(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    folder = tmp_path_factory.mktemp("headers")
    entries = [("qwen3-8b", "Q4_K_M"), ("r1-671b", "UD-IQ1_S")]
    return {e: write_header_only(folder / f"{e[0]}-{e[1]}.gguf", *e) for e in entries}


def test_header_only_files_read_like_the_real_model(headers: dict) -> None:
    for entry, path in headers.items():
        from_file = profile_from_gguf(read_model(path))
        assert from_file.file_size == path.stat().st_size
        assert path.stat().st_blocks * 512 < 64 * 1024 * 1024  # sparse: no tensor data on disk
        expected = PROFILES[entry]
        assert dataclasses.replace(from_file, file_size=0) == dataclasses.replace(
            expected, file_size=0
        )


def test_plan_load_reads_the_file_and_the_cli_prints_the_plan(
    headers: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    path = headers[("r1-671b", "UD-IQ1_S")]
    p = plan_load(path, MACHINES["512g+2x80"])
    assert p.model_path == str(path) and p.verdict.fit is Fit.FITS
    assert cli.main(["plan", str(path), "--ctx", "4096", "--cpu-only"]) == 1  # not on this box
    out = capsys.readouterr().out
    assert "Verdict: does not fit" in out and "DeepSeek-R1 (deepseek2, IQ1_S" in out
    assert "context 4,096" in out and "weights" in out and "available" in out


def test_a_remote_header_plans_like_the_whole_split_model(tmp_path: Path) -> None:
    parts = write_split(tmp_path, "tiny-r1", 2, arch="deepseek2", n_layer=6, n_expert=8)
    infos = read_model(parts[1])  # any part finds the others
    whole = profile_from_gguf(infos)
    total = sum(p.stat().st_size for p in parts)
    first_only = profile_from_gguf(infos[0], total_size=total)
    assert whole.is_moe and first_only.is_moe
    assert first_only.n_layer == whole.n_layer and first_only.mla == whole.mla
    assert abs(first_only.weights_bytes - whole.weights_bytes) < 0.05 * whole.weights_bytes
    assert abs(sum(first_only.expert_bytes) - sum(whole.expert_bytes)) < 0.15 * sum(
        whole.expert_bytes
    )


def test_plan_load_on_this_machine(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "tiny.gguf", arch="qwen2")
    p = plan_load(path)
    assert p.verdict.fit is Fit.FITS and p.n_ctx == 2048  # the tiny model's trained context
    assert p.hardware is not None and p.hardware.build is not None
    assert isinstance(p, LoadPlan) and p.tensor_overrides == ()
    assert ALL_EXPERTS not in p.tensor_overrides


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_model_does_not_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path, reason = broken_model(tmp_path, name)
    with pytest.raises(ModelFileError, match=re.escape(reason)):
        plan_load(path, MACHINES["512g+2x80"])
    assert cli.main(["plan", str(path), "--cpu-only"]) == 1
    captured = capsys.readouterr()
    assert reason in captured.err and path.name in captured.err and "Verdict" not in captured.out
