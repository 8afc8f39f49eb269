"""The first run's model advice: the largest dense R1 model that runs well on a machine."""

from __future__ import annotations

from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.hardware.gpus import GpuInfo
from model_runtime.models.catalog import load_catalog
from model_runtime.planning.recommend import approx_size, parameter_count, recommend

GIB = 1024**3


def machine(cores: int, ram_gib: float, gpus: tuple[GpuInfo, ...] = ()) -> HardwareInfo:
    ram = int(ram_gib * GIB)
    return HardwareInfo(CpuInfo("Simulated", cores, cores), ram, ram // 2, gpus=gpus)


def gpu(vram_gib: float, *, unified: bool = False, usable: bool = True) -> GpuInfo:
    vram = int(vram_gib * GIB)
    return GpuInfo(0, "nvidia", "Simulated GPU", vram, vram, unified=unified, usable=usable)


def test_parameter_counts_and_sizes_come_from_the_catalog() -> None:
    by_id = {m.id: m for m in load_catalog()}
    assert parameter_count(by_id["r1-distill-qwen-7b"]) == 7e9
    assert parameter_count(by_id["r1"]) == 671e9  # "671B (37B active)"
    assert 4.0e9 < approx_size(by_id["r1-distill-qwen-7b"], "Q4_K_M") < 4.5e9


def test_two_cores_get_the_smallest_model_however_much_memory() -> None:
    rec = recommend(machine(2, 24))
    assert rec is not None and rec.model.id == "r1-distill-qwen-1.5b" and rec.quant == "Q8_0"
    assert "2 CPU cores" in rec.reason


def test_a_cpu_machine_gets_at_most_8b_and_the_newest_of_equal_size() -> None:
    rec = recommend(machine(8, 64))
    assert rec is not None and rec.model.id == "r1-0528-qwen3-8b" and rec.quant == "Q4_K_M"


def test_little_memory_takes_a_smaller_quantization_or_nothing() -> None:
    rec = recommend(machine(8, 4))
    assert rec is not None and rec.model.id == "r1-distill-qwen-1.5b" and rec.quant != "Q8_0"
    assert recommend(machine(8, 1)) is None


def test_a_gpu_is_judged_by_its_memory() -> None:
    rec = recommend(machine(8, 32, (gpu(12),)))
    assert rec is not None and rec.model.id == "r1-distill-qwen-14b" and rec.quant == "Q4_K_M"
    assert "12 GiB of GPU memory" in rec.reason
    rec = recommend(machine(8, 32, (gpu(24),)))  # 32B squeezes in at a lower quantization
    assert rec is not None and rec.model.id == "r1-distill-qwen-32b" and rec.quant == "Q3_K_M"
    rec = recommend(machine(8, 128, (gpu(40),)))
    assert rec is not None and rec.model.id == "r1-distill-qwen-32b" and rec.quant == "Q4_K_M"
    rec = recommend(machine(16, 64, (gpu(64, unified=True),)))  # Apple Silicon
    assert rec is not None and rec.model.id == "r1-distill-qwen-32b"


def test_an_unusable_gpu_counts_for_nothing_and_moe_models_are_never_advised() -> None:
    rec = recommend(machine(8, 512, (gpu(80, usable=False),)))
    assert rec is not None and rec.model.id == "r1-0528-qwen3-8b"
    assert all(not m.is_moe for m in load_catalog() if rec.model.id == m.id)
