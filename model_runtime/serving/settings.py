"""How the app serves its loaded model: saved in config_dir()/serving.json, the key in the keyring.

The file says where to listen and whether a key is required; the key itself lives in the OS
keyring (service "ponder", account "serve:api-key"), like every other secret. Without a key
store it is kept in memory only, while Ponder runs, and a new one is made at the next start.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass

from model_runtime import credentials
from model_runtime.errors import PonderError
from model_runtime.paths import config_dir

FILE_NAME = "serving.json"
KEY_ACCOUNT = "serve:api-key"
LOOPBACK = "127.0.0.1"
ALL_ADDRESSES = "0.0.0.0"
DEFAULT_PORT = 8080
PORTS_TRIED = 10  # a taken port moves on to the next ones


@dataclass(frozen=True)
class ServeSettings:
    """Where "Serve the loaded model" listens and whether callers need the API key."""

    port: int = DEFAULT_PORT
    network: bool = False  # also other computers (every address), not just this one
    require_key: bool = False

    def __post_init__(self) -> None:
        if not 1024 <= self.port <= 65535:
            raise PonderError(f"Port {self.port} is not one Ponder can use (1024 to 65535).")

    @property
    def host(self) -> str:
        return ALL_ADDRESSES if self.network else LOOPBACK

    @property
    def ports(self) -> range:
        """The ports to try, in order: the chosen one, then the next free one."""
        return range(self.port, min(self.port + PORTS_TRIED, 65536))


def _path():
    return config_dir() / FILE_NAME


def load_serve_settings() -> ServeSettings:
    """The saved settings; the defaults when none are saved or the file is damaged."""
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
        return ServeSettings(
            port=int(data["port"]),
            network=data["network"] is True,
            require_key=data["require_key"] is True,
        )
    except (OSError, ValueError, TypeError, KeyError, PonderError):
        return ServeSettings()


def save_serve_settings(settings: ServeSettings) -> None:
    """Save the settings; a key is required but none saved yet: one is made now."""
    if settings.require_key and serve_api_key() is None:
        new_serve_api_key()
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, **asdict(settings)}, indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


def serve_api_key() -> str | None:
    """The key callers must send ("Authorization: Bearer KEY"), from the keyring (or memory)."""
    return credentials.get_secret(KEY_ACCOUNT)


def new_serve_api_key() -> str:
    """Make and save a fresh random key (the old one stops working): in the keyring, or in
    memory while Ponder runs when there is no key store; PonderError if the store refuses."""
    key = "ponder-" + secrets.token_urlsafe(24)
    credentials.set_secret(KEY_ACCOUNT, key, what="the API key", memory_ok=True)
    return key


def serve_key_in_memory() -> bool:
    """Whether the key lives only in memory (no key store): it ends when Ponder quits."""
    return credentials.kept_in_memory(KEY_ACCOUNT)


def key_required(settings: ServeSettings, key_store: bool) -> bool:
    """Whether callers must send the key: as set, and always for other computers when there is
    no key store (a key that can't be kept is still better than none)."""
    return settings.require_key or (settings.network and not key_store)
