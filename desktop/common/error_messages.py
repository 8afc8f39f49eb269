"""The one place where errors become words a person understands."""

from __future__ import annotations

from model_runtime.errors import (
    AccessDenied,
    AttachmentError,
    AuthenticationRequired,
    ChecksumMismatch,
    ConnectionFailed,
    ContextOverflow,
    DownloadCancelled,
    DownloadError,
    EngineCrashed,
    EngineError,
    GatedRepo,
    InsufficientMemory,
    ModelFileError,
    NotEnoughDisk,
    OfflineMode,
    PonderError,
    RemoteAnswerCutOff,
    RemoteAuthFailed,
    RemoteEngineError,
    RemoteTimeout,
    RemoteUnreachable,
    RepoNotFound,
)

# Remote engine errors, most specific first: (class, title).
_REMOTE_TITLES: tuple[tuple[type[BaseException], str], ...] = (
    (RemoteAuthFailed, "The remote engine refused the API key"),
    (RemoteUnreachable, "The remote engine can't be reached"),
    (RemoteTimeout, "The remote engine stopped answering"),
    (RemoteAnswerCutOff, "The answer was cut off"),
    (RemoteEngineError, "The remote engine failed"),
)

# Download errors, most specific first: (class, title).
_DOWNLOAD_TITLES: tuple[tuple[type[BaseException], str], ...] = (
    (OfflineMode, "Offline mode is on"),
    (GatedRepo, "This model is gated"),
    (AuthenticationRequired, "A Hugging Face token is needed"),
    (AccessDenied, "Access denied"),
    (RepoNotFound, "Not found on the Hub"),
    (ChecksumMismatch, "The download was damaged"),
    (NotEnoughDisk, "Not enough disk space"),
    (ConnectionFailed, "The connection failed"),
    (DownloadCancelled, "Stopped"),
    (DownloadError, "The download failed"),
)


def describe(exc: BaseException) -> tuple[str, str]:
    """(title, message) for an error shown in the window."""
    if isinstance(exc, ModelFileError):
        return "This model can't be used", str(exc)
    if isinstance(exc, ContextOverflow):
        return "The conversation is too long", str(exc)
    if isinstance(exc, EngineCrashed):
        return "The engine stopped", f"{exc} Your conversation is safe."
    if isinstance(exc, AttachmentError):
        return "This file can't be attached", str(exc)
    if isinstance(exc, InsufficientMemory):
        return "Not enough memory", str(exc)
    for kind, title in _REMOTE_TITLES + _DOWNLOAD_TITLES:
        if isinstance(exc, kind):
            return title, str(exc)
    if isinstance(exc, EngineError | PonderError):
        return "Something went wrong", str(exc)
    if isinstance(exc, FileNotFoundError):
        return "File not found", str(exc)
    if isinstance(exc, OSError):
        return "The file could not be read", str(exc)
    return "Unexpected error", f"{type(exc).__name__}: {exc}"
