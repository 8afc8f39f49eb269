"""Hardware detection: the parsers on real-shaped outputs, the GPU probes, and this machine."""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import pytest

from model_runtime.cli import main as cli
from model_runtime.hardware.detect import (
    CpuInfo,
    HardwareInfo,
    apply_build,
    describe_hardware,
    detect_hardware,
    parse_cpuinfo,
)
from model_runtime.hardware.gpus import (
    GpuInfo,
    amd_gpus,
    apple_working_set,
    nvidia_gpus,
    nvidia_nvml,
    parse_nvidia_smi,
)
from model_runtime.llama.build import BackendDevice, LlamaBuild, parse_system_info

GIB = 1024**3
MIB = 1024**2

CPUINFO = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Core(TM) i7-9700K CPU @ 3.60GHz
flags\t\t: fpu vme de pse sse sse2 ssse3 fma avx avx2 bmi2
processor\t: 1
model name\t: Intel(R) Core(TM) i7-9700K CPU @ 3.60GHz
flags\t\t: fpu vme de pse sse sse2 ssse3 fma avx avx2 bmi2
"""

SYSTEM_INFO = (
    "CUDA : ARCHS = 500,610,700,750,800,860,890 | FORCE_MMQ = 0 | USE_GRAPHS = 1 | "
    "PEER_MAX_BATCH_SIZE = 128 | CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | "
    "FMA = 1 | AVX512 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)


def test_cpuinfo() -> None:
    assert parse_cpuinfo(CPUINFO) == ("Intel(R) Core(TM) i7-9700K CPU @ 3.60GHz", True, False)
    arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes sve\nModel\t: Raspberry Pi 5\n"
    assert parse_cpuinfo(arm) == ("Raspberry Pi 5", False, False)
    assert parse_cpuinfo("") == ("", None, None)


def test_llama_system_info_per_backend() -> None:
    info = parse_system_info(SYSTEM_INFO)
    assert info["CUDA"]["ARCHS"] == "500,610,700,750,800,860,890"
    assert info["CPU"]["AVX2"] == "1" and info["CPU"]["AVX512"] == "1"
    build = LlamaBuild(gpu_offload=True, system_info=SYSTEM_INFO, features=info)
    assert build.cpu_feature("AVX512") and not build.cpu_feature("AVX_VNNI")


def test_nvidia_smi_output() -> None:
    text = "0, NVIDIA GeForce RTX 4090, 24564, 23012, 550.54.14\n1, NVIDIA A100, [N/A], 1, 550\n"
    (gpu,) = parse_nvidia_smi(text)
    assert gpu.name == "NVIDIA GeForce RTX 4090" and gpu.vendor == "nvidia"
    assert (gpu.memory_total, gpu.memory_free) == (24564 * MIB, 23012 * MIB)
    assert gpu.driver == "550.54.14" and gpu.source == "nvidia-smi"


class FakeNvml(types.ModuleType):
    """A scripted stand-in for nvidia-ml-py's pynvml with one RTX 3060."""

    def __init__(self) -> None:
        super().__init__("pynvml")
        self.shut = False

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None:
        self.shut = True

    def nvmlSystemGetDriverVersion(self) -> str:
        return "550.54"

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return b"NVIDIA GeForce RTX 3060"

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(total=12 * GIB, free=11 * GIB, used=GIB)


def test_nvml_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    (gpu,) = nvidia_gpus()
    assert (gpu.name, gpu.memory_total, gpu.memory_free, gpu.source) == (
        "NVIDIA GeForce RTX 3060",
        12 * GIB,
        11 * GIB,
        "nvml",
    )
    assert fake.shut


def test_without_nvml_or_nvidia_smi_no_nvidia_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails: the extra is not installed
    monkeypatch.setenv("PATH", "")
    assert nvidia_nvml() is None
    assert nvidia_gpus() == []


def test_amd_sysfs(tmp_path: Path) -> None:
    def card(name: str, vendor: str, total: int, used: int, product: str = "") -> None:
        device = tmp_path / name / "device"
        device.mkdir(parents=True)
        (device / "vendor").write_text(vendor + "\n")
        (device / "mem_info_vram_total").write_text(f"{total}\n")
        (device / "mem_info_vram_used").write_text(f"{used}\n")
        (device / "device").write_text("0x744c\n")
        if product:
            (device / "product_name").write_text(product)

    card("card0", "0x8086", 0, 0)  # an Intel iGPU
    card("card1", "0x1002", 24 * GIB, 2 * GIB, "Radeon RX 7900 XTX")
    card("card2", "0x1002", 16 * GIB, 0)
    (tmp_path / "card1-DP-1").mkdir()
    gpus = amd_gpus(tmp_path)
    assert [(g.name, g.memory_total, g.memory_free) for g in gpus] == [
        ("Radeon RX 7900 XTX", 24 * GIB, 22 * GIB),
        ("AMD GPU 0x744c", 16 * GIB, 16 * GIB),
    ]
    assert amd_gpus(tmp_path / "missing") == []


def test_apple_working_set_limit() -> None:
    assert apple_working_set(64 * GIB) == 48 * GIB  # M2 Max 64 GB: three quarters
    assert apple_working_set(16 * GIB) == int(16 * GIB * 2 / 3)
    assert apple_working_set(64 * GIB, wired_limit_mb=58 * 1024) == 58 * GIB


def test_a_gpu_the_build_cannot_use_comes_with_a_rebuild_hint() -> None:
    gpus = [
        GpuInfo(0, "nvidia", "RTX 4090", 24 * GIB, 23 * GIB),
        GpuInfo(1, "amd", "RX 7900", 24 * GIB, 24 * GIB),
    ]
    cuda = BackendDevice("CUDA0", "NVIDIA GeForce RTX 4090", "gpu", "CUDA", 22 * GIB, 24 * GIB)
    vulkan = BackendDevice("Vulkan1", "Intel Arc A770", "gpu", "Vulkan", 15 * GIB, 16 * GIB)
    build = LlamaBuild(gpu_offload=True, system_info="", devices=(cuda, vulkan))
    nv, amd, arc = apply_build(gpus, build)
    assert nv.usable and nv.memory_free == 22 * GIB  # the build's own figure
    assert not amd.usable  # the Vulkan device is the Intel card, not this one
    assert (arc.vendor, arc.name, arc.usable, arc.source) == (
        "intel",
        "Intel Arc A770",
        True,
        "ggml",
    )
    cpu_only = apply_build(gpus, LlamaBuild(gpu_offload=False, system_info=""))
    assert not any(g.usable for g in cpu_only)
    assert 'CMAKE_ARGS="-DGGML_CUDA=on -DGGML_RPC=ON" pip install' in cpu_only[0].build_hint
    assert "-DGGML_HIP=on" in cpu_only[1].build_hint
    hw = HardwareInfo(CpuInfo("x", 8, 16, True, False), 32 * GIB, 30 * GIB, tuple(cpu_only))
    assert any("RTX 4090 cannot be used" in n and "GGML_CUDA" in n for n in hw.notes())


def test_a_build_for_a_missing_cpu_feature_is_flagged() -> None:
    build = LlamaBuild(True, SYSTEM_INFO, features=parse_system_info(SYSTEM_INFO))
    hw = HardwareInfo(CpuInfo("old", 4, 4, avx2=True, avx512=False), 8 * GIB, 6 * GIB, (), build)
    assert any("AVX-512" in n and "-DGGML_NATIVE=ON" in n for n in hw.notes())


def test_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    hw = detect_hardware()
    assert pickle.loads(pickle.dumps(hw)) == hw  # it may be detected in a helper process
    assert hw.cpu.logical_cores >= hw.cpu.physical_cores >= 1
    assert 0 < hw.ram_available <= hw.ram_total
    assert hw.build is not None and "CPU" in hw.build.features
    assert any(d.kind == "cpu" for d in hw.build.devices)  # ggml's registry read through ctypes
    if not hw.build.gpu_offload:
        assert hw.usable_gpus == ()
    lines = describe_hardware(hw)
    assert lines[0].startswith("CPU: ") and lines[1].startswith("Memory: ")
    assert cli.main(["hardware"]) == 0
    out = capsys.readouterr().out
    assert "llama.cpp build:" in out and "GiB available" in out
