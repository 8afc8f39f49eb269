"""How many thoughts on one prompt fit beside a load (Think harder, the server's `n`).

A run of n thoughts has a llama.cpp context of its own while it runs (engine/parallel.py): a
KV stream for each thought, placed as the loaded context's (on the GPU for the layers there),
a compute buffer like the loaded context's, and each thought's logits; the loaded model and
its own context stay meanwhile. llama.cpp's log on SmolLM2 at 8,192 tokens a thought (flash
attention) says so: KV 180 MiB for one thought, 720 for 4, 1,440 for 8; the compute buffer
98 MiB whatever the number; the output 0.19 MiB a thought.

A thought is planned with THOUGHT_CTX tokens (the plan's context when shorter): room for R1 to
think for a while, without making the long context the planner picks when memory is plentiful
a cost per thought. The engine shares the same room among fewer thoughts when asked for fewer.
"""

from __future__ import annotations

from dataclasses import dataclass

from model_runtime.planning.memory_estimate import MemoryEstimate, estimate_memory
from model_runtime.planning.plan import LoadPlan

MAX_THOUGHTS = 64  # R1's report votes over 64 samples (cons@64); engine/parallel.py's limit
THOUGHT_CTX = 8192  # tokens of context planned for each thought (prompt, thinking, answer)


def thought_ctx(plan: LoadPlan) -> int:
    """The context planned for each thought: THOUGHT_CTX, or the plan's when shorter."""
    return min(plan.n_ctx, THOUGHT_CTX)


@dataclass(frozen=True)
class ThoughtsMemory:
    """What a run of n thoughts adds while it runs, in system and in GPU memory."""

    n: int
    host: int
    device: int


def thoughts_memory(plan: LoadPlan, n: int) -> ThoughtsMemory:
    """The bytes of a run of n thoughts on this plan's placement and context."""
    profile, hardware = plan.profile, plan.hardware
    if profile is None or hardware is None:
        raise ValueError("the plan was not made from a model and a machine")
    n_gpus = len(hardware.usable_gpus) if plan.n_gpu_layers else 0

    def placed(n_ctx: int) -> MemoryEstimate:
        return estimate_memory(
            profile,
            n_ctx=n_ctx,
            n_gpu_layers=plan.n_gpu_layers,
            cpu_expert_layers=plan.cpu_expert_layers,
            n_gpus=n_gpus,
            flash_attn=plan.flash_attn,
            type_k=plan.type_k,
            type_v=plan.type_v,
            n_batch=plan.n_batch,
        )

    each = thought_ctx(plan)
    streams, one = placed(n * each), placed(each)  # n KV streams; one compute buffer
    return ThoughtsMemory(
        n=n,
        host=streams.kv_host + one.compute_host + n * profile.n_vocab * 4,
        device=streams.kv_device + one.compute_device,
    )


def thoughts_fit(plan: LoadPlan, n: int) -> bool:
    """Whether n thoughts fit beside the loaded plan, within the margins the planner keeps."""
    verdict = plan.verdict
    extra = thoughts_memory(plan, n)
    unified = plan.hardware is not None and any(g.unified for g in plan.hardware.usable_gpus)
    host = verdict.host_needed + extra.host + (extra.device if unified else 0)
    device = verdict.device_needed + extra.device
    return host <= verdict.host_available and (
        extra.device == 0 or device <= verdict.device_available
    )


def max_thoughts(plan: LoadPlan) -> int:
    """The most thoughts at once this plan leaves memory for: 1 (single answers only) when not
    even two fit, or when the plan does not fit itself."""
    if not plan.verdict.ok or plan.forced or plan.profile is None or plan.hardware is None:
        return 1
    if not thoughts_fit(plan, 2):
        return 1
    low, high = 2, MAX_THOUGHTS
    while low < high:  # the memory grows with n: the last n that fits
        middle = (low + high + 1) // 2
        if thoughts_fit(plan, middle):
            low = middle
        else:
            high = middle - 1
    return low
