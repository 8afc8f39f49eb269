"""A profile written by Ponder 0.1, before its modules moved into packages, opens unchanged:
conversations, the model store, settings and keyring entries (tests/fixtures/profile-0.1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from model_runtime import credentials, netlog
from model_runtime.conversations.schema import SCHEMA_VERSION
from model_runtime.conversations.store import default_store
from model_runtime.gguf.reader import read_gguf_info
from model_runtime.llama import rpc
from model_runtime.models.store import ModelStore
from model_runtime.paths import is_first_run
from model_runtime.planning.pinned import pinned_overrides
from model_runtime.serving.endpoints import chosen_endpoint, load_endpoints
from model_runtime.serving.settings import load_serve_settings, serve_api_key
from tests.conftest import FIXTURES

PROFILE = FIXTURES / "profile-0.1"


@pytest.fixture
def old_profile(ponder_home: Path, memory_keyring: Any) -> Path:
    """The 0.1 profile as this user's data folder, its secrets in the (test) keyring."""
    shutil.copytree(PROFILE / "ponder-home", ponder_home, dirs_exist_ok=True)
    pinned = ponder_home / "config" / "model_overrides.json"
    pinned.write_text(pinned.read_text().replace("@PONDER_HOME@", str(ponder_home)))
    for entry in json.loads((PROFILE / "keyring.json").read_text()):
        memory_keyring.set_password(entry["service"], entry["account"], entry["secret"])
    return ponder_home


def test_conversations_open_with_their_branches_figures_and_state(old_profile: Path) -> None:
    database = old_profile / "data" / "conversations.sqlite"
    store = default_store()
    try:
        assert store.version == SCHEMA_VERSION and store.integrity_check() == "ok"
        assert store.recovered == 1  # the answer 0.1 left streaming is now interrupted
        by_title = {c.title: c for c in store.conversations()}
        assert set(by_title) == {"What is 2 + 2?", "Renamed by hand"}
        chat = by_title["What is 2 + 2?"]
        assert chat.model == "SmolLM2-135M-Instruct" and chat.system_prompt == "Be brief."
        assert chat.params["loop_policy"] == "stop" and chat.params["budget_tokens"] == 300
        q1, a1, q2, a2 = store.visible_messages(chat.id)
        assert (q1.content, a1.content, q2.content, a2.content) == (
            "What is 2 + 2?",
            "It is **4**.",
            "And 3 + 3?",
            "Six",
        )
        assert a1.reasoning == "Two and two make four." and a1.figures.reasoning_tokens == 7
        assert a1.figures.reasoning_seconds == 1.5 and a1.figures.tokens_per_second == 33.0
        assert a2.state == "interrupted" and a2.reasoning == "Three and three"
        assert (a1.thinking_note, a1.finish_note, a1.ttft_seconds) == ("", "", 0.0)  # schema 4
        branch = store.branch(a1)
        assert (branch.index, branch.count) == (1, 2)
        other = store.message(branch.sibling_ids[1])
        assert other.content == "Four." and other.finish_reason == "length"
        assert "<details><summary>Thought for 2 s</summary>" in store.export_markdown(chat.id)
        assert [h.message_id for h in store.search("zeppelin")] == []
        assert store.search("make four")[0].message_id == a1.id
    finally:
        store.close()
    # newer schemas (attachments) were added by migration: the 0.1 file was backed up first
    assert [p.name for p in database.parent.glob("conversations.v*.backup.sqlite")] == [
        "conversations.v2.backup.sqlite"
    ]


def test_the_stored_model_is_still_verified_and_loadable(old_profile: Path) -> None:
    model = ModelStore().get("local--tiny")
    assert model.manifest.state == "complete-verified" and model.manifest.is_usable
    assert model.model_path == old_profile / "data/models/local--tiny/tiny-Q8_0.gguf"
    assert ModelStore().verify("local--tiny").ok
    assert read_gguf_info(model.model_path).architecture == "llama"


def test_settings_and_keyring_entries_are_read_as_they_were(old_profile: Path) -> None:
    serving = load_serve_settings()
    assert (serving.port, serving.network, serving.require_key) == (8123, True, True)
    assert serve_api_key() == "ponder-AXz_juTPRxfntUhRcOV53gIKTghbRsVA"
    lab, cloud = load_endpoints()
    assert (lab.name, lab.base_url, lab.model, lab.starts_in_thinking) == (
        "lab",
        "http://127.0.0.1:9000/v1",
        "r1-32b",
        True,
    )
    assert lab.api_key() == "sk-lab-key" and cloud.api_key() is None
    assert chosen_endpoint() == lab
    assert credentials.get_token() == "hf_oldtoken"
    assert netlog.offline_setting() is True
    assert rpc.load_workers() == ("127.0.0.1:50052", "10.0.0.6:50052")
    pinned = pinned_overrides(old_profile / "data/models/local--tiny/tiny-Q8_0.gguf")
    assert pinned is not None
    assert (pinned.n_ctx, pinned.n_gpu_layers, pinned.type_k) == (4096, 0, "q8_0")
    assert not is_first_run()
