"""Memory the loaded model leaves spare now: what the KV state cache may still take in RAM.

The plan sizes the cache's memory tier before the load (plan.state_cache_budget); these read
the memory free now, so that the cache never takes what the planner keeps for other programs.
"""

from __future__ import annotations

from model_runtime.hardware.detect import detect_ram
from model_runtime.planning.plan import state_cache_budget
from model_runtime.planning.planner import HOST_MARGIN, HOST_MARGIN_FLOOR


def keep_free(ram_total: int) -> int:
    """Memory left to the desktop and other programs (the planner's margin)."""
    return max(HOST_MARGIN_FLOOR, int(HOST_MARGIN * ram_total))


def room_now() -> int:
    """Bytes that can be taken from free memory now without eating into that margin."""
    total, available = detect_ram()
    return max(0, available - keep_free(total))


def state_cache_budget_now() -> int:
    """The memory tier's size for a model loaded without a plan, from the memory free after
    the load."""
    total, _ = detect_ram()
    return state_cache_budget(room_now(), total)
