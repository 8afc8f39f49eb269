"""Secrets in the OS keyring (service "ponder"), never in a file: the Hugging Face access
token, endpoints' API keys, the serving key.

Where the system has no secure key store (a headless Linux without Secret Service), a caller
that allows it (the window, for the token and the serving key) keeps the secret in this
process's memory instead: never written to a file or a log, forgotten when Ponder quits.
Everything that saves a secret says which of the two happened.
"""

from __future__ import annotations

import threading
from typing import Literal

from model_runtime.errors import PonderError
from model_runtime.paths import config_dir

SERVICE = "ponder"
ACCOUNT = "huggingface-token"
KEYRING: Literal["keyring"] = "keyring"
MEMORY: Literal["memory"] = "memory"
Kept = Literal["keyring", "memory"]

NO_KEY_STORE = (
    "No secure key store is available on this system (such as the Secret Service of GNOME "
    "Keyring or KWallet, the macOS Keychain or the Windows Credential Manager)."
)
MEMORY_ONLY = (
    "Ponder keeps it in memory only while it runs: it is never written to a file, and it is "
    "forgotten when Ponder quits."
)

# Secrets kept while Ponder runs, by (profile, account): PONDER_HOME moves them with the rest.
_memory: dict[tuple[str, str], str] = {}
_memory_lock = threading.Lock()


def _key(account: str) -> tuple[str, str]:
    return str(config_dir()), account


def key_store_available() -> bool:
    """Whether the OS offers a secure key store (keyring has a backend that can keep secrets)."""
    import keyring
    from keyring.backends import fail, null

    try:
        backend = keyring.get_keyring()
    except Exception:  # a backend that fails to initialise is none at all
        return False
    return not isinstance(backend, fail.Keyring | null.Keyring)


def get_token() -> str | None:
    """The saved token, or None when there is none."""
    return get_secret(ACCOUNT)


def set_token(token: str, *, memory_ok: bool = False) -> Kept:
    """Save the token in the keyring (or, with memory_ok and no key store, in memory only);
    PonderError when it can't be kept."""
    token = token.strip()
    if not token:
        raise PonderError("The access token is empty.")
    return set_secret(ACCOUNT, token, what="the access token", memory_ok=memory_ok)


def delete_token() -> None:
    """Forget the saved token (nothing happens when there is none)."""
    delete_secret(ACCOUNT, what="the access token")


def get_secret(account: str) -> str | None:
    """A saved secret (the token, an endpoint's API key) by its keyring account, or None."""
    import keyring
    from keyring.errors import KeyringError

    with _memory_lock:
        kept = _memory.get(_key(account))
    if kept is not None:
        return kept
    try:
        return keyring.get_password(SERVICE, account) or None
    except (KeyringError, RuntimeError):
        return None


def set_secret(
    account: str, secret: str, *, what: str = "the key", memory_ok: bool = False
) -> Kept:
    """Save a secret in the keyring: KEYRING. With no key store, MEMORY if memory_ok allows it
    (kept while Ponder runs), else PonderError; a key store that refuses is a PonderError."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    if key_store_available():
        try:
            keyring.set_password(SERVICE, account, secret)
        except NoKeyringError:
            pass  # the store went away: as if there were none
        except (KeyringError, RuntimeError) as exc:
            raise PonderError(
                f"Cannot save {what}: the system's key store refused it ({exc})."
            ) from None
        else:
            with _memory_lock:
                _memory.pop(_key(account), None)
            return KEYRING
    if not memory_ok:
        raise PonderError(f"Cannot save {what}. {NO_KEY_STORE}")
    with _memory_lock:
        _memory[_key(account)] = secret
    return MEMORY


def delete_secret(account: str, *, what: str = "the key") -> None:
    """Forget a saved secret (nothing happens when there is none)."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

    with _memory_lock:
        _memory.pop(_key(account), None)
    if not key_store_available():
        return
    try:
        keyring.delete_password(SERVICE, account)
    except (PasswordDeleteError, NoKeyringError):
        pass
    except (KeyringError, RuntimeError) as exc:
        raise PonderError(f"Cannot remove {what} from the system's key store ({exc}).") from None


def kept_in_memory(account: str) -> bool:
    """Whether a secret lives only in this process's memory (no key store to keep it)."""
    with _memory_lock:
        return _key(account) in _memory
