"""The one place where errors become words a person understands."""

from __future__ import annotations

from model_runtime.errors import (
    ContextOverflow,
    EngineCrashed,
    EngineError,
    InsufficientMemory,
    ModelFileError,
    PonderError,
)


def describe(exc: BaseException) -> tuple[str, str]:
    """(title, message) for an error shown in the window."""
    if isinstance(exc, ModelFileError):
        return "This model can't be used", str(exc)
    if isinstance(exc, ContextOverflow):
        return "The conversation is too long", str(exc)
    if isinstance(exc, EngineCrashed):
        return "The engine stopped", f"{exc} Your conversation is safe."
    if isinstance(exc, InsufficientMemory):
        return "Not enough memory", str(exc)
    if isinstance(exc, EngineError | PonderError):
        return "Something went wrong", str(exc)
    if isinstance(exc, FileNotFoundError):
        return "File not found", str(exc)
    if isinstance(exc, OSError):
        return "The file could not be read", str(exc)
    return "Unexpected error", f"{type(exc).__name__}: {exc}"
