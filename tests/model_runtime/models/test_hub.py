"""The Hub client (the real huggingface_hub against a loopback Hub), the catalog, quant names,
the access token in the keyring, the offline switch and the network log."""

from __future__ import annotations

import errno
import os
import socket
import time
from pathlib import Path

import pytest

from model_runtime import credentials, netlog
from model_runtime.errors import (
    AccessDenied,
    AuthenticationRequired,
    ConnectionFailed,
    GatedRepo,
    ModelFileError,
    NoNetwork,
    OfflineMode,
    RepoNotFound,
)
from model_runtime.gguf.quants import (
    RemoteFile,
    SplitPart,
    find_quant,
    group_quants,
    quant_label,
    split_part,
)
from model_runtime.hardware.detect import CpuInfo, HardwareInfo
from model_runtime.models import hub
from model_runtime.models.catalog import find_model, load_catalog
from model_runtime.models.downloads import DownloadRequest, download_model
from model_runtime.planning.hub_fit import plan_hub_quant
from model_runtime.planning.planner import plan_load
from tests.broken_models import set_value
from tests.gguf_factory import write_split
from tests.hub_server import TOKEN, FakeHub
from tests.model_shapes import write_header_only

R1_FILES = [
    "DeepSeek-R1-UD-IQ1_S/DeepSeek-R1-UD-IQ1_S-00001-of-00003.gguf",
    "DeepSeek-R1-UD-IQ1_S/DeepSeek-R1-UD-IQ1_S-00002-of-00003.gguf",
    "DeepSeek-R1-UD-IQ1_S/DeepSeek-R1-UD-IQ1_S-00003-of-00003.gguf",
    "DeepSeek-R1-Q4_K_M/DeepSeek-R1-Q4_K_M-00001-of-00009.gguf",  # 8 parts missing
    "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf",
    "README.md",
]


def test_quant_names_are_read_from_file_names() -> None:
    assert quant_label("DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf") == "Q4_K_M"
    assert quant_label("deepseek-ai_DeepSeek-R1-0528-Qwen3-8B-Q8_0.gguf") == "Q8_0"
    assert quant_label(R1_FILES[0]) == "UD-IQ1_S"
    assert quant_label("x-UD-Q2_K_XL-00001-of-00005.gguf") == "UD-Q2_K_XL"
    assert quant_label("SmolLM2-135M-Instruct.Q4_1.gguf") == "Q4_1"
    assert quant_label("model-f16.gguf") == "F16"
    assert quant_label("Qwen3-8B.gguf") is None
    assert split_part(R1_FILES[1]) == SplitPart("DeepSeek-R1-UD-IQ1_S", 2, 3)


def test_split_parts_group_into_one_quant_and_incomplete_sets_are_left_out() -> None:
    files = [RemoteFile(p, 100 + i, None) for i, p in enumerate(R1_FILES)]
    files.append(RemoteFile("mmproj-F16.gguf", 5, None))
    choices = {c.name: c for c in group_quants(files)}
    # The incomplete split Q4_K_M is left out, the single-file Q4_K_M and no mmproj kept.
    assert set(choices) == {"UD-IQ1_S", "Q4_K_M"}
    assert choices["UD-IQ1_S"].is_split and choices["UD-IQ1_S"].size == 100 + 101 + 102
    assert [f.path for f in choices["Q4_K_M"].files] == [R1_FILES[4]]


def test_the_catalog_holds_the_r1_family_with_deepseeks_advice() -> None:
    catalog = load_catalog()
    ids = {m.id for m in catalog}
    assert {
        "r1-distill-qwen-1.5b",
        "r1-distill-qwen-7b",
        "r1-distill-qwen-14b",
        "r1-distill-qwen-32b",
        "r1-distill-llama-8b",
        "r1-distill-llama-70b",
        "r1-0528-qwen3-8b",
        "r1",
        "r1-0528",
    } <= ids
    for m in catalog:
        assert (m.temperature, m.top_p) == (0.6, 0.95)
        assert m.repos and m.license and m.recommended_quant in m.quants
        assert m.system_prompt == m.id.startswith("r1-0528")
    r1 = find_model("r1")
    assert r1 is not None and r1.is_moe and "UD-IQ1_S" in r1.quants
    files = [RemoteFile(p, 1, None) for p in R1_FILES]
    choice = r1.repos[0].files_for(files, "UD-IQ1_S")
    assert choice is not None and [f.path for f in choice.files] == R1_FILES[:3]
    assert r1.repos[0].files_for(files, "IQ1_S") is None  # not fooled by the UD- name
    qwen = find_model("r1-distill-qwen-7b")
    assert qwen is not None and "system prompt" in qwen.usage


def test_repo_listing_has_sizes_sha256_and_the_commit(fake_hub: FakeHub, tmp_path: Path) -> None:
    parts = write_split(tmp_path, "Tiny-R1-UD-IQ1_S", 3, arch="qwen2")
    files: dict[str, Path | bytes] = {f"UD-IQ1_S/{p.name}": p for p in parts}
    files["Tiny-R1-Q8_0.gguf"] = b"\x01" * 5000
    files["README.md"] = b"# Tiny R1\n"
    repo = fake_hub.add_repo("acme/Tiny-R1-GGUF", files, license="mit")

    listing = hub.repo_listing("acme/Tiny-R1-GGUF")

    assert listing.revision == repo.sha
    assert listing.license == "mit"
    by_path = {f.path: f for f in listing.files}
    for path, served in repo.files.items():
        assert by_path[path].size == served.size
        assert by_path[path].sha256 == (served.sha256 if served.lfs else None)
    quants = {c.name: c for c in listing.quants}
    assert set(quants) == {"UD-IQ1_S", "Q8_0"}
    assert quants["UD-IQ1_S"].size == sum(p.stat().st_size for p in parts)
    assert find_quant(listing.files, "ud-iq1_s") == quants["UD-IQ1_S"]


def test_search_lists_gguf_repos_with_popularity(fake_hub: FakeHub) -> None:
    fake_hub.add_repo(
        "acme/R1-Distill-GGUF",
        {"R1-Q4_K_M.gguf": b"a", "R1-Q8_0.gguf": b"b"},
        downloads=50,
        likes=3,
    )
    fake_hub.add_repo("other/R1-Distill-More-GGUF", {"x-IQ4_XS.gguf": b"c"}, downloads=900)
    fake_hub.add_repo("acme/R1-Distill-safetensors", {"model.safetensors": b"d"}, downloads=10**6)

    results = hub.search_models("r1-distill")

    assert [r.repo_id for r in results] == ["other/R1-Distill-More-GGUF", "acme/R1-Distill-GGUF"]
    assert results[1].downloads == 50 and results[1].likes == 3
    assert results[1].quants == ("Q4_K_M", "Q8_0")
    search = next(s for s in fake_hub.seen if s.path == "/api/models")
    assert search.query["search"] == ["r1-distill"] and search.query["filter"] == ["gguf"]


def test_hub_errors_are_said_in_plain_words(fake_hub: FakeHub, memory_keyring: object) -> None:
    fake_hub.add_repo("acme/Gated-GGUF", {"g-Q4_0.gguf": b"g" * 100}, gated=True)
    fake_hub.add_repo("acme/Denied-GGUF", {"d-Q4_0.gguf": b"d" * 100}, gated=True, denied=True)
    fake_hub.add_repo("acme/Private-GGUF", {"p-Q4_0.gguf": b"p" * 100}, private=True)
    fake_hub.add_repo("acme/Open-GGUF", {"o-Q4_0.gguf": b"o" * 100})

    with pytest.raises(AuthenticationRequired, match="Logging in is needed"):
        hub.repo_listing("acme/Private-GGUF")  # anonymous: the Hub says 401
    with pytest.raises(GatedRepo, match="accept its conditions"):
        download_model(DownloadRequest("acme/Gated-GGUF", "Q4_0"))
    fake_hub.fault("status", "o-Q4_0.gguf", status=403)
    with pytest.raises(AccessDenied, match="permissions"):
        download_model(DownloadRequest("acme/Open-GGUF", "Q4_0"))
    with pytest.raises(RepoNotFound, match="no Q5_K_M"):
        download_model(DownloadRequest("acme/Open-GGUF", "Q5_K_M"))
    with pytest.raises(RepoNotFound, match="no such revision"):
        hub.repo_listing("acme/Open-GGUF", revision="v9")

    credentials.set_token(TOKEN)
    assert hub.repo_listing("acme/Private-GGUF").files  # the token opens it
    with pytest.raises(RepoNotFound, match="no acme/No-Such-GGUF"):
        hub.repo_listing("acme/No-Such-GGUF")  # with a token: a plain 404
    with pytest.raises(GatedRepo):
        download_model(DownloadRequest("acme/Denied-GGUF", "Q4_0"))  # 403: not accepted yet
    assert download_model(DownloadRequest("acme/Gated-GGUF", "Q4_0")).manifest.is_usable


def test_the_token_lives_in_the_keyring_only(
    fake_hub: FakeHub, memory_keyring: object, ponder_home: Path
) -> None:
    fake_hub.add_repo("acme/Gated-GGUF", {"g-Q4_0.gguf": b"g" * 1000}, gated=True)
    assert credentials.get_token() is None
    with pytest.raises(AuthenticationRequired):
        hub.whoami()

    credentials.set_token(f"  {TOKEN}\n")
    assert hub.whoami() == "ponder-tester"
    download_model(DownloadRequest("acme/Gated-GGUF", "Q4_0"))

    assert memory_keyring.passwords == {("ponder", "huggingface-token"): TOKEN}  # type: ignore[attr-defined]
    sent = [s for s in fake_hub.seen if s.headers.get("authorization")]
    assert sent and all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in sent)
    for path in ponder_home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    credentials.delete_token()
    credentials.delete_token()  # no error when there is none
    assert credentials.get_token() is None


def test_offline_mode_refuses_before_any_socket(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_hub.add_repo("acme/Open-GGUF", {"o-Q4_0.gguf": b"o" * 100})

    def no_connect(self: socket.socket, address: object) -> None:
        raise AssertionError(f"Ponder opened a connection to {address} while offline")

    monkeypatch.setattr(socket.socket, "connect", no_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", no_connect)
    monkeypatch.setenv("PONDER_OFFLINE", "1")
    with pytest.raises(OfflineMode, match="PONDER_OFFLINE"):
        download_model(DownloadRequest("acme/Open-GGUF", "Q4_0"))
    with pytest.raises(OfflineMode):
        hub.search_models("r1")
    monkeypatch.delenv("PONDER_OFFLINE")
    netlog.set_offline_setting(True)
    assert netlog.is_offline()
    with pytest.raises(OfflineMode, match="offline mode is on"):
        hub.repo_listing("acme/Open-GGUF")
    # Even a request that slips past the module's checks is stopped by the session hook.
    with pytest.raises(OfflineMode):
        hub._session().get(f"{fake_hub.url}/api/models")
    assert fake_hub.seen == []
    assert netlog.read_log() == []


def test_every_connection_is_logged_with_host_and_purpose(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("acme/Open-GGUF", {"o-Q4_0.gguf": b"o" * 100})
    start = netlog.read_log()
    assert start == []

    hub.search_models("open")
    download_model(DownloadRequest("acme/Open-GGUF", "Q4_0"))

    events = netlog.read_log()
    assert len(events) == len(fake_hub.seen)  # one line per request the server saw
    assert {e.host for e in events} == {"127.0.0.1"}
    assert [e.purpose for e in events] == ["search", "metadata", "download", "download"]
    assert events[-1].target.startswith("/lfs-cdn/")  # the redirect is logged too
    assert netlog.read_log(since=events[-1].time)[-1] == events[-1]
    # each request has a second line that says how it ended and the bytes each way
    assert netlog.log_path().read_text().count("\n") == 2 * len(events)
    assert all(e.succeeded for e in events)
    for event, seen in zip(events, fake_hub.seen, strict=True):
        assert event.detail.startswith(f"HTTP {seen.status} ")  # 200, or 302 to the CDN
        headers = sum(len(k) + len(v) + 4 for k, v in seen.headers.items()) + 2
        assert headers < event.sent < headers + 1024  # and the request line
        assert event.received is not None and event.received > 0
    body = fake_hub.sent["o-Q4_0.gguf"]
    assert body == 100 and body < events[-1].received < body + 1024  # the file, and headers
    netlog.clear_log()
    assert netlog.read_log() == []


def test_no_network_is_said_at_once_and_not_retried(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: object
) -> None:
    """A name that does not resolve fails at name resolution, before anything is sent."""
    monkeypatch.setenv("HF_ENDPOINT", "http://ponder-offline.invalid")
    monkeypatch.delenv("PONDER_OFFLINE", raising=False)
    started = time.monotonic()
    with pytest.raises(NoNetwork, match=r"could not reach ponder-offline\.invalid") as raised:
        hub.search_models("r1")
    assert time.monotonic() - started < 5  # not six tries over 25 seconds
    assert "its name could not be looked up" in str(raised.value)
    assert isinstance(raised.value, ConnectionFailed)  # a download still waits and retries
    with pytest.raises(NoNetwork):
        hub.repo_listing("acme/Any-GGUF")
    with pytest.raises(NoNetwork), hub.open_file("acme/Any-GGUF", "main", "a.gguf"):
        pass

    events = netlog.read_log()
    assert [(e.purpose, e.host) for e in events] == [
        ("search", "ponder-offline.invalid"),
        ("metadata", "ponder-offline.invalid"),
        ("download", "ponder-offline.invalid"),
    ]  # one attempt each
    for event in events:
        assert event.succeeded is False and event.sent == 0 and event.received == 0
        assert event.detail == "no network: its name could not be looked up"


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (errno.ENETUNREACH, "the network is unreachable"),
        (errno.EHOSTUNREACH, "no route leads to it"),
        (errno.ENETDOWN, "the network is down"),
    ],
)
def test_no_route_out_is_no_network_too(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, number: int, words: str
) -> None:
    """A name that resolves but no way out (no route, the network down): said at once too."""

    def no_way_out(*_args: object, **_kwargs: object) -> socket.socket:
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(socket, "create_connection", no_way_out)
    started = time.monotonic()
    with pytest.raises(NoNetwork, match=f"could not reach 127.0.0.1: {words}"):
        hub.search_models("r1")
    assert time.monotonic() - started < 5  # not retried
    (event,) = netlog.read_log()
    assert event.succeeded is False and event.detail == f"no network: {words}"


def test_a_dropped_download_is_logged_as_failed_with_the_bytes_it_got(
    fake_hub: FakeHub,
) -> None:
    fake_hub.add_repo("acme/Drop-GGUF", {"d-Q4_0.gguf": bytes(range(256)) * 400})
    fake_hub.redirect_lfs = False
    fake_hub.fault("drop", "d-Q4_0.gguf", after=40_000)
    listing = hub.repo_listing("acme/Drop-GGUF")
    stream = hub.open_file("acme/Drop-GGUF", listing.revision, "d-Q4_0.gguf")
    with pytest.raises(ConnectionFailed, match="dropped"), stream:
        for _ in stream.chunks():
            pass
    last = netlog.read_log()[-1]
    assert last.purpose == "download" and last.succeeded is False
    assert last.detail.startswith("dropped after ")
    assert last.received is not None and 40_000 < last.received < 40_000 + 1024


def test_the_models_cli_searches_and_lists_quants_with_sizes(
    fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    from model_runtime.cli.main import main

    fake_hub.add_repo("acme/R1-GGUF", {"R1-Q4_K_M.gguf": b"a" * 3000, "R1-Q8_0.gguf": b"b" * 5000})

    assert main(["models", "search", "r1", "--sizes"]) == 0
    out = capsys.readouterr().out
    assert "acme/R1-GGUF" in out and "Q4_K_M" in out and "2.9 KiB" in out
    assert main(["models", "quants", "acme/R1-GGUF"]) == 0
    assert "Q8_0" in capsys.readouterr().out
    assert main(["models", "login", "--token", "wrong"]) == 2
    assert "refused" in capsys.readouterr().err
    assert main(["models", "login", "--token", TOKEN]) == 0
    assert "ponder-tester" in capsys.readouterr().out
    assert credentials.get_token() == TOKEN


@pytest.mark.parametrize(
    ("entry", "name"),
    [(("qwen3-8b", "Q4_K_M"), "DeepSeek-R1-0528-Qwen3-8B-Q4_K_M.gguf"),
     (("r1-671b", "UD-IQ1_S"), "DeepSeek-R1-UD-IQ1_S.gguf")],
)  # fmt: skip
def test_a_hub_quant_is_planned_from_its_header_alone(
    fake_hub: FakeHub, tmp_path: Path, entry: tuple[str, str], name: str
) -> None:
    """The planner's verdict before a download: a few MiB of header, not gigabytes."""
    local = write_header_only(tmp_path / name, *entry)  # sparse: the real header, full size
    fake_hub.add_repo("someone/r1-gguf", {name: local}, hash_files=False)
    listing = hub.repo_listing("someone/r1-gguf")
    (choice,) = listing.quants
    machine = HardwareInfo(CpuInfo("Ryzen", 16, 32), 192 * 2**30, 180 * 2**30)
    remote = plan_hub_quant("someone/r1-gguf", listing.revision, choice, machine)
    here = plan_load(local, machine)
    assert remote.verdict == here.verdict and remote.estimate == here.estimate
    assert (remote.n_ctx, remote.n_gpu_layers) == (here.n_ctx, here.n_gpu_layers)
    assert remote.model_path == f"someone/r1-gguf/{name}"
    size = local.stat().st_size
    assert fake_hub.sent[name] < min(64 * 2**20, size // 20)  # the header, not the file
    assert [e.purpose for e in netlog.read_log()][-1] == "metadata"


def test_a_split_quant_plans_from_its_first_part_and_a_broken_one_does_not(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    parts = write_split(
        tmp_path, "Tiny-R1-UD-IQ1_S", 3, arch="deepseek2", n_layer=6, n_expert=8, n_expert_used=2
    )
    fake_hub.add_repo("acme/Tiny-R1-GGUF", {p.name: p for p in parts})
    listing = hub.repo_listing("acme/Tiny-R1-GGUF")
    (choice,) = listing.quants
    machine = HardwareInfo(CpuInfo("Ryzen", 16, 32), 64 * 2**30, 60 * 2**30)
    remote = plan_hub_quant("acme/Tiny-R1-GGUF", listing.revision, choice, machine)
    assert remote.verdict.ok and fake_hub.sent.get(parts[1].name) is None  # the first part only

    first = set_value(parts[0], tmp_path / "edited.gguf", "deepseek2.block_count", 100000)
    fake_hub.add_repo(
        "acme/Broken-R1-GGUF", {parts[0].name: first} | {p.name: p for p in parts[1:]}
    )
    listing = hub.repo_listing("acme/Broken-R1-GGUF")
    (choice,) = listing.quants
    with pytest.raises(ModelFileError, match="100,000 layers"):
        plan_hub_quant("acme/Broken-R1-GGUF", listing.revision, choice, machine)


def test_a_download_is_read_in_big_steps(fake_hub: FakeHub) -> None:
    """Bodies are read up to 256 KiB at a time, not httpcore's 64 KiB: on a fast link the work
    per read, not the link, would set the speed (bench/download.py)."""
    body = os.urandom(16 * 1024 * 1024)
    fake_hub.add_repo("acme/Big-GGUF", {"b-Q4_0.gguf": body})
    listing = hub.repo_listing("acme/Big-GGUF")
    sizes = []
    with hub.open_file("acme/Big-GGUF", listing.revision, "b-Q4_0.gguf") as stream:
        got = bytearray()
        for chunk in stream.chunks():
            sizes.append(len(chunk))
            got += chunk
    assert got == body
    assert max(sizes) > 64 * 1024  # the loopback sender is ahead: reads come back full
