"""The saved settings of "Serve the loaded model": where it listens, and its key in the keyring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from model_runtime.errors import PonderError
from model_runtime.serving import settings as serve_settings
from model_runtime.serving.settings import ServeSettings


def test_defaults_listen_on_this_computer_only(ponder_home: Path) -> None:
    settings = serve_settings.load_serve_settings()
    assert settings == ServeSettings(port=8080, network=False, require_key=False)
    assert settings.host == "127.0.0.1"
    assert list(settings.ports) == list(range(8080, 8090))


def test_saved_settings_come_back_and_the_key_stays_in_the_keyring(
    ponder_home: Path, memory_keyring: Any
) -> None:
    serve_settings.save_serve_settings(ServeSettings(port=9000, network=True, require_key=True))
    key = serve_settings.serve_api_key()
    assert key is not None and key.startswith("ponder-") and len(key) > 30  # made on demand
    loaded = serve_settings.load_serve_settings()
    assert loaded == ServeSettings(port=9000, network=True, require_key=True)
    assert loaded.host == "0.0.0.0"
    saved = (ponder_home / "config" / serve_settings.FILE_NAME).read_text()
    assert key not in saved
    serve_settings.save_serve_settings(loaded)
    assert serve_settings.serve_api_key() == key  # saving again keeps the key
    fresh = serve_settings.new_serve_api_key()
    assert fresh != key and serve_settings.serve_api_key() == fresh


@pytest.mark.parametrize("port", [0, 80, 1023, 65536, -1])
def test_unusable_ports_are_refused(port: int) -> None:
    with pytest.raises(PonderError, match=f"Port {port} is not one Ponder can use"):
        ServeSettings(port=port)


@pytest.mark.parametrize(
    "text",
    ["not json", '{"port": "x", "network": false, "require_key": false}', '{"port": 22}', "[]",
     '{"port": 9000, "network": "yes", "require_key": 1}'],
)  # fmt: skip
def test_a_damaged_file_reads_as_the_defaults(ponder_home: Path, text: str) -> None:
    path = ponder_home / "config" / serve_settings.FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    loaded = serve_settings.load_serve_settings()
    if text.startswith('{"port": 9000'):  # readable port, flags that are not true booleans
        assert loaded == ServeSettings(port=9000)
    else:
        assert loaded == ServeSettings()
