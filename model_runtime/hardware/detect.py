"""What this machine offers a model: CPU, memory, GPUs, and what the llama.cpp build can use."""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import dataclass, replace
from pathlib import Path

from model_runtime.errors import PonderError
from model_runtime.hardware.gpus import (
    COMPATIBLE_BACKENDS,
    PREFERRED_BACKEND,
    GpuInfo,
    Vendor,
    detect_gpus,
    run_quiet,
)
from model_runtime.llama import rpc
from model_runtime.llama.build import BackendDevice, LlamaBuild, detect_llama_build, rebuild_command
from model_runtime.units import GIB


@dataclass(frozen=True)
class CpuInfo:
    """The processor; avx2/avx512 are None where they cannot be read (Windows)."""

    model: str
    physical_cores: int
    logical_cores: int
    avx2: bool | None = None
    avx512: bool | None = None


@dataclass(frozen=True)
class HardwareInfo:
    """A machine as the planner sees it; memory in bytes."""

    cpu: CpuInfo
    ram_total: int
    ram_available: int
    gpus: tuple[GpuInfo, ...] = ()
    build: LlamaBuild | None = None
    system: str = ""  # "Linux 6.8 x86_64"
    rpc_problems: tuple[str, ...] = ()  # saved RPC workers that could not be used, and why

    @property
    def rpc_workers(self) -> tuple[str, ...]:
        """The RPC workers whose devices the planner counts (their endpoints)."""
        return tuple(dict.fromkeys(g.endpoint for g in self.usable_gpus if g.source == "rpc"))

    @property
    def usable_gpus(self) -> tuple[GpuInfo, ...]:
        """The GPUs the installed llama.cpp build can offload to."""
        return tuple(g for g in self.gpus if g.usable)

    def notes(self) -> tuple[str, ...]:
        """Warnings a person should see: unusable GPUs and CPU features the build lacks."""
        out = [
            f"{g.name} cannot be used by this llama.cpp build. {g.build_hint}"
            for g in self.gpus
            if not g.usable
        ]
        out.extend(self.rpc_problems)
        if self.build is not None and self.cpu.avx512 is False and self.build.cpu_feature("AVX512"):
            out.append(
                "This llama.cpp build uses AVX-512, which this CPU lacks; it may crash. "
                'Rebuild with CMAKE_ARGS="-DGGML_NATIVE=ON".'
            )
        if self.build is not None and self.cpu.avx2 is False and self.build.cpu_feature("AVX2"):
            out.append(
                "This llama.cpp build uses AVX2, which this CPU lacks; it may crash. "
                'Rebuild with CMAKE_ARGS="-DGGML_NATIVE=ON".'
            )
        return tuple(out)


def parse_cpuinfo(text: str) -> tuple[str, bool | None, bool | None]:
    """Model name and AVX2 / AVX-512 support from Linux's /proc/cpuinfo."""
    model, flags = "", None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Hardware", "Model") and not model:
            model = value.strip()
        elif key in ("flags", "Features") and flags is None:
            flags = set(value.split())
    if flags is None:
        return model, None, None
    return model, "avx2" in flags, "avx512f" in flags


def detect_cpu() -> CpuInfo:
    """The processor's model, core counts and vector extensions."""
    import psutil

    logical = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    physical = psutil.cpu_count(logical=False) or logical
    model, avx2, avx512 = "", None, None
    system = platform.system()
    if system == "Linux":
        with contextlib.suppress(OSError):
            model, avx2, avx512 = parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    elif system == "Darwin":
        model = (run_quiet(["sysctl", "-n", "machdep.cpu.brand_string"]) or "").strip()
        features = (run_quiet(["sysctl", "-n", "machdep.cpu.leaf7_features"]) or "").upper()
        if platform.machine() == "arm64":
            avx2 = avx512 = False
        elif features:
            avx2, avx512 = "AVX2" in features, "AVX512F" in features
    return CpuInfo(
        model=model or platform.processor() or platform.machine(),
        physical_cores=physical,
        logical_cores=logical,
        avx2=avx2,
        avx512=avx512,
    )


_VENDOR_WORDS: tuple[tuple[str, Vendor], ...] = (
    ("nvidia", "nvidia"),
    ("geforce", "nvidia"),
    ("amd", "amd"),
    ("radeon", "amd"),
    ("intel", "intel"),
    ("apple", "apple"),
)


def device_vendor(dev: BackendDevice) -> Vendor | None:
    """The GPU maker a build device's description names, if any ("Intel(R) Arc(TM) A770")."""
    text = dev.description.lower()
    return next((vendor for word, vendor in _VENDOR_WORDS if word in text), None)


def _matching_device(gpu: GpuInfo, devices: list[BackendDevice]) -> BackendDevice | None:
    """The build's first device (taken from `devices`) that can serve this GPU."""
    for dev in devices:
        vendor = device_vendor(dev)
        if dev.backend in COMPATIBLE_BACKENDS[gpu.vendor] and vendor in (None, gpu.vendor):
            devices.remove(dev)
            return dev
    return None


def apply_build(gpus: list[GpuInfo], build: LlamaBuild) -> list[GpuInfo]:
    """Mark which GPUs the build can use (taking its memory figures) and how to fix the rest."""
    devices = [d for d in build.devices if d.kind in ("gpu", "igpu")]
    out = []
    for gpu in gpus:
        dev = _matching_device(gpu, devices) if build.gpu_offload else None
        if dev is None:
            backend = PREFERRED_BACKEND.get(gpu.vendor, "Vulkan")
            hint = f"To use it, install a {backend} build: {rebuild_command(backend)}"
            out.append(replace(gpu, usable=False, build_hint=hint))
        elif dev.memory_total:
            free = dev.memory_free or gpu.memory_free
            out.append(replace(gpu, usable=True, memory_total=dev.memory_total, memory_free=free))
        else:
            out.append(replace(gpu, usable=True))
    for dev in devices:  # devices only the build found (a Vulkan GPU no probe knows, RPC)
        rpc = dev.is_rpc
        out.append(
            GpuInfo(
                index=len(out),
                vendor="other" if rpc else device_vendor(dev) or "other",
                name=f"RPC worker {dev.description}" if rpc else dev.description or dev.name,
                memory_total=dev.memory_total,
                memory_free=dev.memory_free,
                unified=dev.kind == "igpu",
                usable=True,
                source="rpc" if rpc else "ggml",
                endpoint=dev.description if rpc else "",
            )
        )
    return out


def detect_ram() -> tuple[int, int]:
    """Total and available system memory in bytes."""
    import psutil

    memory = psutil.virtual_memory()
    return int(memory.total), int(memory.available)


def detect_hardware(
    *, with_build: bool = True, rpc_workers: tuple[str, ...] | None = None
) -> HardwareInfo:
    """Look at this machine; with_build also asks llama.cpp (which loads GPU drivers) and
    connects to the RPC workers (None: the saved ones), whose devices count as GPUs."""
    total, available = detect_ram()
    gpus = detect_gpus()
    problems: list[str] = []
    if with_build:
        problems = _add_rpc_workers(rpc.load_workers() if rpc_workers is None else rpc_workers)
    build = detect_llama_build() if with_build else None
    if build is not None:
        gpus = apply_build(gpus, build)
    return HardwareInfo(
        cpu=detect_cpu(),
        ram_total=total,
        ram_available=available,
        gpus=tuple(gpus),
        build=build,
        system=f"{platform.system()} {platform.release()} {platform.machine()}".strip(),
        rpc_problems=tuple(problems),
    )


def _add_rpc_workers(workers: tuple[str, ...]) -> list[str]:
    """Register each reachable worker with llama.cpp in this process; say why others can't be."""
    problems = []
    for worker in workers:
        try:
            rpc.add_workers([worker])
        except PonderError as exc:
            problems.append(f"RPC worker {worker} is not counted: {exc}")
    return problems


def describe_hardware(hw: HardwareInfo) -> list[str]:
    """The hardware summary as lines of text (the CLI prints them; the GUI may show them)."""
    cpu = hw.cpu
    ext = [name for name, has in (("AVX2", cpu.avx2), ("AVX-512", cpu.avx512)) if has]
    lines = [
        f"CPU: {cpu.model} — {cpu.physical_cores} cores, {cpu.logical_cores} threads"
        + (f" ({', '.join(ext)})" if ext else ""),
        f"Memory: {hw.ram_total / GIB:.1f} GiB, {hw.ram_available / GIB:.1f} GiB available",
    ]
    for gpu in hw.gpus:
        if gpu.source == "rpc":
            lines.append(
                f"RPC worker: {gpu.endpoint} — {gpu.memory_total / GIB:.1f} GiB, "
                f"{gpu.memory_free / GIB:.1f} GiB free (takes layers like a GPU)"
            )
            continue
        kind = "unified memory" if gpu.unified else "VRAM"
        state = "usable" if gpu.usable else "not usable by this build"
        lines.append(
            f"GPU {gpu.index}: {gpu.name} — {gpu.memory_total / GIB:.1f} GiB {kind}, "
            f"{gpu.memory_free / GIB:.1f} GiB free ({state})"
        )
    if not any(g.source != "rpc" for g in hw.gpus):
        lines.append("GPU: none found")
    if hw.build is not None:
        offload = "yes" if hw.build.local_gpu_offload else "no"
        backends = ", ".join(sorted(hw.build.gpu_backends)) or "CPU only"
        rpc = "; RPC workers: yes" if hw.build.rpc else ""
        lines.append(f"llama.cpp build: {backends}; GPU offload: {offload}{rpc}")
        lines.append(f"llama.cpp features: {hw.build.system_info}")
    lines += [f"Note: {note}" for note in hw.notes()]
    return lines
