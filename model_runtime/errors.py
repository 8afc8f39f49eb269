"""Ponder's small family of errors; each also inherits the built-in it resembles."""

from __future__ import annotations


class PonderError(Exception):
    """Base of every error Ponder raises on purpose; its message is meant for a person."""


class ModelFileError(PonderError, ValueError):
    """A model file is missing, not a GGUF, damaged, or of an architecture llama.cpp can't run."""


class ContextOverflow(PonderError, ValueError):
    """The prompt does not fit in the model's context window."""

    def __init__(self, message: str, *, n_prompt: int, n_ctx: int) -> None:
        super().__init__(message)
        self.n_prompt = n_prompt
        self.n_ctx = n_ctx


class DownloadError(PonderError, OSError):
    """A download failed or was refused."""


class InsufficientMemory(PonderError, MemoryError):
    """A model does not fit in this machine's memory."""


class EngineError(PonderError, RuntimeError):
    """The engine process reported an error it survived (bad request, failed load)."""


class EngineCrashed(PonderError, RuntimeError):
    """The engine process died; the window survives and can start a new one."""

    def __init__(self, message: str, *, exitcode: int | None, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.exitcode = exitcode
        self.stderr_tail = stderr_tail


class GenerationCancelled(PonderError):
    """A generation was stopped by the user before it finished."""
