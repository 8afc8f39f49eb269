"""Secrets: in the OS keyring, or — where the system has none — in memory while Ponder runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model_runtime import credentials
from model_runtime.errors import PonderError

SECRET = "hf_kept-only-while-ponder-runs"


@pytest.fixture
def no_key_store() -> Iterator[None]:
    """keyring's own "no backend" keyring, as on a headless Linux without Secret Service."""
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    before = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    try:
        yield
    finally:
        keyring.set_keyring(before)


def _files_hold(home: Path, secret: str) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_without_a_key_store_a_secret_is_kept_in_memory_only_where_allowed(
    no_key_store: None,
    ponder_home: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert not credentials.key_store_available()
    with pytest.raises(PonderError) as refused:  # the command line: it would be lost at once
        credentials.set_token(SECRET)
    assert str(refused.value).startswith(
        "Cannot save the access token. No secure key store is available on this system"
    )
    assert "backend" not in str(refused.value)  # keyring's own words stay out
    assert credentials.get_token() is None

    assert credentials.set_token(f" {SECRET}\n", memory_ok=True) == credentials.MEMORY
    assert credentials.get_token() == SECRET
    assert credentials.kept_in_memory(credentials.ACCOUNT)
    assert _files_hold(ponder_home, SECRET) == []
    assert SECRET not in caplog.text

    monkeypatch.setenv("PONDER_HOME", str(tmp_path / "another-profile"))
    assert credentials.get_token() is None  # kept for its own profile only
    monkeypatch.setenv("PONDER_HOME", str(ponder_home))

    credentials.delete_token()
    credentials.delete_token()  # no error when there is none
    assert credentials.get_token() is None and not credentials.kept_in_memory(credentials.ACCOUNT)


def test_with_a_key_store_the_secret_goes_there(memory_keyring: Any) -> None:
    assert credentials.key_store_available()
    assert credentials.set_secret("serve:api-key", "k1", memory_ok=True) == credentials.KEYRING
    assert memory_keyring.passwords == {("ponder", "serve:api-key"): "k1"}
    assert credentials.get_secret("serve:api-key") == "k1"
    assert not credentials.kept_in_memory("serve:api-key")


def test_a_key_store_that_refuses_is_said_plainly(memory_keyring: Any) -> None:
    from keyring.errors import PasswordSetError

    def refuse(service: str, username: str, password: str) -> None:
        raise PasswordSetError("the wallet is locked")

    memory_keyring.set_password = refuse
    with pytest.raises(PonderError, match=r"key store refused it \(the wallet is locked\)"):
        credentials.set_secret("serve:api-key", "k1", what="the API key", memory_ok=True)
    assert credentials.get_secret("serve:api-key") is None  # not quietly kept elsewhere
