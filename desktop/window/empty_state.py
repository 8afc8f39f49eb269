"""What an empty chat and the composer say: whether a question can be sent, and if not, what
to do next. One place for the words, so the page and the composer never disagree."""

from __future__ import annotations

from model_runtime.models.starter import STARTER_NOTE


def blocked_words(*, loading: bool, crashed: bool, starter: bool) -> str:
    """Why nothing can be sent now, and what to do about it."""
    if loading:
        return "The model is loading; you can send once it is ready."
    if crashed:
        return "The model stopped. Reload it (Reload model, above) or open another to go on."
    starter_too = ", or try the starter model" if starter else ""
    return f"Load a model first: File → Open model… or File → Models…{starter_too}."


def remote_words(name: str, elsewhere: bool) -> str:
    where = ", on another computer." if elsewhere else "."
    return (
        f"Answers come from the remote engine {name}{where}\n\n"
        "File → Use the local model switches back."
    )


def ready_words(model: str, *, starter: bool) -> str:
    note = STARTER_NOTE if starter else "Its reasoning streams into a pane above each answer."
    return f"{model} is ready. Ask it anything.\n\n{note}"
