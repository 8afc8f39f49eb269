"""Will a quantization on the Hub fit this computer? The planner's answer before a download.

Its first GGUF file's header is read from the Hub (a few MiB; a split model's first part
describes the whole model), and the planner plans it as if it were on disk, with the total
size of all its parts.
"""

from __future__ import annotations

from model_runtime.gguf.profile import profile_from_gguf
from model_runtime.gguf.quants import QuantChoice
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.llama.architectures import check_runnable
from model_runtime.models.hub import read_header
from model_runtime.planning.plan import LoadPlan
from model_runtime.planning.planner import plan


def plan_hub_quant(
    repo_id: str, revision: str, choice: QuantChoice, hardware: HardwareInfo
) -> LoadPlan:
    """The plan for a quantization of a Hub repository at a commit (reads its header)."""
    first = min(choice.files, key=lambda f: f.path)  # name-00001-of-0000N sorts first
    info = read_header(repo_id, revision, first.path, first.size)
    check_runnable(info)  # a split model's first part: its layers checked as far as it holds them
    profile = profile_from_gguf(info, total_size=choice.size)
    return plan(profile, hardware, model_path=f"{repo_id}/{first.path}")
