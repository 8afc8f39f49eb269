"""Which model, as an identity that loads again (model_ref.py), and what the chat's picker can
offer from this computer (choices.py): real GGUF files, a real store, the real starter model."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_runtime.models.choices import local_choices, recent_choices
from model_runtime.models.importing import import_gguf
from model_runtime.models.model_ref import (
    ModelRef,
    local_path,
    ref_for_path,
    ref_name,
    ref_quant,
)
from model_runtime.models.references import add_recent_model, recent_model_paths
from model_runtime.models.starter import STARTER_NAME
from model_runtime.models.store import ModelStore
from tests.gguf_factory import write_tiny_model


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny_model(tmp_path / "Tiny-Qwen-Q8_0.gguf", arch="qwen2", dtype="q8_0")


def test_identities_read_back_and_refuse_what_is_not_one() -> None:
    for ref in (ModelRef("store", "a--b--Q4"), ModelRef("starter"), ModelRef("file", "/m.gguf")):
        assert ModelRef.parse(str(ref)) == ref
    assert ModelRef.parse("remote:lab server") == ModelRef.remote("lab server")
    assert ModelRef.parse("starter:anything") == ModelRef("starter")
    for text in ("", "SmolLM2", "file:", "store:", "disk:/m.gguf", "remote:"):
        assert ModelRef.parse(text) is None, text


def test_a_file_the_starter_and_a_stored_model_each_have_their_identity(
    tiny: Path, smollm2: Path
) -> None:
    store = ModelStore()
    stored = import_gguf(tiny, store=store)
    assert ref_for_path(smollm2) == ModelRef("starter")
    assert ref_for_path(tiny) == ModelRef("file", str(tiny))
    ref = ref_for_path(stored.model_path)
    assert ref == ModelRef("store", stored.model_id)
    # each loads again from its identity, and has a name and a quantization for people
    assert local_path(ref, store) == stored.model_path
    assert local_path(ModelRef("starter")) == smollm2
    assert local_path(ModelRef("file", str(tiny))) == tiny
    assert ref_name(ModelRef("starter")) == STARTER_NAME
    assert ref_name(ref, store) == stored.manifest.name
    assert ref_quant(ModelRef("file", str(tiny))) == "Q8_0"
    # gone: no file to load
    assert local_path(ModelRef("file", str(tiny.with_name("gone.gguf")))) is None
    assert local_path(ModelRef("store", "not-there"), store) is None
    assert local_path(ModelRef("store", "../escape"), store) is None
    assert local_path(ModelRef.remote("lab")) is None


def test_recent_models_come_first_and_a_gone_file_is_a_missing_choice(
    tiny: Path, tmp_path: Path, smollm2: Path
) -> None:
    store = ModelStore()
    stored = import_gguf(tiny, store=store)
    gone = write_tiny_model(tmp_path / "Gone-Q4_0.gguf", dtype="q4_0")
    for path in (gone, stored.model_path, tiny, smollm2):
        add_recent_model(path)  # the last loaded comes first
    gone.unlink()
    recent = recent_choices(store)
    assert [c.ref for c in recent] == [
        ModelRef("starter"),
        ModelRef("file", str(tiny)),
        ModelRef("store", stored.model_id),
        ModelRef("file", str(gone)),
    ]
    starter, opened, kept, missing = recent
    assert (starter.name, starter.quant, starter.size) == (
        STARTER_NAME,
        "Q4_1",
        smollm2.stat().st_size,
    )
    assert kept.size == stored.manifest.total_size and kept.path == stored.model_path
    assert opened.name == tiny.name and not opened.missing
    assert missing.missing and missing.path is None and missing.listed_as == gone
    assert missing.name == "Gone-Q4_0.gguf"
    # "on this computer" leaves out what "Recent" shows
    assert local_choices(store, leave_out=frozenset(c.ref for c in recent)) == []
    everything = local_choices(store)
    assert [c.ref for c in everything] == [
        ModelRef("store", stored.model_id),
        ModelRef("starter"),
        ModelRef("file", str(tiny)),
        ModelRef("file", str(gone)),
    ]
    assert everything[-1].missing
    assert recent_model_paths()[0] == smollm2  # nothing was changed by listing
