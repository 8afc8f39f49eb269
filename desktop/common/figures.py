"""An answer's speed in words, said one way everywhere: the status bar, live while it streams,
and under the message (model_runtime.chat.generation.decode_rate is the one definition)."""

from __future__ import annotations

SPEED_TIP = (
    "Decode speed: the tokens written after the first one, per second after the first one. "
    "Reading the prompt is not counted (that is 'first token after')."
)


def speed_text(tokens_per_second: float) -> str:
    return f"{tokens_per_second:.1f} tokens/s"


def live_text(tokens: int, tokens_per_second: float) -> str:
    """While an answer streams: the tokens so far and the speed (once there is one)."""
    words = f"Generating… {tokens:,} token{'s' if tokens != 1 else ''}"
    return f"{words} · {speed_text(tokens_per_second)}" if tokens_per_second else words
