"""The model manager against a loopback Hub: catalog sizes and fit, search, downloads, the store.

The real huggingface_hub client talks to tests.hub_server through HF_ENDPOINT; the token goes
to an in-memory keyring. Every wait is on a signal or a condition, never a sleep.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop.common.error_messages import describe
from desktop.engines.bridge import EngineBridge
from desktop.engines.fit_badge import TEXT, assume_gpus_usable
from desktop.models import store_tab
from desktop.models.download_bridge import DownloadBridge
from desktop.models.import_choices import cached_quants
from desktop.models.manager import ModelManagerDialog
from desktop.models.quant_tree import APPROX_NOTE, CHECKED_NOTE, ESTIMATE_NOTE, FIT, SIZE
from desktop.window.main_window import MainWindow
from model_runtime import credentials, netlog
from model_runtime.errors import (
    AuthenticationRequired,
    ChecksumMismatch,
    GatedRepo,
    NoNetwork,
    NotEnoughDisk,
    OfflineMode,
    RepoNotFound,
)
from model_runtime.models.catalog import load_catalog
from model_runtime.models.download_queue import DownloadManager
from model_runtime.models.downloads import DownloadOptions, DownloadRequest
from model_runtime.models.manifest import Manifest, ModelFile
from model_runtime.models.references import recent_model_paths
from model_runtime.models.seen_sizes import load_seen_sizes
from model_runtime.models.starter import STARTER_NAME
from model_runtime.models.store import ModelStore
from model_runtime.planning.planner import plan_load
from model_runtime.planning.recommend import approx_size
from model_runtime.units import size_text
from tests.broken_models import broken_model
from tests.gguf_factory import write_tiny_model
from tests.hub_server import TOKEN, FakeHub
from tests.model_shapes import write_header_only

FAST = DownloadOptions(stall_seconds=2, backoff_base=0.02, backoff_max=0.1, max_retries=3)
MIB = 1024 * 1024
HUB_MS = 20_000
LOAD_MS = 60_000
QWEN_15B = "r1-distill-qwen-1.5b"
QWEN_REPO = "unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF"
Q8_FILE = "DeepSeek-R1-Distill-Qwen-1.5B-Q8_0.gguf"
NO_NETWORK_HUB = "http://ponder-offline.invalid"  # fails at name resolution, sends nothing
RED = "#b3261e"


def noise(n: int, seed: int = 0) -> bytes:
    """n bytes that do not compress or repeat."""
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


@pytest.fixture
def catalog_repo(fake_hub: FakeHub, tmp_path: Path) -> dict[str, Path]:
    """The first repo of the smallest catalog model, holding two tiny real GGUFs."""
    src = tmp_path / "published"
    src.mkdir()
    files = {
        Q8_FILE: write_tiny_model(src / Q8_FILE, name="Tiny R1 Distill", seed=1),
        "DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf": write_tiny_model(
            src / "q4.gguf", n_layer=1, seed=2
        ),
    }
    fake_hub.add_repo(QWEN_REPO, {**files, "README.md": b"# R1 1.5B\n"}, downloads=9000)
    return files


@pytest.fixture
def bridge(fake_hub: FakeHub) -> Iterator[DownloadBridge]:
    """The app's download bridge over a fresh store, with short retry delays."""
    bridge = DownloadBridge(DownloadManager(options=FAST))
    yield bridge
    bridge.close()


def _finish(dialog: ModelManagerDialog) -> None:
    dialog.close()
    dialog.tasks.cancel_all()
    assert dialog.tasks.wait(15), "a background task did not end"


def _shown_dialog(qtbot: Any, bridge: DownloadBridge) -> Iterator[ModelManagerDialog]:
    dialog = ModelManagerDialog(bridge)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.hardware is not None, timeout=HUB_MS)
    yield dialog
    _finish(dialog)


@pytest.fixture
def dialog(qtbot: Any, bridge: DownloadBridge) -> Iterator[ModelManagerDialog]:
    """A shown model manager; its background tasks end before the fake Hub stops.

    Showing it starts listing the catalog on the Hub: a test that needs a catalog repo
    published uses catalog_dialog instead.
    """
    yield from _shown_dialog(qtbot, bridge)


@pytest.fixture
def catalog_dialog(
    qtbot: Any, catalog_repo: dict[str, Path], bridge: DownloadBridge
) -> Iterator[ModelManagerDialog]:
    """The model manager shown only once catalog_repo is on the Hub, so its listing finds it."""
    yield from _shown_dialog(qtbot, bridge)


def wait_listed(qtbot: Any, dialog: ModelManagerDialog, model_id: str = QWEN_15B) -> None:
    """Until the model's listing has been shown (it may have come before the test looks)."""
    qtbot.waitUntil(lambda: model_id in dialog.recommended.answered, timeout=HUB_MS)


def wait_ended(qtbot: Any, bridge: DownloadBridge, model_id: str, state: str) -> Any:
    return qtbot.waitSignal(
        bridge.ended,
        timeout=HUB_MS,
        check_params_cb=lambda p: p.model_id == model_id and p.state == state,
    )


def answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    """Make QMessageBox.question answer `button`; returns the questions asked."""
    asked: list[str] = []

    def question(parent: object, title: str, text: str, *args: object) -> object:
        asked.append(text)
        return button

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


# -- Recommended ---------------------------------------------------------------------------


def test_recommended_lists_the_catalog_then_hub_sizes_and_a_fit_badge(
    qtbot: Any, catalog_dialog: ModelManagerDialog, catalog_repo: dict[str, Path], fake_hub: FakeHub
) -> None:
    dialog = catalog_dialog
    tree = dialog.recommended.tree
    for model in load_catalog():
        group = tree.group(model.id)
        assert group is not None and group.text(0) == model.name
        assert group.childCount() == len(model.quants)

    wait_listed(qtbot, dialog)
    q8 = tree.quant_item(QWEN_15B, "Q8_0")
    assert q8 is not None
    # the listing may come from the model's second repo: wait for its sizes to land
    qtbot.waitUntil(lambda: q8.text(SIZE) != "…", timeout=HUB_MS)
    assert q8.text(0) == "Q8_0 · recommended"
    assert q8.text(SIZE) == size_text(catalog_repo[Q8_FILE].stat().st_size)
    assert q8.text(FIT) == "● Fits"  # a few hundred KiB fit any computer
    assert "Needs about" in q8.toolTip(FIT) and "RAM free" in q8.toolTip(FIT)
    assert tree.button(QWEN_15B, "Q8_0").text() == "Download"  # type: ignore[union-attr]
    q6 = tree.quant_item(QWEN_15B, "Q6_K")
    assert q6 is not None and q6.text(FIT) == "not offered"
    assert tree.button(QWEN_15B, "Q6_K") is None
    assert tree.group(QWEN_15B).text(FIT) == "from unsloth"  # type: ignore[union-attr]
    # The listing ran on a worker thread and asked the Hub for file metadata (sizes, sha256).
    asked = [s for s in fake_hub.seen if s.path == f"/api/models/{QWEN_REPO}"]
    assert asked and asked[0].query.get("blobs") == ["true"]
    # A catalog model the (fake) Hub lacks says so in words, in its row.
    wait_listed(qtbot, dialog, "r1")
    assert tree.group("r1").text(FIT) == "A Hugging Face token is needed"  # type: ignore[union-attr]
    r1 = tree.quant_item("r1", "UD-IQ1_S")
    assert r1 is not None and r1.text(SIZE) == "—"  # no size is coming: not an endless "…"


# -- Search --------------------------------------------------------------------------------


def test_search_shows_results_with_popularity_then_quants_with_sizes(
    qtbot: Any, dialog: ModelManagerDialog, fake_hub: FakeHub
) -> None:
    fake_hub.add_repo(
        "acme/R1-Distill-GGUF",
        {"R1-Q4_K_M.gguf": noise(3000), "R1-Q8_0.gguf": noise(5000)},
        downloads=12_345,
        likes=67,
    )
    fake_hub.add_repo("other/R1-Distill-More-GGUF", {"x-IQ4_XS.gguf": b"c"}, downloads=90)
    tab = dialog.search
    dialog.tabs.setCurrentWidget(tab)

    tab.query.setText("r1-distill")
    with qtbot.waitSignal(tab.results_shown, timeout=HUB_MS) as shown:
        qtbot.mouseClick(tab.search_button, Qt.MouseButton.LeftButton)

    assert [r.repo_id for r in shown.args[0]] == [
        "acme/R1-Distill-GGUF",
        "other/R1-Distill-More-GGUF",
    ]
    group = tab.tree.group("acme/R1-Distill-GGUF")
    assert group is not None and group.text(FIT).startswith("↓ 12k   ♥ 67")
    assert [group.child(i).text(0) for i in range(group.childCount())] == ["Q4_K_M", "Q8_0"]
    assert group.child(0).text(SIZE) == "…"  # sizes come with the repo's listing

    with qtbot.waitSignal(tab.listing_shown, timeout=HUB_MS):
        group.setExpanded(True)

    q4 = tab.tree.quant_item("acme/R1-Distill-GGUF", "Q4_K_M")
    assert q4 is not None and q4.text(SIZE) == "2.9 KiB" and q4.text(FIT) == "● Fits"
    assert tab.tree.button("acme/R1-Distill-GGUF", "Q8_0").isEnabled()  # type: ignore[union-attr]


def test_a_401_and_a_404_are_said_plainly_and_a_saved_token_opens_the_repo(
    qtbot: Any, dialog: ModelManagerDialog, fake_hub: FakeHub, memory_keyring: Any
) -> None:
    fake_hub.add_repo("acme/Private-GGUF", {"p-Q4_0.gguf": noise(1000)}, private=True)
    tab = dialog.search
    dialog.tabs.setCurrentWidget(tab)

    tab.query.setText("acme/Private-GGUF")  # owner/name: the repo itself is opened too
    with qtbot.waitSignal(tab.failed, timeout=HUB_MS) as failed:
        tab.search()
    assert isinstance(failed.args[0], AuthenticationRequired)
    assert tab.notice.isVisible() and tab.notice.kind == "error"
    assert tab.notice.text().startswith("A Hugging Face token is needed. Logging in is needed")

    # A wrong token is refused by the Hub and never kept.
    row = dialog.token_row
    row.edit.setText("hf_wrong")
    with qtbot.waitSignal(row.failed, timeout=HUB_MS) as refused:
        qtbot.keyClick(row.edit, Qt.Key.Key_Return)
    assert "refused this access token" in refused.args[0]
    assert memory_keyring.passwords == {}
    # The right one is checked (whoami), saved in the keyring, and not shown back.
    row.edit.setText(TOKEN)
    with qtbot.waitSignal(row.saved, timeout=HUB_MS) as saved:
        qtbot.mouseClick(row.save_button, Qt.MouseButton.LeftButton)
    assert saved.args == ["ponder-tester", False]
    assert credentials.get_token() == TOKEN
    assert row.edit.text() == "" and "saved (hidden)" in row.edit.placeholderText()
    assert TOKEN not in dialog.notice.text() and TOKEN not in row.status.text()

    with qtbot.waitSignal(tab.listing_shown, timeout=HUB_MS):
        tab.search()
    assert tab.tree.quant_item("acme/Private-GGUF", "Q4_0") is not None

    tab.query.setText("acme/No-Such-GGUF")  # with a token, the Hub says 404
    with qtbot.waitSignal(tab.failed, timeout=HUB_MS) as failed:
        tab.search()
    assert isinstance(failed.args[0], RepoNotFound)
    assert tab.notice.text() == (
        "Not found on the Hub. The Hub has no acme/No-Such-GGUF. Check the name."
    )


def test_without_a_key_store_the_token_works_until_ponder_quits(
    qtbot: Any, dialog: ModelManagerDialog, fake_hub: FakeHub, ponder_home: Path
) -> None:
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    fake_hub.add_repo("acme/Private-GGUF", {"p-Q4_0.gguf": noise(1000)}, private=True)
    before = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())  # a headless Linux without Secret Service
    try:
        row = dialog.token_row
        row.edit.setText(TOKEN)
        with qtbot.waitSignal(row.saved, timeout=HUB_MS) as saved:
            qtbot.mouseClick(row.save_button, Qt.MouseButton.LeftButton)
        assert saved.args == ["ponder-tester", True]
        assert dialog.notice.text().startswith(
            "The token of ponder-tester works until Ponder quits; it is kept in memory only, "
            "never written to a file. No secure key store is available on this system"
        )
        assert row.status.text() == "Kept until Ponder quits"
        assert "until Ponder quits" in row.edit.placeholderText()
        assert credentials.get_token() == TOKEN
        tab = dialog.search
        tab.query.setText("acme/Private-GGUF")
        with qtbot.waitSignal(tab.listing_shown, timeout=HUB_MS):
            tab.search()  # the token opens the private repository
        held = [
            p for p in ponder_home.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()
        ]
        assert held == []
    finally:
        keyring.set_keyring(before)


def test_a_gated_download_fails_with_what_to_do(
    qtbot: Any, dialog: ModelManagerDialog, fake_hub: FakeHub, bridge: DownloadBridge
) -> None:
    fake_hub.add_repo("acme/Gated-GGUF", {"g-Q4_0.gguf": noise(1000)}, gated=True)

    with wait_ended(qtbot, bridge, "acme--Gated-GGUF--Q4_0", "failed"):
        dialog.download("acme/Gated-GGUF", "Q4_0")

    row = dialog.downloads_tab.row("acme--Gated-GGUF--Q4_0")
    assert row is not None and row.state == "failed"
    assert "gated" in row.detail.text() and "accept its conditions" in row.detail.text()
    assert row.resume_button.isVisibleTo(row) and not row.pause_button.isVisibleTo(row)


# -- Downloads -----------------------------------------------------------------------------


@pytest.fixture
def window(qtbot: Any, fake_hub: FakeHub) -> Iterator[MainWindow]:
    """A main window with its own engine; no worker process outlives it."""
    engine = EngineBridge()
    win = MainWindow(engine)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    if win.model_manager is not None:
        _finish(win.model_manager)
    win.close()
    engine.shutdown()
    # the hardware check asks llama.cpp in a child process that ends by itself (a loaded
    # machine can still be starting it when the window closes)
    qtbot.waitUntil(lambda: multiprocessing.active_children() == [], timeout=30_000)


def test_a_quant_downloads_verified_appears_on_this_computer_and_loads(
    qtbot: Any, window: MainWindow, catalog_repo: dict[str, Path]
) -> None:
    window.commands.models.trigger()
    dialog = window.model_manager
    assert dialog is not None and dialog.isVisible()
    wait_listed(qtbot, dialog)
    model_id = f"{QWEN_REPO.replace('/', '--')}--Q8_0"
    button = dialog.recommended.tree.button(QWEN_15B, "Q8_0")
    assert button is not None

    with wait_ended(qtbot, window.downloads, model_id, "complete-verified"):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        dialog.close()  # downloads belong to the app: they go on without the dialog
    window.commands.models.trigger()
    assert window.model_manager is dialog and dialog.isVisible()

    row = dialog.downloads_tab.row(model_id)
    assert row is not None and row.bar.value() == 1000 and row.percent.text() == "100%"
    size = size_text(catalog_repo[Q8_FILE].stat().st_size)
    assert row.detail.text() == f"Complete · verified · {size} of {size}"
    assert row.title.text() == "DeepSeek-R1-Distill-Qwen-1.5B · Q8_0"
    assert not row.pause_button.isVisibleTo(row) and row.load_button.isVisibleTo(row)
    stored = ModelStore().get(model_id)
    assert stored.manifest.is_usable
    assert stored.model_path.read_bytes() == catalog_repo[Q8_FILE].read_bytes()
    assert button.text() == "Load"  # the quant's row follows the store

    store = dialog.store_tab
    dialog.tabs.setCurrentWidget(store)
    assert store.select(model_id)
    assert [store.table.item(0, c).text() for c in range(4)] == [  # type: ignore[union-attr]
        "DeepSeek-R1-Distill-Qwen-1.5B",
        "Q8_0",
        size,
        "Ready",
    ]
    qtbot.waitUntil(lambda: store.table.item(0, 4).text() == "● Fits", timeout=HUB_MS)  # type: ignore[union-attr]
    assert "layers on the GPU" in store.table.item(0, 4).toolTip()  # type: ignore[union-attr]

    with (
        qtbot.waitSignal(dialog.load_requested) as chosen,
        qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS) as loaded,
    ):
        qtbot.mouseClick(store.load_button, Qt.MouseButton.LeftButton)
    assert chosen.args == [str(stored.model_path)]
    assert loaded.args[0].path == str(stored.model_path)
    assert not dialog.isVisible()  # out of the way of the chat
    assert window.composer.button.isEnabled()


def test_pause_resume_and_cancel_from_the_row(
    qtbot: Any,
    dialog: ModelManagerDialog,
    bridge: DownloadBridge,
    fake_hub: FakeHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_hub.add_repo("acme/Slow-GGUF", {"Slow-Q4_0.gguf": noise(3 * MIB, 1)})
    fake_hub.add_repo("acme/Gone-GGUF", {"Gone-Q4_0.gguf": noise(2 * MIB, 2)})
    fake_hub.rate = 2 * MIB
    slow, gone = "acme--Slow-GGUF--Q4_0", "acme--Gone-GGUF--Q4_0"
    tab = dialog.downloads_tab

    with qtbot.waitSignal(
        bridge.progress,
        timeout=HUB_MS,
        check_params_cb=lambda p: p.model_id == slow and p.done > MIB // 4,
    ):
        dialog.download("acme/Slow-GGUF", "Q4_0")
    row = tab.row(slow)
    assert row is not None and row.pause_button.isVisibleTo(row)
    assert dialog.tabs.tabText(dialog.tabs.indexOf(tab)) == "Downloads (1)"
    assert "MiB/s" in row.detail.text() or "KiB/s" in row.detail.text()

    with wait_ended(qtbot, bridge, slow, "paused"):
        qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
    paused_at = ModelStore().partial_bytes(ModelStore().get(slow).manifest)
    assert 0 < paused_at < 3 * MIB
    assert row.resume_button.isVisibleTo(row) and not row.pause_button.isVisibleTo(row)
    assert row.detail.text().startswith("Paused · ")

    fake_hub.rate = None
    with wait_ended(qtbot, bridge, slow, "complete-verified"):
        qtbot.mouseClick(row.resume_button, Qt.MouseButton.LeftButton)
    starts = fake_hub.range_starts("Slow-Q4_0.gguf")
    assert starts[0] == 0 and starts[-1] > 0  # the resumed request asked for the rest only
    assert ModelStore().get(slow).manifest.is_usable

    fake_hub.rate = MIB
    with qtbot.waitSignal(
        bridge.progress, timeout=HUB_MS, check_params_cb=lambda p: p.model_id == gone and p.done > 0
    ):
        dialog.download("acme/Gone-GGUF", "Q4_0")
    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)
    with wait_ended(qtbot, bridge, gone, "cancelled"):
        qtbot.mouseClick(tab.row(gone).cancel_button, Qt.MouseButton.LeftButton)  # type: ignore[union-attr]
    assert asked and "delete the" in asked[0]
    assert tab.row(gone) is None
    assert ModelStore().find(gone) is None and not ModelStore().folder(gone).exists()


def test_an_interrupted_download_resumes_at_start(
    qtbot: Any, fake_hub: FakeHub, bridge: DownloadBridge
) -> None:
    fake_hub.add_repo("acme/Again-GGUF", {"Again-Q4_0.gguf": noise(2 * MIB, 4)})
    fake_hub.rate = MIB
    model_id = bridge.add(DownloadRequest("acme/Again-GGUF", "Q4_0"))
    with qtbot.waitSignal(bridge.progress, timeout=HUB_MS, check_params_cb=lambda p: p.done > 0):
        pass
    bridge.close()  # quitting mid-download leaves it "downloading"
    assert ModelStore().get(model_id).state == "downloading"
    fake_hub.rate = None

    again = DownloadBridge(DownloadManager(options=FAST))
    try:
        with wait_ended(qtbot, again, model_id, "complete-verified"):
            assert again.start() == [model_id]
    finally:
        again.close()


# -- On this computer ----------------------------------------------------------------------


def test_import_verify_reveal_and_delete_with_confirmation(
    qtbot: Any,
    dialog: ModelManagerDialog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = write_tiny_model(tmp_path / "Mine-Q8_0.gguf", name="My Tiny Model")
    store = dialog.store_tab
    dialog.tabs.setCurrentWidget(store)
    assert "No models yet" in store.summary.text()

    with qtbot.waitSignal(store.task_done, timeout=HUB_MS):
        store.import_file(str(source), "link")
    assert source.exists()
    assert [m.model_id for m in store.models] == ["local--Mine-Q8_0"]
    assert store.notice.text() == "Imported My Tiny Model; it is ready to load."
    assert store.select("local--Mine-Q8_0") and store.load_button.isEnabled()

    with qtbot.waitSignal(store.task_done, timeout=HUB_MS):
        qtbot.mouseClick(store.verify_button, Qt.MouseButton.LeftButton)
    assert store.notice.text() == "Every file of My Tiny Model (F16) matches its sha256 (1 file)."

    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    qtbot.mouseClick(store.reveal_button, Qt.MouseButton.LeftButton)
    assert [u.toLocalFile() for u in opened] == [str(ModelStore().folder("local--Mine-Q8_0"))]

    asked = answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    qtbot.mouseClick(store.delete_button, Qt.MouseButton.LeftButton)
    assert asked and asked[0].startswith("Delete My Tiny Model (")
    assert ModelStore().find("local--Mine-Q8_0") is not None  # Cancel keeps it

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(store.delete_button, Qt.MouseButton.LeftButton)
    assert ModelStore().find("local--Mine-Q8_0") is None
    assert store.models == [] and store.notice.text().startswith("Deleted My Tiny Model")
    assert store.table.rowCount() == len(store.references)  # the starter model, for one
    assert source.exists()  # deleting a linked model leaves the person's file alone


def test_an_import_reads_the_file_first_and_refuses_what_is_no_gguf_model(
    qtbot: Any, dialog: ModelManagerDialog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def choose(parent: object, name: str) -> str:
        asked.append(name)
        return "link"

    monkeypatch.setattr(store_tab, "choose_import_mode", choose)
    store = dialog.store_tab
    dialog.tabs.setCurrentWidget(store)
    bad = tmp_path / "Notes-Q4_0.gguf"
    bad.write_bytes(b"These are my notes, not a model.\n" * 40)
    empty = tmp_path / "Empty-Q4_0.gguf"
    empty.touch()
    alien, alien_why = broken_model(tmp_path, "unknown-architecture")
    for path, why in (
        (bad, f"{bad} is not a GGUF model file"),
        (empty, f"{empty} is empty (0 bytes)"),
        (alien, ""),
    ):
        with qtbot.waitSignal(store.task_done, timeout=HUB_MS):
            store.import_file(str(path))
        assert asked == []  # refused before any question
        assert store.notice.kind == "error"
        assert store.notice.text().startswith(f"Not imported: {why}")
        assert (alien_why in store.notice.text()) == (path == alien)
        assert store.models == [] and store.import_button.isEnabled()

    good = write_tiny_model(tmp_path / "Good-Q8_0.gguf", name="Good Tiny Model")
    with qtbot.waitSignal(store.task_done, timeout=HUB_MS):
        store.import_file(str(good))
    assert asked == ["Good-Q8_0.gguf"]  # asked only once the file proved a GGUF model
    assert [m.manifest.name for m in store.models] == ["Good Tiny Model"]


def test_the_starter_and_opened_files_are_listed_as_references(
    qtbot: Any,
    window: MainWindow,
    smollm2: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = write_tiny_model(tmp_path / "Opened-Q8_0.gguf", name="Opened Tiny Model")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(opened), ""))
    loads: list[str] = []
    monkeypatch.setattr(window, "load_model", loads.append)
    window.commands.open.trigger()  # File → Open… remembers the file
    assert loads == [str(opened)] and recent_model_paths() == [opened]

    window.commands.models.trigger()
    dialog = window.model_manager
    assert dialog is not None
    store = dialog.store_tab
    dialog.tabs.setCurrentWidget(store)
    table = store.table

    def cells(row: int) -> list[str]:
        return [table.item(row, c).text() for c in range(4)]  # type: ignore[union-attr]

    assert [r.path for r in store.references] == [smollm2, opened]
    assert cells(0) == [STARTER_NAME, "Q4_1", size_text(smollm2.stat().st_size), "Reference"]
    assert cells(1) == ["Opened-Q8_0.gguf", "Q8_0", size_text(opened.stat().st_size), "Reference"]
    assert "not copied" in table.item(1, 0).toolTip()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: table.item(0, 4).text() == "● Fits", timeout=HUB_MS)  # type: ignore[union-attr]

    assert store.select_reference(smollm2)  # the starter: loaded, never removed
    assert store.load_button.isEnabled() and not store.verify_button.isEnabled()
    assert store.delete_button.text() == "Remove from list"
    assert not store.delete_button.isEnabled()
    assert store.select_reference(opened)
    assert store.delete_button.isEnabled()
    with qtbot.waitSignal(dialog.load_requested) as chosen:
        qtbot.mouseClick(store.load_button, Qt.MouseButton.LeftButton)
    assert chosen.args == [str(opened)]

    opened.unlink()  # moved away: greyed as missing, never loaded, and can be removed
    store.refresh()
    assert cells(1)[3] == "Missing" and cells(1)[2] == "—"
    assert table.item(1, 0).foreground().color().name() == "#8a9099"  # type: ignore[union-attr]
    assert store.select_reference(opened) and not store.load_button.isEnabled()
    with qtbot.assertNotEmitted(dialog.load_requested):
        store.load_selected()
        table.itemDoubleClicked.emit(table.item(1, 0))
    qtbot.mouseClick(store.delete_button, Qt.MouseButton.LeftButton)
    assert [r.path for r in store.references] == [smollm2]
    assert recent_model_paths() == []
    assert store.notice.text() == "Removed Opened-Q8_0.gguf from the list; the file is left alone."


def test_a_verify_runs_in_the_background_and_can_be_cancelled(
    qtbot: Any, dialog: ModelManagerDialog, tmp_path: Path
) -> None:
    store = ModelStore()
    big = 256 * MIB  # 64 blocks of hashing: Cancel lands long before the end
    manifest = Manifest(
        "acme--Big-GGUF--Q4_0", "Big", "hub", [ModelFile("Big-Q4_0.gguf", big, None, True)]
    )
    manifest.state = "complete-verified"
    stored = store.save(manifest)
    with open(stored.folder / "Big-Q4_0.gguf", "wb") as f:
        f.truncate(big)
    tab = dialog.store_tab
    dialog.tabs.setCurrentWidget(tab)
    tab.refresh()
    assert tab.select("acme--Big-GGUF--Q4_0")

    with qtbot.waitSignal(tab.task_done, timeout=HUB_MS):
        qtbot.mouseClick(tab.verify_button, Qt.MouseButton.LeftButton)
        assert tab.job.isVisibleTo(tab) and not tab.verify_button.isEnabled()
        qtbot.mouseClick(tab.job.cancel_button, Qt.MouseButton.LeftButton)

    assert tab.notice.text().startswith("Stopped. Checking ")
    assert not tab.job.isVisibleTo(tab) and tab.verify_button.isEnabled()
    assert store.get("acme--Big-GGUF--Q4_0").state == "complete-verified"  # nothing recorded


def test_the_hugging_face_cache_lists_its_quants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "hf" / "models--acme--Cached-GGUF"
    data = noise(4096, 7)
    sha = hashlib.sha256(data).hexdigest()
    (cache / "blobs").mkdir(parents=True)
    (cache / "blobs" / sha).write_bytes(data)
    (cache / "snapshots" / "abc").mkdir(parents=True)
    (cache / "snapshots" / "abc" / "Cached-Q4_0.gguf").symlink_to(cache / "blobs" / sha)
    (cache / "refs").mkdir()
    (cache / "refs" / "main").write_text("abc")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))

    assert cached_quants() == [("acme/Cached-GGUF", "Q4_0", 4096)]


# -- Offline -------------------------------------------------------------------------------


def test_offline_mode_says_so_and_makes_no_request(
    qtbot: Any, fake_hub: FakeHub, catalog_repo: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONDER_OFFLINE", "1")
    bridge = DownloadBridge(DownloadManager(options=FAST))
    assert bridge.start() == []
    dialog = ModelManagerDialog(bridge)
    qtbot.addWidget(dialog)
    try:
        dialog.show()
        qtbot.waitExposed(dialog)
        assert "Offline mode is on" in dialog.recommended.notice.text()
        assert not dialog.recommended.refresh_button.isEnabled()
        assert not dialog.recommended.tree.button(QWEN_15B, "Q8_0").isEnabled()  # type: ignore[union-attr]
        dialog.tabs.setCurrentWidget(dialog.search)
        assert dialog.search.notice.isVisible() and "Offline mode" in dialog.search.notice.text()
        assert not dialog.search.query.isEnabled() and not dialog.search.search_button.isEnabled()
        dialog.search.query.setText("r1")
        dialog.search.search()
        dialog.search.list_repo(QWEN_REPO)
        assert not dialog.tasks.busy or dialog.tasks.wait(10)
    finally:
        _finish(dialog)
        bridge.close()
    assert fake_hub.seen == []


def _open_manager(qtbot: Any, bridge: DownloadBridge) -> ModelManagerDialog:
    """A manager shown as the window shows it, waiting for its catalog listing to end."""
    dialog = ModelManagerDialog(bridge)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.recommended.listing_done, timeout=5_000):
        dialog.show()
        qtbot.waitExposed(dialog)
    return dialog


def test_with_no_network_the_manager_says_youre_offline_at_once(
    qtbot: Any, bridge: DownloadBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", NO_NETWORK_HUB)
    dialog = _open_manager(qtbot, bridge)  # within seconds, not a retried minute per model
    try:
        tab = dialog.recommended
        assert tab.notice.kind == "error"
        assert tab.notice.text().startswith(
            "You're offline. Ponder could not reach ponder-offline.invalid: its name could "
            "not be looked up"
        )
        for model in load_catalog():  # no red error per family, and no endless "…"
            group = tab.tree.group(model.id)
            assert group is not None and group.text(FIT) == ""
        # never listed: about how big, from the parameter count, and said to be an estimate
        q8 = tab.tree.quant_item(QWEN_15B, "Q8_0")
        model = next(m for m in load_catalog() if m.id == QWEN_15B)
        assert q8 is not None and q8.text(SIZE) == f"≈ {size_text(approx_size(model, 'Q8_0'))}"
        assert q8.toolTip(SIZE) == APPROX_NOTE and q8.text(FIT).startswith("● ")
        assert q8.toolTip(FIT).endswith(APPROX_NOTE)
        unsized = tab.tree.quant_item("r1", "UD-IQ1_S")  # no typical size known: none guessed
        assert unsized is not None and unsized.text(SIZE) == "—"
        button = tab.tree.button(QWEN_15B, "Q8_0")
        assert button is not None and not button.isEnabled()
        assert button.toolTip() == "You're offline: the Hub can't be reached."
        assert tab.refresh_button.isEnabled()  # to try again once the network is back

        search = dialog.search
        dialog.tabs.setCurrentWidget(search)
        search.query.setText("r1")
        with qtbot.waitSignal(search.failed, timeout=5_000) as failed:
            qtbot.mouseClick(search.search_button, Qt.MouseButton.LeftButton)
        assert isinstance(failed.args[0], NoNetwork)
        assert search.notice.text().startswith("You're offline. Ponder could not reach")
        # one request each, not retried; each logged as failed for want of a network
        events = netlog.read_log()
        assert [e.purpose for e in events] == ["metadata", "search"]
        assert all(e.detail.startswith("no network: ") for e in events)
    finally:
        _finish(dialog)


def test_offline_the_catalog_shows_the_sizes_the_hub_gave_last_with_their_date(
    qtbot: Any,
    catalog_dialog: ModelManagerDialog,
    catalog_repo: dict[str, Path],
    fake_hub: FakeHub,
    bridge: DownloadBridge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = catalog_dialog.recommended
    qtbot.waitUntil(lambda: len(first.answered) == len(first.models), timeout=HUB_MS)
    qtbot.waitUntil(first.refresh_button.isEnabled, timeout=HUB_MS)  # its answers are kept
    _finish(catalog_dialog)
    size = catalog_repo[Q8_FILE].stat().st_size
    seen = load_seen_sizes()[QWEN_15B]
    assert seen.repo_id == QWEN_REPO and seen.quants["Q8_0"] == (size, 1)
    asked = len(fake_hub.seen)

    for name, value in (("PONDER_OFFLINE", "1"), ("HF_ENDPOINT", NO_NETWORK_HUB)):
        monkeypatch.setenv(name, value)
        dialog = ModelManagerDialog(bridge)
        qtbot.addWidget(dialog)
        try:
            _check_sizes_seen(qtbot, dialog, size_text(size), seen.date_text)
        finally:
            _finish(dialog)
        monkeypatch.delenv(name)
    assert len(fake_hub.seen) == asked  # nothing reached the Hub


def _check_sizes_seen(qtbot: Any, dialog: ModelManagerDialog, size: str, date: str) -> None:
    dialog.show()
    qtbot.waitExposed(dialog)
    tab = dialog.recommended
    qtbot.waitUntil(lambda: "sizes shown" in tab.notice.text(), timeout=5_000)
    qtbot.waitUntil(lambda: dialog.hardware is not None, timeout=HUB_MS)
    q8 = tab.tree.quant_item(QWEN_15B, "Q8_0")
    assert q8 is not None and q8.text(SIZE) == size
    assert q8.text(FIT) == "● Fits"  # the badge from the size seen
    group = tab.tree.group(QWEN_15B)
    assert group is not None and group.text(FIT) == f"sizes of {date}"
    assert f"The sizes shown are those the Hub gave on {date}." in tab.notice.text()


def test_turning_offline_mode_on_clears_stale_errors_at_once(
    qtbot: Any, window: MainWindow, catalog_repo: dict[str, Path]
) -> None:
    window.commands.models.trigger()
    dialog = window.model_manager
    assert dialog is not None
    wait_listed(qtbot, dialog, "r1")  # the fake Hub lacks its repository: a red error
    tree = dialog.recommended.tree
    r1 = tree.group("r1")
    assert r1 is not None and r1.text(FIT) == "A Hugging Face token is needed"
    assert r1.foreground(FIT).color().name() == RED

    settings = window.show_settings()
    try:
        settings.privacy_tab.offline.setChecked(True)
        assert r1.text(FIT) == ""  # at once, without another look at the Hub
        assert r1.foreground(FIT).color().name() != RED
        assert "Offline mode is on" in dialog.recommended.notice.text()
        assert not dialog.search.search_button.isEnabled()
        assert not tree.button(QWEN_15B, "Q8_0").isEnabled()  # type: ignore[union-attr]

        settings.privacy_tab.offline.setChecked(False)  # on screen: the Hub is asked again
        wait_listed(qtbot, dialog, "r1")
        qtbot.waitUntil(lambda: r1.text(FIT) == "A Hugging Face token is needed", timeout=HUB_MS)
        assert dialog.search.search_button.isEnabled()
    finally:
        settings.close()


# -- Words ---------------------------------------------------------------------------------


def test_download_errors_have_titles_that_say_what_happened() -> None:
    assert describe(OfflineMode("x"))[0] == "Offline mode is on"
    assert describe(GatedRepo("x"))[0] == "This model is gated"
    assert describe(AuthenticationRequired("x"))[0] == "A Hugging Face token is needed"
    assert describe(RepoNotFound("x"))[0] == "Not found on the Hub"
    assert describe(ChecksumMismatch("x"))[0] == "The download was damaged"
    assert describe(NotEnoughDisk("x", needed=2, free=1))[0] == "Not enough disk space"


def test_selecting_a_hub_quant_plans_it_from_its_header(
    qtbot: Any, dialog: ModelManagerDialog, fake_hub: FakeHub, tmp_path: Path
) -> None:
    """The badge goes from an estimate by size to the planner's verdict, for a few MiB."""
    small = write_header_only(tmp_path / "R1-Q4_K_M.gguf", "qwen3-8b", "Q4_K_M")
    huge = write_header_only(tmp_path / "R1-UD-IQ1_S.gguf", "r1-671b", "UD-IQ1_S")
    files = {"R1-Q4_K_M.gguf": small, "R1-UD-IQ1_S.gguf": huge, "R1-Q8_0.gguf": noise(9000)}
    fake_hub.add_repo("acme/R1-Header-GGUF", files, hash_files=False)
    tab = dialog.search
    dialog.tabs.setCurrentWidget(tab)
    tab.query.setText("acme/R1-Header-GGUF")
    with qtbot.waitSignal(tab.listing_shown, timeout=HUB_MS):
        qtbot.mouseClick(tab.search_button, Qt.MouseButton.LeftButton)
    tree = tab.tree
    key = "acme/R1-Header-GGUF"

    def select(quant: str) -> Any:
        item = tree.quant_item(key, quant)
        assert item is not None and item.text(FIT).startswith("● ")  # the estimate first
        assert ESTIMATE_NOTE in item.toolTip(FIT)
        with qtbot.waitSignal(tree.fit_checked, timeout=HUB_MS) as checked:
            tree.setCurrentItem(item)
        assert checked.args == [key, quant]
        return tree.quant_item(key, quant)

    q4 = select("Q4_K_M")
    hw = dialog.hardware
    assert hw is not None
    local = plan_load(small, assume_gpus_usable(hw))
    assert q4.text(FIT) == f"✓ {TEXT[local.verdict.fit]}"
    assert q4.toolTip(FIT).startswith(CHECKED_NOTE) and f"Context {local.n_ctx:,}" in q4.toolTip(
        FIT
    )
    assert fake_hub.sent["R1-Q4_K_M.gguf"] < 64 * MIB  # its header, not its 5 GB

    r1 = select("UD-IQ1_S")
    assert r1.text(FIT) == "✓ Too big for this computer"  # 131 GB of weights
    assert "choose a smaller model" in r1.toolTip(FIT) or "Needs about" in r1.toolTip(FIT)

    broken = select("Q8_0")  # not a GGUF: the estimate stays, and the tooltip says why
    assert broken.text(FIT).startswith("● ") and "could not be read" in broken.toolTip(FIT)
    assert "not a GGUF model file" in broken.toolTip(FIT)
    tree.setCurrentItem(q4)  # asked once: no second read
    assert len(fake_hub.file_gets("R1-Q4_K_M.gguf")) == 1
