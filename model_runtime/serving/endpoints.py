"""Saved remote engines: OpenAI-compatible endpoints by name, in config_dir()/endpoints.json.

The file holds no secrets: an endpoint's API key lives in the OS keyring (service "ponder",
account "endpoint:NAME").
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from model_runtime import credentials
from model_runtime.errors import PonderError
from model_runtime.netlog import is_loopback
from model_runtime.paths import config_dir

FILE_NAME = "endpoints.json"


def normalize_base_url(url: str) -> str:
    """An endpoint's base URL as the OpenAI clients use it: "http://host:8080" gets "/v1"."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PonderError(f"'{url}' is not an http:// or https:// address of a server.")
    if parts.query or parts.fragment:
        raise PonderError(f"'{url}' should be a base address, without '?' or '#'.")
    return url if parts.path not in ("", "/") else url + "/v1"


@dataclass(frozen=True)
class Endpoint:
    """A remote engine the person added: where it is and which model to ask for."""

    name: str
    base_url: str
    model: str | None = None  # None: the first model the server lists
    starts_in_thinking: bool | None = None  # None: guess from the model's name (R1: yes)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def leaves_this_computer(self) -> bool:
        """Whether prompts sent here go to another machine (anything but loopback)."""
        return not is_loopback(self.host)

    @property
    def key_account(self) -> str:
        return key_account(self.name)

    def api_key(self) -> str | None:
        """The saved API key, from the keyring."""
        return credentials.get_secret(self.key_account)


def key_account(name: str) -> str:
    """The keyring account of an endpoint's API key."""
    return f"endpoint:{name}"


def _path():
    return config_dir() / FILE_NAME


def _read() -> dict:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_endpoints() -> list[Endpoint]:
    """The saved endpoints, in the order they were added; a damaged file reads as none."""
    items = _read().get("endpoints", [])
    out = []
    for item in items if isinstance(items, list) else []:
        try:
            out.append(
                Endpoint(
                    name=str(item["name"]),
                    base_url=normalize_base_url(str(item["base_url"])),
                    model=str(item["model"]) if item.get("model") else None,
                    starts_in_thinking=item.get("starts_in_thinking")
                    if isinstance(item.get("starts_in_thinking"), bool)
                    else None,
                )
            )
        except (KeyError, TypeError, AttributeError, PonderError):
            continue
    return out


def _saved_choice() -> str | None:
    chosen = _read().get("chosen")
    return chosen if isinstance(chosen, str) else None


def chosen_endpoint() -> Endpoint | None:
    """The endpoint the chat used last, if it did not go back to the local model since."""
    name = _saved_choice()
    return get_endpoint(name) if name is not None else None


def set_chosen(name: str | None) -> None:
    """Remember which endpoint the chat uses (None: the local model), for the next start."""
    _write(load_endpoints(), name)


def _write(endpoints: list[Endpoint], chosen: str | None) -> None:
    """Save the list and the chat's choice (dropped when it names no endpoint of the list)."""
    if chosen not in {e.name for e in endpoints}:
        chosen = None
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    data = {"version": 1, "endpoints": [asdict(e) for e in endpoints], "chosen": chosen}
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def get_endpoint(name: str) -> Endpoint | None:
    return next((e for e in load_endpoints() if e.name == name), None)


def save_endpoint(
    endpoint: Endpoint, api_key: str | None = None, *, replacing: str | None = None
) -> Endpoint:
    """Add or replace an endpoint by name; a given API key goes to the keyring ("" forgets it).

    replacing: the name it had before a rename; its place in the list, its key (unless a new
    one is given) and its being chosen for chat move to the new name.
    """
    name = endpoint.name.strip()
    if not name:
        raise PonderError("An endpoint needs a name.")
    endpoint = Endpoint(
        name, normalize_base_url(endpoint.base_url), endpoint.model, endpoint.starts_in_thinking
    )
    endpoints = load_endpoints()
    names = [e.name for e in endpoints]
    old = replacing if replacing in names and replacing != name else None
    if old is not None and name in names:
        raise PonderError(f"There is already a remote engine named '{name}'.")
    if old is not None and api_key is None:
        api_key = credentials.get_secret(key_account(old)) or ""
    if api_key is not None:
        if api_key.strip():
            credentials.set_secret(endpoint.key_account, api_key.strip())
        else:
            credentials.delete_secret(endpoint.key_account)
    chosen = _saved_choice()
    if old is not None:
        endpoints[names.index(old)] = endpoint
        credentials.delete_secret(key_account(old))
        chosen = name if chosen == old else chosen
    elif name in names:
        endpoints[names.index(name)] = endpoint
    else:
        endpoints.append(endpoint)
    _write(endpoints, chosen)
    return endpoint


def remove_endpoint(name: str) -> None:
    """Forget an endpoint and its API key (and that chat used it)."""
    credentials.delete_secret(key_account(name))
    _write([e for e in load_endpoints() if e.name != name], _saved_choice())
