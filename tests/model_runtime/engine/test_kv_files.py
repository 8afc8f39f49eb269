"""The KV state cache's tiers on real files: the disk format and its checks, the size cap, a full
disk, forgetting a chat; the memory tier's budget. (The engine's use of them, on the real model,
is in test_kv_cache.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_runtime.engine.cache_settings import (
    DEFAULT_DISK_BYTES,
    CacheSettings,
    load_cache_settings,
    save_cache_settings,
)
from model_runtime.engine.kv_entries import Entry, RamTier, as_tokens, common_prefix
from model_runtime.engine.kv_files import (
    HEAD_SIZE,
    SUFFIX,
    DiskTier,
    file_name,
    forget_files,
    usage,
)
from model_runtime.engine.kv_key import StateKey, model_identity, versions
from model_runtime.errors import PonderError
from tests.disks import Tmpfs

KIB = 1024


def key_for(model: Path, **changes: object) -> StateKey:
    values = {**versions("CPU : AVX2 = 1 |"), "model": json.dumps(model_identity(model))}
    values |= {"n_ctx": 2048, "type_k": 1, "type_v": 1, "flash_attn": 0, "rope": "-1/0/0"}
    return StateKey.of({**values, **changes})


def entry(tokens: list[int], tag: str = "chat-1", size: int = 4 * KIB, fill: int = 7) -> Entry:
    blob = bytearray(os.urandom(size)) if fill < 0 else bytearray([fill]) * size
    return Entry(as_tokens(tokens), tag, size, blob=blob)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + bytes(60))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "kv"
    path.mkdir()
    return path


class Log(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


def tier(folder: Path, key: StateKey, cap: int = 1 << 30, reserve: int = 0) -> DiskTier:
    return DiskTier(folder, key, cap, reserve=reserve, log=Log())


def saved(disk: DiskTier, *entries: Entry) -> DiskTier:
    """Write entries through the tier's helper thread and wait for it."""
    for e in entries:
        disk.put(e)
    disk.close()
    return disk


def test_a_saved_state_reads_back_for_the_tokens_it_shares(folder: Path, model: Path) -> None:
    key = key_for(model)
    first = entry(list(range(100, 200)), fill=-1)
    saved(tier(folder, key), first)
    disk = tier(folder, key)  # as after a restart: found by scanning the folder
    assert len(disk.entries) == 1
    prompt = as_tokens([*range(100, 180), 5, 6, 7])  # edited after token 80
    found, shared = disk.best(prompt)
    assert found is not None and shared == 80
    assert disk.load(found) == first.blob
    assert disk.best(as_tokens([1, 2, 3])) == (None, 0)


def test_files_are_written_whole_or_not_at_all(folder: Path, model: Path) -> None:
    """Written to a temporary name and renamed: a crash mid-write leaves no state file."""
    key = key_for(model)
    code = (  # the process dies where the data is written but not yet renamed
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from model_runtime.engine.kv_entries import Entry, as_tokens\n"
        "from model_runtime.engine.kv_files import write_state_file\n"
        "from model_runtime.engine.kv_key import StateKey\n"
        "os.fsync = lambda fd: os._exit(9)\n"
        "state = Entry(as_tokens(range(50)), 'chat-1', 4096, blob=bytearray(4096))\n"
        "write_state_file(Path(sys.argv[1]), StateKey.of(json.loads(sys.argv[2])), state)\n"
    )
    root = Path(__file__).parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder), json.dumps(key.as_dict())],
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 9
    assert [p.name for p in folder.iterdir() if p.name.endswith(SUFFIX)] == []
    leftovers = list(folder.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".")
    tier(folder, key)  # its writer is gone: the next scan removes it
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncated", "format", "version", "crc", "noise"])
def test_a_file_that_cannot_be_trusted_is_deleted_unread(
    damage: str, folder: Path, model: Path
) -> None:
    key = key_for(model)
    saved(tier(folder, key), entry(list(range(64))))
    (path,) = folder.iterdir()
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[:-100]
    elif damage == "format":
        data[8:12] = (99).to_bytes(4, "little")
    elif damage == "version":  # written by another Ponder: same layout, other version
        length = int.from_bytes(data[12:16], "little")
        header = json.loads(data[HEAD_SIZE : HEAD_SIZE + length])
        header["key"]["ponder"] = "0.0.1"
        text = json.dumps(header).encode()
        data = data[:12] + len(text).to_bytes(4, "little") + text + data[HEAD_SIZE + length :]
    elif damage == "crc":
        data[-10] ^= 0xFF
    else:
        data[:8] = b"NOTASTAT"
    path.write_bytes(bytes(data))
    disk = tier(folder, key)
    if damage == "crc":  # found by the scan (the header is fine), refused when read
        assert len(disk.entries) == 1
        assert disk.load(disk.entries[0]) is None
        assert "checksum" in disk.log[-1]  # type: ignore[attr-defined]
    assert disk.entries == []
    assert not path.exists()


def test_a_file_truncated_after_the_scan_is_not_loaded(folder: Path, model: Path) -> None:
    key = key_for(model)
    saved(tier(folder, key), entry(list(range(64))))
    disk = tier(folder, key)
    (path,) = folder.iterdir()
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 1)
    assert disk.load(disk.entries[0]) is None
    assert not path.exists() and disk.entries == []


def test_another_models_states_are_kept_but_never_used(folder: Path, model: Path) -> None:
    other_model = model.with_name("other.gguf")
    other_model.write_bytes(b"GGUF" + bytes(99))
    mine, theirs = key_for(model), key_for(other_model)
    saved(tier(folder, theirs), entry(list(range(64))))
    for other_settings in (key_for(model, n_ctx=4096), key_for(model, type_k=8)):
        saved(tier(folder, other_settings), entry(list(range(64))))
    disk = tier(folder, mine)
    assert disk.entries == [] and disk.best(as_tokens(range(64))) == (None, 0)
    assert len(list(folder.iterdir())) == 3  # valid for their models and settings: kept
    assert len(tier(folder, theirs).entries) == 1


def test_states_of_a_model_file_that_changed_are_deleted(folder: Path, model: Path) -> None:
    other_model = model.with_name("other.gguf")
    other_model.write_bytes(b"GGUF" + bytes(99))
    saved(tier(folder, key_for(other_model)), entry(list(range(64))))
    other_model.write_bytes(b"GGUF" + bytes(100))  # replaced by another file of that name
    tier(folder, key_for(model))
    assert list(folder.iterdir()) == []


def test_a_file_whose_name_claims_this_model_but_whose_key_does_not_is_deleted(
    folder: Path, model: Path
) -> None:
    mine = key_for(model)
    other = key_for(model, n_ctx=4096)
    saved(tier(folder, other), entry(list(range(64))))
    (path,) = folder.iterdir()
    forged = folder / file_name(mine, "chat-1", as_tokens(range(64)))
    path.rename(forged)
    disk = tier(folder, mine)
    assert disk.entries == [] and not forged.exists()


def test_the_cap_drops_the_least_recently_used(folder: Path, model: Path) -> None:
    key = key_for(model)
    size = 64 * KIB
    disk = tier(folder, key, cap=3 * size + 3 * KIB)  # three states and their headers
    for i in range(3):
        saved(disk, entry([i] * 40, tag=f"chat-{i}", size=size))
        disk = tier(folder, key, cap=disk.cap)
        os.utime(disk.entries[-1].path or "", (1000.0 + i, 1000.0 + i))
    used = next(e for e in disk.entries if e.tag == "chat-0")
    assert disk.load(used) is not None  # chat-0 is used again: chat-1 is now the oldest
    saved(disk, entry([9] * 40, tag="chat-9", size=size))
    tags = sorted(e.tag for e in tier(folder, key).entries)
    assert tags == ["chat-0", "chat-2", "chat-9"]
    assert usage(folder)[1] <= disk.cap
    saved(tier(folder, key, cap=size), entry([5] * 40, size=2 * size))  # bigger than the cap
    assert len(list(folder.iterdir())) == 3


def test_a_longer_state_of_a_chat_replaces_its_shorter_one(folder: Path, model: Path) -> None:
    key = key_for(model)
    saved(tier(folder, key), entry(list(range(40))), entry(list(range(40)), tag="chat-2"))
    saved(tier(folder, key), entry(list(range(60))))
    found = sorted((e.tag, len(e.tokens)) for e in tier(folder, key).entries)
    assert found == [("chat-1", 60), ("chat-2", 40)]


def test_forgetting_a_chat_deletes_its_states_of_every_model(folder: Path, model: Path) -> None:
    mine, other = key_for(model), key_for(model, n_ctx=4096)
    saved(tier(folder, mine), entry(list(range(40))), entry(list(range(40)), tag="chat-2"))
    saved(tier(folder, other), entry(list(range(40))))
    assert usage(folder)[0] == 3
    disk = tier(folder, mine)
    disk.forget("chat-1")
    assert [e.tag for e in disk.entries] == ["chat-2"]
    assert usage(folder)[0] == 1
    assert forget_files(folder, None) == 1
    assert usage(folder) == (0, 0)


def test_a_state_forgotten_before_it_was_written_is_not_written(folder: Path, model: Path) -> None:
    disk = tier(folder, key_for(model))
    big = entry(list(range(40)), size=8 << 20)
    disk.put(big)
    disk.forget("chat-1")
    disk.close()
    assert usage(folder) == (0, 0)


@pytest.mark.parametrize("reserve", [0, 1 << 20], ids=["full-mid-write", "too-little-room"])
def test_a_full_disk_drops_the_save(reserve: int, tmpfs, tmp_path: Path, model: Path) -> None:
    """A real full disk: the state is not saved, nothing is left half-written, and the tier
    goes on (the next save, with room again, works)."""
    disk_dir = tmp_path / "small"
    small: Tmpfs = tmpfs(disk_dir, "2m")
    (disk_dir / "kv").mkdir()
    small.fill()
    os.truncate(small.filler, small.filler.stat().st_size - 256 * KIB)  # 256 KiB left
    disk = tier(disk_dir / "kv", key_for(model), reserve=reserve)
    saved(disk, entry(list(range(40)), size=512 * KIB))
    assert usage(disk_dir / "kv") == (0, 0)
    assert list((disk_dir / "kv").iterdir()) == []  # no temporary file left either
    assert "full" in disk.log[-1] or "free on the disk" in disk.log[-1]  # type: ignore[attr-defined]
    small.free()
    disk = tier(disk_dir / "kv", key_for(model), reserve=reserve)
    saved(disk, entry(list(range(40)), size=512 * KIB))
    assert usage(disk_dir / "kv")[0] == 1


# -- the memory tier -------------------------------------------------------------------------


def test_the_memory_tier_keeps_to_its_budget_and_the_room_left() -> None:
    ram = RamTier(budget=10 * KIB)
    a, b, c = (entry([i] * 20, tag=f"chat-{i}") for i in range(3))
    assert ram.put(a, room=1 << 30) and ram.put(b, room=1 << 30)
    assert ram.best(as_tokens([0] * 20))[0] is a  # a is used: b is now the oldest
    a.touch()
    assert ram.put(c, room=1 << 30)
    assert [e.tag for e in ram.entries] == ["chat-0", "chat-2"]
    assert not ram.put(entry([7] * 20, size=20 * KIB), room=1 << 30)  # over the budget
    assert [e.tag for e in ram.entries] == ["chat-0", "chat-2"]  # nothing dropped for it
    # No memory to spare: a new state only takes the place of older ones, never grows the tier
    assert not ram.put(entry([8] * 20, size=9 * KIB), room=0)
    assert ram.put(entry([8] * 20, tag="chat-8"), room=0)
    assert [e.tag for e in ram.entries] == ["chat-2", "chat-8"] and ram.used_bytes == 8 * KIB


def test_the_memory_tier_replaces_and_forgets_a_chats_states() -> None:
    ram = RamTier(budget=1 << 20)
    ram.put(entry(list(range(30))), room=1 << 30)
    ram.put(entry(list(range(30)), tag="chat-2"), room=1 << 30)
    longer = entry(list(range(50)))
    ram.put(longer, room=1 << 30)
    assert sorted((e.tag, len(e.tokens)) for e in ram.entries) == [("chat-1", 50), ("chat-2", 30)]
    assert ram.covering(as_tokens(range(40)), "chat-1") is longer
    assert ram.covering(as_tokens(range(40)), "chat-2") is None
    assert ram.forget("chat-1") == 1 and ram.forget(None) == 1


def test_common_prefix() -> None:
    assert common_prefix(as_tokens([1, 2, 3]), as_tokens([1, 2, 4, 5])) == 2
    assert common_prefix(as_tokens([1, 2]), as_tokens([1, 2, 3])) == 2
    assert common_prefix(as_tokens([]), as_tokens([1])) == 0
    assert common_prefix(as_tokens([9]), as_tokens([1])) == 0


# -- settings --------------------------------------------------------------------------------


def test_cache_settings_round_trip_and_refuse_nonsense(ponder_home: Path) -> None:
    assert load_cache_settings() == CacheSettings(enabled=True, disk_bytes=DEFAULT_DISK_BYTES)
    save_cache_settings(CacheSettings(enabled=False, disk_bytes=0))
    assert load_cache_settings() == CacheSettings(enabled=False, disk_bytes=0)
    (ponder_home / "config" / "state-cache.json").write_text('{"enabled": "yes"}')
    assert load_cache_settings() == CacheSettings()  # a damaged file: the defaults
    with pytest.raises(PonderError, match="from 0 to 1,024 GiB"):
        CacheSettings(disk_bytes=-1)


def test_tokens_are_compact() -> None:
    assert as_tokens([1, 2]).dtype == np.int32
