"""A conversation's saved settings: sampling and reasoning control as a small JSON object."""

from __future__ import annotations

from dataclasses import replace
from typing import get_args

from model_runtime.chat.generation import GenerationParams
from model_runtime.chat.thinking import LoopPolicy


def params_to_dict(params: GenerationParams) -> dict[str, object]:
    """What a conversation stores of its sampling and reasoning settings."""
    thinking = params.thinking
    return {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
        "budget_tokens": thinking.budget_tokens,
        "budget_seconds": thinking.budget_seconds,
        "loop_policy": thinking.loop_policy,
        "keep_reasoning": params.keep_reasoning,
    }


def _number(value: object) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return float(value) if ok else None  # type: ignore[arg-type]


def params_from_dict(values: dict[str, object], base: GenerationParams) -> GenerationParams:
    """Stored settings over the defaults; unknown or broken values are ignored."""
    changes: dict[str, object] = {}
    for key, kind in (("temperature", float), ("top_p", float), ("max_tokens", int)):
        number = _number(values.get(key))
        if number is not None:
            changes[key] = kind(number)
    if isinstance(values.get("keep_reasoning"), bool):
        changes["keep_reasoning"] = values["keep_reasoning"]
    thinking = base.thinking
    if "budget_tokens" in values:
        tokens = _number(values["budget_tokens"])
        thinking = replace(thinking, budget_tokens=int(tokens) if tokens else None)
    if "budget_seconds" in values:
        thinking = replace(thinking, budget_seconds=_number(values["budget_seconds"]) or None)
    if values.get("loop_policy") in get_args(LoopPolicy):
        thinking = replace(thinking, loop_policy=values["loop_policy"])  # type: ignore[arg-type]
    return replace(base, thinking=thinking, **changes)  # type: ignore[arg-type]
