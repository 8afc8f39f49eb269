"""Refuse to bundle a llama.cpp that is not portable or lacks the backend the bundle promises.

`python installer/check_llama_build.py --backend cpu|cuda|vulkan|metal`, run by the build
scripts before PyInstaller. A `-march=native` build (GGML_NATIVE=ON) compiles in whatever
the build machine has (AVX-512, AMX, …) and dies with SIGILL on other processors.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_runtime.llama.build import backend_summary, detect_llama_build

# Instruction sets beyond x86-64-v3 (AVX2, FMA, F16C), which the portable CPU build stops at.
NOT_PORTABLE = ("AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AVX_VNNI", "AMX_INT8")
BACKEND_NAMES = {"cuda": "CUDA", "vulkan": "Vulkan", "metal": "Metal"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cpu", choices=("cpu", *BACKEND_NAMES))
    args = parser.parse_args(argv)
    build = detect_llama_build()
    print(f"llama.cpp build: {backend_summary(build)}")
    problems = []
    if platform.machine().lower() in ("x86_64", "amd64"):
        extra = [name for name in NOT_PORTABLE if build.cpu_feature(name)]
        if extra:
            problems.append(
                f"the CPU backend uses {', '.join(extra)}: it was built for this machine "
                "(GGML_NATIVE=ON / -march=native). Rebuild with the flags in installer/README.md."
            )
    wanted = BACKEND_NAMES.get(args.backend)
    compiled = set(build.features) | set(build.gpu_backends)
    if wanted and wanted not in compiled:  # only a warning: a build machine may have no GPU
        print(
            f"warning: llama.cpp shows no {wanted} backend here (found: {sorted(compiled)}); "
            "fine on a build machine without that GPU, wrong otherwise.",
            file=sys.stderr,
        )
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
