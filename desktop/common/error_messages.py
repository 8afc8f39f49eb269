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
    GrammarError,
    InsufficientMemory,
    ModelFileError,
    NoNetwork,
    NotEnoughDisk,
    OfflineMode,
    PonderError,
    RemoteAnswerCutOff,
    RemoteAuthFailed,
    RemoteEngineError,
    RemoteTimeout,
    RemoteUnreachable,
    RepoNotFound,
    StorageError,
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
    (NoNetwork, "You're offline"),
    (ConnectionFailed, "The connection failed"),
    (DownloadCancelled, "Stopped"),
    (DownloadError, "The download failed"),
)


# What went wrong with the disk, and what the person can do about it (None: nothing now).
_STORAGE_PROBLEMS: dict[str, tuple[str, str | None]] = {
    "full": ("the disk is full", "free space"),
    "read-only": ("the data folder is read-only", "make it writable"),
    "failing": ("the disk reported an error", "check the disk"),
    "locked": ("another program is using the conversation database", "close it"),
    "damaged": ("the conversation database is damaged", None),
}

# What a failed write was: (what Ponder could not do, what is kept, how to try again).
SAVE_ACTIONS: dict[str, tuple[str, str, str]] = {
    "answer": ("save", "your answer is kept in memory until it can be saved", "press Retry"),
    "question": ("save your question", "it is back in the message box", "send it again"),
    "edit": ("save your edited question", "nothing was changed", "edit it again"),
    "regenerate": ("start another answer", "nothing was changed", "try again"),
    "continue": ("continue the answer", "nothing was changed", "try again"),
    "branch": ("switch to that version", "nothing was changed", "try again"),
    "delete": ("delete", "nothing was deleted", "try again"),
    "discard": ("remove the question that got no answer", "it stays in the chat", "try again"),
    "settings": ("save the chat's settings", "they are unchanged", "try again"),
    "rename": ("rename the chat", "its title is unchanged", "try again"),
    "undo": ("bring the deleted chat back", "it stays deleted", "press Undo again"),
    "undo_message": ("bring the deleted messages back", "they stay deleted", "press Undo again"),
}


def save_failure(exc: StorageError, action: str) -> str:
    """One sentence for the banner: what could not be saved, why, what is kept, what to do."""
    what, kept, again = SAVE_ACTIONS[action]
    problem, remedy = _STORAGE_PROBLEMS[exc.problem]
    if remedy is None:
        return (
            f"Ponder could not {what} — {problem}; {kept}; copy what you need, then quit "
            "Ponder: when it starts again it says what to do."
        )
    return f"Ponder could not {what} — {problem}; {kept}; {remedy} and {again}."


def unsaved_on_close(count: int, exc: StorageError | None) -> str:
    """The question before quitting with answers that are only in memory."""
    why = f": {_STORAGE_PROBLEMS[exc.problem][0]}" if exc is not None else ""
    answers, them = ("answers", "them") if count > 1 else ("answer", "it")
    return f"{count} {answers} could not be saved{why}.\n\nQuit anyway and lose {them}?"


def cant_start(exc: BaseException) -> tuple[str, str]:
    """(what is wrong, what to do) when Ponder can't open its data at start."""
    unchanged = "Ponder changed nothing there."
    if isinstance(exc, StorageError):
        todo = {
            "full": "Free some space on that disk (a few megabytes), then start Ponder again.",
            "read-only": (
                "Make the folder writable, or start Ponder with PONDER_HOME set to a folder it "
                "may write to."
            ),
            "failing": "Check the disk (it may be failing or unplugged), then start Ponder again.",
            "locked": "Close the other program (another Ponder?), then start Ponder again.",
            "damaged": "Move the damaged file out of the folder, then start Ponder again.",
        }[exc.problem]
        return str(exc), f"{todo} {unchanged}"
    if isinstance(exc, PonderError):  # its message says what to do (a newer or damaged file)
        return str(exc), ""
    return f"Ponder's data can't be used: {exc}", (
        f"Check that Ponder may write to its data folder, then start it again. {unchanged}"
    )


def describe(exc: BaseException) -> tuple[str, str]:
    """(title, message) for an error shown in the window."""
    if isinstance(exc, StorageError):
        if exc.problem == "damaged":
            return "The conversation database is damaged", (
                f"{exc} Copy what you need, then quit Ponder: when it starts again it says "
                "what to do."
            )
        remedy = _STORAGE_PROBLEMS[exc.problem][1]
        return "Ponder could not save", f"{exc} {str(remedy).capitalize()} and try again."
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
    if isinstance(exc, GrammarError):
        return "The grammar can't be used", str(exc)
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
