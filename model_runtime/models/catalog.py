"""The catalog of DeepSeek-R1-family models Ponder offers (data in resources/catalog/)."""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from model_runtime.errors import PonderError
from model_runtime.gguf.quants import (
    QuantChoice,
    RemoteFile,
    complete_split,
    is_model_gguf,
    quant_label,
)
from model_runtime.paths import resources_dir

CATALOG_DIR = resources_dir() / "catalog"

# DeepSeek's advice for the whole family.
TEMPERATURE = 0.6
TOP_P = 0.95


@dataclass(frozen=True)
class CatalogRepo:
    """A Hub repository that carries GGUF files of a catalog model."""

    repo_id: str
    pattern: str  # fnmatch pattern of one quantization's files; {quant} stands for its name

    def files_for(self, files: Iterable[RemoteFile], quant: str) -> QuantChoice | None:
        """This repo's files of `quant` (all parts when split), or None when it lacks them."""
        glob = self.pattern.format(quant=quant)
        wanted = quant.upper()
        chosen = tuple(
            sorted(
                (
                    f
                    for f in files
                    if is_model_gguf(f.path)
                    and fnmatch.fnmatchcase(f.path.lower(), glob.lower())
                    and quant_label(f.path) == wanted
                ),
                key=lambda f: f.path,
            )
        )
        if not chosen or not complete_split(chosen):
            return None
        return QuantChoice(wanted, chosen)


@dataclass(frozen=True)
class CatalogModel:
    """One model of the catalog, with where to get it and how DeepSeek advises using it."""

    id: str
    name: str
    upstream: str
    base_model: str
    architecture: str
    parameters: str
    license: str
    quants: tuple[str, ...]
    recommended_quant: str
    repos: tuple[CatalogRepo, ...]
    notes: str
    usage: str  # DeepSeek's usage advice, in words
    system_prompt: bool  # R1-0528 allows one; the original R1 and its distills do not
    temperature: float = TEMPERATURE
    top_p: float = TOP_P
    draft: str = ""  # the catalog model that drafts for it (same tokenizer, much smaller)

    @property
    def is_moe(self) -> bool:
        """True for the full 671B Mixture-of-Experts R1."""
        return self.architecture == "deepseek2"


def _parse(data: dict) -> list[CatalogModel]:
    usage = data["usage"]
    models = []
    for m in data["models"]:
        models.append(
            CatalogModel(
                id=m["id"],
                name=m["name"],
                upstream=m["upstream"],
                base_model=m["base_model"],
                architecture=m["architecture"],
                parameters=m["parameters"],
                license=m["license"],
                quants=tuple(m["quants"]),
                recommended_quant=m["recommended_quant"],
                repos=tuple(CatalogRepo(r["id"], r["pattern"]) for r in m["repos"]),
                notes=m["notes"],
                usage=usage[m["usage"]],
                system_prompt=m["usage"] == "r1-0528",
                temperature=float(m.get("temperature", TEMPERATURE)),
                top_p=float(m.get("top_p", TOP_P)),
                draft=str(m.get("draft", "")),
            )
        )
    return models


@functools.cache
def load_catalog(folder: Path = CATALOG_DIR) -> tuple[CatalogModel, ...]:
    """Every model in the catalog files, in the order they list them."""
    models: list[CatalogModel] = []
    for path in sorted(folder.glob("*.json")):
        try:
            models.extend(_parse(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PonderError(f"The model catalog {path} is damaged: {exc!r}") from None
    return tuple(models)


def find_model(model_id: str) -> CatalogModel | None:
    """The catalog model with this id (e.g. 'r1-distill-qwen-7b'), or None."""
    for model in load_catalog():
        if model.id == model_id.lower():
            return model
    return None


def natural_draft(model: CatalogModel) -> CatalogModel | None:
    """The catalog model that drafts for this one in speculative decoding (R1-Distill-Qwen-1.5B
    for the Qwen distills: one tokenizer), or None."""
    return find_model(model.draft) if model.draft else None


def catalog_for_repo(repo_id: str) -> CatalogModel | None:
    """The catalog model a Hub repository belongs to, or None."""
    for model in load_catalog():
        if any(r.repo_id.lower() == repo_id.lower() for r in model.repos):
            return model
    return None
