"""The Hugging Face access token, kept in the OS keyring (service "ponder"), never in a file."""

from __future__ import annotations

from .errors import PonderError

SERVICE = "ponder"
ACCOUNT = "huggingface-token"


def get_token() -> str | None:
    """The saved token, or None when there is none or no keyring is available."""
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(SERVICE, ACCOUNT) or None
    except (KeyringError, RuntimeError):
        return None


def set_token(token: str) -> None:
    """Save the token in the keyring; PonderError when the system has no usable keyring."""
    import keyring
    from keyring.errors import KeyringError

    token = token.strip()
    if not token:
        raise PonderError("The access token is empty.")
    try:
        keyring.set_password(SERVICE, ACCOUNT, token)
    except (KeyringError, RuntimeError) as exc:
        raise PonderError(
            f"Cannot save the access token: this system has no usable keyring ({exc})."
        ) from None


def delete_token() -> None:
    """Forget the saved token (nothing happens when there is none)."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, ACCOUNT)
    except PasswordDeleteError:
        pass
    except (KeyringError, RuntimeError) as exc:
        raise PonderError(f"Cannot remove the access token from the keyring ({exc}).") from None


def get_secret(account: str) -> str | None:
    """Another saved secret (an endpoint's API key) by its keyring account name, or None."""
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(SERVICE, account) or None
    except (KeyringError, RuntimeError):
        return None


def set_secret(account: str, secret: str) -> None:
    """Save a secret in the keyring; PonderError when the system has no usable keyring."""
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.set_password(SERVICE, account, secret)
    except (KeyringError, RuntimeError) as exc:
        raise PonderError(
            f"Cannot save the key: this system has no usable keyring ({exc})."
        ) from None


def delete_secret(account: str) -> None:
    """Forget a saved secret (nothing happens when there is none)."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, account)
    except PasswordDeleteError:
        pass
    except (KeyringError, RuntimeError) as exc:
        raise PonderError(f"Cannot remove the key from the keyring ({exc}).") from None
