"""The one interface of a chat engine: the local engine process and a remote endpoint alike.

The GUI's bridge, the server and the CLI talk to a ChatEngine and read its capabilities
instead of asking which kind it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from model_runtime.chat.generation import Event, GenerationParams, Message


@runtime_checkable
class ChatEngine(Protocol):
    """Streams answers: generate() yields Chunk and ThinkingEnded events, then one Finished."""

    @property
    def name(self) -> str:
        """What the window calls the engine: a saved endpoint's name, or "this computer"."""
        ...

    @property
    def can_answer_now(self) -> bool:
        """Whether answer_now() can end the model's reasoning (a remote server decides itself)."""
        ...

    @property
    def leaves_this_computer(self) -> bool:
        """Whether prompts go to another machine."""
        ...

    @property
    def model_name(self) -> str:
        """The model that answers, as saved with its answers ('' while none is loaded)."""
        ...

    def new_generation_id(self) -> int:
        """An id for the next generation; every event of it carries the id."""
        ...

    def generate(
        self,
        messages: Sequence[Message],
        params: GenerationParams | None = None,
        *,
        gen_id: int | None = None,
    ) -> Iterator[Event]:
        """Stream one answer's events; blocks between them (run it off the GUI thread)."""
        ...

    def cancel(self, gen_id: int | None = None) -> None:
        """Stop a generation, running or waiting (None: the running one); any thread."""
        ...

    def answer_now(self, gen_id: int | None = None) -> None:
        """End the reasoning and let the model answer; does nothing where not capable."""
        ...

    def close(self) -> None:
        """Let go of the engine (a process, a connection)."""
        ...
