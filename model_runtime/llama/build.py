"""What the installed llama.cpp build can use: GPU offload, CPU features, ggml's device list."""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"

# ggml_backend_dev_type
DEVICE_TYPES = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}

# The CMake switch that builds llama.cpp for each GPU backend.
CMAKE_FLAGS = {
    "CUDA": "-DGGML_CUDA=on",
    "Metal": "-DGGML_METAL=on",
    "HIP": "-DGGML_HIP=on",
    "Vulkan": "-DGGML_VULKAN=on",
    "SYCL": "-DGGML_SYCL=on",
}


@dataclass(frozen=True)
class BackendDevice:
    """One device in ggml's registry, as the build sees it."""

    name: str  # "CPU", "CUDA0", "Metal", "Vulkan0"
    description: str
    kind: str  # cpu, gpu, igpu, accel
    backend: str  # the registry's name: "CPU", "CUDA", "Metal", "Vulkan", "ROCm", "BLAS"
    memory_free: int
    memory_total: int

    @property
    def is_rpc(self) -> bool:
        """An RPC worker's device (the registry names it "RPC[host:port]"; its description is
        the endpoint), which llama.cpp lists as a GPU."""
        return self.backend.startswith("RPC")


@dataclass(frozen=True)
class LlamaBuild:
    """The llama.cpp that llama-cpp-python loaded."""

    gpu_offload: bool
    system_info: str
    devices: tuple[BackendDevice, ...] = ()
    features: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # per backend
    rpc: bool = False  # has the RPC backend (other machines' devices, registered per load)

    @property
    def gpu_backends(self) -> frozenset[str]:
        """The registry names of the GPU backends compiled in ("CUDA", "Metal", …); RPC
        workers' devices, which llama.cpp lists as GPUs, are not this computer's."""
        return frozenset(
            d.backend for d in self.devices if d.kind in ("gpu", "igpu") and not d.is_rpc
        )

    @property
    def local_gpu_offload(self) -> bool:
        """Whether the build can offload to a GPU of this computer (not only to RPC workers)."""
        return self.gpu_offload and (bool(self.gpu_backends) or not self.rpc)

    def cpu_feature(self, name: str) -> bool:
        """Whether the CPU backend was compiled to use an instruction set (AVX2, AVX512, …)."""
        return self.features.get("CPU", {}).get(name) == "1"


def parse_system_info(text: str) -> dict[str, dict[str, str]]:
    """llama_print_system_info() ("CUDA : ARCHS = 890 | CPU : AVX2 = 1 | …") per backend."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for item in text.split("|"):
        part = item.strip()
        if not part:
            continue
        if " : " in part:  # "CPU : SSE3 = 1" starts a backend's section
            backend, _, part = part.partition(" : ")
            current = sections.setdefault(backend.strip(), {})
        key, sep, value = part.partition("=")
        if current is not None and sep:
            current[key.strip()] = value.strip()
    return sections


def rebuild_command(backend: str) -> str:
    """The command that installs a llama.cpp build for a GPU backend."""
    flag = CMAKE_FLAGS[backend]
    return (
        f'CMAKE_ARGS="{flag} -DGGML_RPC=ON" pip install --force-reinstall --no-cache-dir '
        f"{LLAMA_CPP_PYTHON}"
    )


def _lib_dir() -> Path:
    import llama_cpp

    return Path(llama_cpp.__file__).parent / "lib"


def ggml_library() -> Any:
    """ggml's functions as libllama sees them (the bindings do not wrap the device registry).

    Through libllama's handle, not by loading libggml.so: a wheel holds libggml.so and
    libggml.so.0 as two files, and the second copy would be a second registry that llama.cpp
    never looks at.
    """
    from llama_cpp import llama_cpp

    return llama_cpp._lib


def _ggml_devices() -> tuple[BackendDevice, ...]:
    """ggml's device registry, read through ctypes."""
    ggml = base = ggml_library()
    p, size = ctypes.c_void_p, ctypes.c_size_t
    ggml.ggml_backend_dev_count.restype = size
    ggml.ggml_backend_dev_count.argtypes = []
    ggml.ggml_backend_dev_get.restype = p
    ggml.ggml_backend_dev_get.argtypes = [size]
    for fn in (base.ggml_backend_dev_name, base.ggml_backend_dev_description):
        fn.restype, fn.argtypes = ctypes.c_char_p, [p]
    base.ggml_backend_dev_type.restype, base.ggml_backend_dev_type.argtypes = ctypes.c_int, [p]
    base.ggml_backend_dev_memory.restype = None
    base.ggml_backend_dev_memory.argtypes = [p, ctypes.POINTER(size), ctypes.POINTER(size)]
    base.ggml_backend_dev_backend_reg.restype, base.ggml_backend_dev_backend_reg.argtypes = p, [p]
    base.ggml_backend_reg_name.restype, base.ggml_backend_reg_name.argtypes = ctypes.c_char_p, [p]

    devices = []
    for i in range(ggml.ggml_backend_dev_count()):
        dev = ggml.ggml_backend_dev_get(i)
        free, total = size(0), size(0)
        base.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        reg = base.ggml_backend_dev_backend_reg(dev)
        devices.append(
            BackendDevice(
                name=(base.ggml_backend_dev_name(dev) or b"").decode("utf-8", "replace"),
                description=(base.ggml_backend_dev_description(dev) or b"").decode(
                    "utf-8", "replace"
                ),
                kind=DEVICE_TYPES.get(base.ggml_backend_dev_type(dev), "other"),
                backend=(base.ggml_backend_reg_name(reg) or b"").decode("utf-8", "replace")
                if reg
                else "",
                memory_free=int(free.value),
                memory_total=int(total.value),
            )
        )
    return tuple(devices)


def detect_llama_build() -> LlamaBuild:
    """Ask the installed llama.cpp what it was built to use; loads GPU drivers if it has any."""
    from llama_cpp import llama_cpp

    llama_cpp.llama_backend_init()
    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    try:
        devices = _ggml_devices()
    except (OSError, AttributeError):  # a build laid out differently: no device list
        devices = ()
    return LlamaBuild(
        gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()),
        rpc=bool(llama_cpp.llama_supports_rpc()),
        system_info=info.strip(),
        devices=devices,
        features=parse_system_info(info),
    )


CPU_FEATURES_SHOWN = ("AVX", "AVX2", "AVX512", "FMA", "F16C", "NEON", "SVE", "AMX_INT8")


def backend_summary(build: LlamaBuild) -> str:
    """The build's backends in words: "CUDA + CPU (AVX2, FMA)", "CPU (AVX, AVX2) only"."""
    # Backends with a device here, and those compiled in whose device is absent (CUDA, no GPU).
    gpus = sorted(build.gpu_backends | {name for name in build.features if name != "CPU"})
    cpu = [name for name in CPU_FEATURES_SHOWN if build.cpu_feature(name)]
    cpu_text = f"CPU ({', '.join(cpu)})" if cpu else "CPU"
    rpc = " + RPC" if build.rpc else ""
    if gpus:
        return f"{' + '.join(gpus)} + {cpu_text}{rpc}"
    if rpc:
        return f"{cpu_text}{rpc}"
    return f"{cpu_text} only" if build.features or build.devices else "CPU only"
