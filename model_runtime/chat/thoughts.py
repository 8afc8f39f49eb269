"""Several thoughts on one prompt at once (Think harder, the server's `n`): the run's last event,
and the answers as they stream, each fed the events tagged with its index (`seq`).

The engine streams every thought's Chunk, ThinkingEnded and Finished events with the index of
the thought, then one ThoughtsFinished with the run's own figures: the prompt was read once
for all of them, and the thoughts decoded together.
"""

from __future__ import annotations

from dataclasses import dataclass

from model_runtime.chat.answer import Answer
from model_runtime.chat.generation import Event
from model_runtime.chat.vote import Tally, tally


@dataclass(frozen=True)
class ThoughtsFinished:
    """The last event of a run of several thoughts, after each thought's own Finished."""

    gen_id: int
    n_sequences: int
    n_prompt: int  # tokens in the prompt every thought continues
    n_evaluated: int  # prompt tokens run through the model: once, for all the thoughts
    prompt_seconds: float  # the request to the prompt's end (its copies to every thought too)
    total_seconds: float
    n_generated: int  # every thought's tokens together
    tokens_per_second: float  # every thought's tokens over the time they decoded together
    n_ctx: int = 0  # the run's context: each thought's room, together


ThoughtsEvent = Event | ThoughtsFinished


class Thoughts:
    """N answers that stream at once; an event goes to the answer of the thought it names."""

    def __init__(self, n: int, gen_id: int = 0) -> None:
        self.answers = [Answer() for _ in range(n)]
        self.gen_id = gen_id
        self.run: ThoughtsFinished | None = None  # the run's figures, once it ended
        for answer in self.answers:
            answer.start(gen_id)

    def __len__(self) -> int:
        return len(self.answers)

    def add(self, event: ThoughtsEvent) -> Answer | None:
        """Take one of the run's events; the answer it went to (None: the run's own end)."""
        if isinstance(event, ThoughtsFinished):
            self.run = event
            return None
        answer = self.answers[event.seq]
        answer.add(event)
        return answer

    @property
    def finished(self) -> bool:
        """The run ended (every thought had its Finished first)."""
        return self.run is not None

    def voting(self, seq: int) -> bool:
        """Whether a thought's answer counts: it finished, and was not stopped by the user."""
        stats = self.answers[seq].stats
        return stats is not None and stats.finish_reason != "cancelled"

    def tally(self) -> Tally:
        """The vote over the thoughts' answers (a thought stopped early gives none)."""
        return tally([a.answer if self.voting(i) else "" for i, a in enumerate(self.answers)])
