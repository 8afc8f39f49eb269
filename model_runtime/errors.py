"""Ponder's small family of errors; each also inherits the built-in it resembles."""

from __future__ import annotations

from pathlib import Path
from typing import Literal


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


class GrammarError(PonderError, ValueError):
    """A GBNF grammar that llama.cpp cannot use (a syntax error, no root rule, too deep)."""


class FormulaError(PonderError, ValueError):
    """A formula the math renderer can't draw (malformed, unsupported, too long or slow); the
    message says why, and the formula is shown as its LaTeX source instead."""


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


class DownloadCancelled(PonderError):
    """A download was paused or cancelled before it finished; its bytes on disk are kept."""


class OfflineMode(DownloadError):
    """Ponder is in offline mode, so it refused to open a network connection."""


class ConnectionFailed(DownloadError):
    """The network failed (no connection, dropped, stalled, server error); retrying may help."""


class NoNetwork(ConnectionFailed):
    """This computer has no network: a name did not resolve, or no route leads out (not retried)."""


class AuthenticationRequired(DownloadError, PermissionError):
    """The Hub wants a valid access token (HTTP 401)."""


class AccessDenied(DownloadError, PermissionError):
    """The token is valid but may not read this repository (HTTP 403)."""


class GatedRepo(AccessDenied):
    """The repository is gated: its conditions must be accepted on the Hub's website first."""


class RepoNotFound(DownloadError, FileNotFoundError):
    """The repository, revision or file does not exist on the Hub (or is private)."""


class ChecksumMismatch(DownloadError):
    """A downloaded file's sha256 differs from the Hub's; the file was deleted."""


class NotEnoughDisk(DownloadError):
    """The model does not fit in the free disk space (checked before the first byte)."""

    def __init__(self, message: str, *, needed: int, free: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.free = free


class RemoteEngineError(PonderError, ConnectionError):
    """Talking to a remote (OpenAI-compatible) engine failed; the message says how."""


class RemoteUnreachable(RemoteEngineError):
    """No connection could be made to the endpoint (refused, unknown host, connect timeout)."""


class RemoteTimeout(RemoteEngineError, TimeoutError):
    """The endpoint went silent for longer than the read timeout."""


class RemoteAuthFailed(RemoteEngineError, PermissionError):
    """The endpoint refused the API key (HTTP 401 or 403)."""


class RemoteAnswerCutOff(RemoteEngineError):
    """The stream broke mid-answer; the text already streamed is kept and carried here."""

    def __init__(self, message: str, *, reasoning: str = "", answer: str = "") -> None:
        super().__init__(message)
        self.reasoning = reasoning
        self.answer = answer


class AttachmentError(PonderError, ValueError):
    """A file can't go with a question: too large, binary, empty, unreadable, encrypted, damaged,
    without a text layer, or changed or gone since it was attached; `reason` says which."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class ConversationStoreError(PonderError, RuntimeError):
    """The conversation database can't be used (newer schema, damaged file, bad import)."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path  # the database file, when the error is about one


StorageProblem = Literal["full", "read-only", "failing", "locked", "damaged"]


class StorageError(PonderError, OSError):
    """Ponder's data could not be written (or read): the disk is full or read-only, the disk
    failed, another program holds the database, or the database is damaged."""

    def __init__(self, message: str, *, problem: StorageProblem, path: Path) -> None:
        super().__init__(message)
        self.problem: StorageProblem = problem
        self.path = path  # the file or folder that could not be written
