"""Secrets in the OS keyring (service "ponder"), never in a file: the Hugging Face access
token, endpoints' API keys, the serving key."""

from __future__ import annotations

from model_runtime.errors import PonderError

SERVICE = "ponder"
ACCOUNT = "huggingface-token"


def get_token() -> str | None:
    """The saved token, or None when there is none or no keyring is available."""
    return get_secret(ACCOUNT)


def set_token(token: str) -> None:
    """Save the token in the keyring; PonderError when the system has no usable keyring."""
    token = token.strip()
    if not token:
        raise PonderError("The access token is empty.")
    set_secret(ACCOUNT, token, what="the access token")


def delete_token() -> None:
    """Forget the saved token (nothing happens when there is none)."""
    delete_secret(ACCOUNT, what="the access token")


def get_secret(account: str) -> str | None:
    """A saved secret (the token, an endpoint's API key) by its keyring account, or None."""
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(SERVICE, account) or None
    except (KeyringError, RuntimeError):
        return None


def set_secret(account: str, secret: str, *, what: str = "the key") -> None:
    """Save a secret in the keyring; PonderError when the system has no usable keyring."""
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.set_password(SERVICE, account, secret)
    except (KeyringError, RuntimeError) as exc:
        raise PonderError(
            f"Cannot save {what}: this system has no usable keyring ({exc})."
        ) from None


def delete_secret(account: str, *, what: str = "the key") -> None:
    """Forget a saved secret (nothing happens when there is none)."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, account)
    except PasswordDeleteError:
        pass
    except (KeyringError, RuntimeError) as exc:
        raise PonderError(f"Cannot remove {what} from the keyring ({exc}).") from None
