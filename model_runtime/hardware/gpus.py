"""Find the machine's GPUs without llama.cpp: NVIDIA (NVML, nvidia-smi), Apple Silicon, AMD."""

from __future__ import annotations

import contextlib
import platform
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

Vendor = Literal["nvidia", "amd", "apple", "intel", "other"]
_MIB = 1024 * 1024

# The llama.cpp backend that serves each vendor best, and every backend that can serve it
# (as ggml's registry names them: a HIP build registers as "ROCm").
PREFERRED_BACKEND = {"nvidia": "CUDA", "amd": "HIP", "apple": "Metal", "intel": "Vulkan"}
COMPATIBLE_BACKENDS = {
    "nvidia": frozenset({"CUDA", "Vulkan"}),
    "amd": frozenset({"ROCm", "HIP", "Vulkan"}),
    "apple": frozenset({"Metal", "MTL"}),
    "intel": frozenset({"SYCL", "Vulkan"}),
    "other": frozenset({"Vulkan"}),
}


@dataclass(frozen=True)
class GpuInfo:
    """One GPU; memory in bytes. usable: the installed llama.cpp build can offload to it."""

    index: int
    vendor: Vendor
    name: str
    memory_total: int
    memory_free: int
    unified: bool = False  # shares system memory (Apple Silicon): memory_total is its GPU limit
    usable: bool = False
    build_hint: str = ""  # how to get a llama.cpp build that can use it, when it cannot
    driver: str = ""
    source: str = ""  # where the figures came from: nvml, nvidia-smi, sysctl, sysfs, ggml, rpc
    endpoint: str = ""  # an RPC worker's "host:port" (source "rpc")


def run_quiet(args: list[str], timeout: float = 5.0) -> str | None:
    """A command's stdout, or None when it is missing or fails."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


# -- NVIDIA ------------------------------------------------------------------------------------


def nvidia_nvml() -> list[GpuInfo] | None:
    """NVIDIA GPUs through nvidia-ml-py (the optional `nvidia` extra); None if unavailable."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver: NVMLError_LibraryNotFound, _DriverNotLoaded, …
        return None
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            gpus.append(
                GpuInfo(
                    index=i,
                    vendor="nvidia",
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    memory_total=int(memory.total),
                    memory_free=int(memory.free),
                    driver=driver.decode() if isinstance(driver, bytes) else str(driver),
                    source="nvml",
                )
            )
        return gpus
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


NVIDIA_SMI_QUERY = [
    "nvidia-smi",
    "--query-gpu=index,name,memory.total,memory.free,driver_version",
    "--format=csv,noheader,nounits",
]


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """nvidia-smi's CSV (index, name, total MiB, free MiB, driver) as GpuInfo."""
    gpus = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 5:
            continue
        try:
            index, total, free = int(fields[0]), int(fields[2]), int(fields[3])
        except ValueError:  # "[N/A]" memory on some boards
            continue
        gpus.append(
            GpuInfo(
                index=index,
                vendor="nvidia",
                name=fields[1],
                memory_total=total * _MIB,
                memory_free=free * _MIB,
                driver=fields[4],
                source="nvidia-smi",
            )
        )
    return gpus


def nvidia_gpus() -> list[GpuInfo]:
    """NVIDIA GPUs: NVML first, nvidia-smi when nvidia-ml-py is not installed."""
    found = nvidia_nvml()
    if found is not None:
        return found
    text = run_quiet(NVIDIA_SMI_QUERY)
    return parse_nvidia_smi(text) if text else []


# -- Apple Silicon -----------------------------------------------------------------------------


def apple_working_set(memsize: int, wired_limit_mb: int = 0) -> int:
    """How much unified memory Metal lets the GPU use (recommendedMaxWorkingSetSize).

    macOS allows about two thirds of memory up to 36 GiB and three quarters above;
    `sysctl iogpu.wired_limit_mb` raises or lowers it when set.
    """
    if wired_limit_mb > 0:
        return wired_limit_mb * _MIB
    share = 0.75 if memsize > 36 * 1024 * _MIB else 2 / 3
    return int(memsize * share)


def apple_gpus() -> list[GpuInfo]:
    """The Apple Silicon GPU, on macOS on arm64."""
    if platform.system() != "Darwin" or platform.machine() != "arm64":
        return []
    brand = (run_quiet(["sysctl", "-n", "machdep.cpu.brand_string"]) or "Apple Silicon").strip()
    try:
        memsize = int((run_quiet(["sysctl", "-n", "hw.memsize"]) or "0").strip())
    except ValueError:
        return []
    try:
        wired = int((run_quiet(["sysctl", "-n", "iogpu.wired_limit_mb"]) or "0").strip())
    except ValueError:
        wired = 0
    limit = apple_working_set(memsize, wired)
    return [
        GpuInfo(
            index=0,
            vendor="apple",
            name=f"{brand} GPU",
            memory_total=limit,
            memory_free=limit,
            unified=True,
            source="sysctl",
        )
    ]


# -- AMD (Linux sysfs) -------------------------------------------------------------------------

AMD_VENDOR_ID = "0x1002"


def amd_gpus(drm: Path = Path("/sys/class/drm")) -> list[GpuInfo]:
    """AMD GPUs from the amdgpu driver's sysfs files (VRAM total and used)."""
    gpus: list[GpuInfo] = []
    if not drm.is_dir():
        return gpus
    for card in sorted(drm.glob("card[0-9]*")):
        if "-" in card.name:  # connectors such as card0-DP-1
            continue
        device = card / "device"
        try:
            if (device / "vendor").read_text().strip() != AMD_VENDOR_ID:
                continue
            total = int((device / "mem_info_vram_total").read_text())
            used = int((device / "mem_info_vram_used").read_text())
        except (OSError, ValueError):
            continue
        name = ""
        with contextlib.suppress(OSError):
            name = (device / "product_name").read_text().strip()
        if not name:
            with contextlib.suppress(OSError):
                name = f"AMD GPU {(device / 'device').read_text().strip()}"
        gpus.append(
            GpuInfo(
                index=len(gpus),
                vendor="amd",
                name=name or "AMD GPU",
                memory_total=total,
                memory_free=max(0, total - used),
                source="sysfs",
            )
        )
    return gpus


def detect_gpus() -> list[GpuInfo]:
    """Every GPU the operating system shows, before asking llama.cpp which it can use."""
    gpus = nvidia_gpus() + amd_gpus() + apple_gpus()
    return [replace(g, index=i) for i, g in enumerate(gpus)]
