"""Every error the window can meet gets a title in words, never a class name."""

from __future__ import annotations

import pytest

from desktop.common.error_messages import describe
from model_runtime.errors import (
    ContextOverflow,
    EngineCrashed,
    GrammarError,
    InsufficientMemory,
    ModelFileError,
    NoNetwork,
    RemoteAuthFailed,
)


@pytest.mark.parametrize(
    ("error", "title"),
    [
        (GrammarError("expecting ')' at the end of the grammar"), "The grammar can't be used"),
        (ModelFileError("x.gguf is not a GGUF model file"), "This model can't be used"),
        (ContextOverflow("too long", n_prompt=9000, n_ctx=8192), "The conversation is too long"),
        (
            EngineCrashed("The engine process was killed by SIGKILL.", exitcode=-9),
            "The engine stopped",
        ),
        (InsufficientMemory("llama.cpp ran out of memory"), "Not enough memory"),
        (NoNetwork("no route to the Hub"), "You're offline"),
        (RemoteAuthFailed("401"), "The remote engine refused the API key"),
        (ValueError("odd"), "Unexpected error"),
    ],
)
def test_errors_have_titles_in_words(error: BaseException, title: str) -> None:
    got_title, text = describe(error)
    assert got_title == title
    assert str(error) in text
