"""The engine process loads llama.cpp before numpy (a CUDA build crashed the other way round)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import sys
order = []

def hook(event, args):
    if event == "import" and args[0] in ("llama_cpp", "numpy") and args[0] not in order:
        order.append(args[0])

sys.addaudithook(hook)
import model_runtime.engine_process as entry

class Conn:  # the client went away at once: the worker's loop ends
    def send(self, message): pass
    def recv(self): raise EOFError

class Flag:
    value = 0

entry.main(Conn(), Flag(), Flag(), sys.argv[1] + "/engine.log")
with open(sys.argv[1] + "/order", "w") as f:  # the worker sends its output to its log
    f.write(",".join(order))
"""


def test_the_engine_process_loads_llama_cpp_before_numpy(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "order").read_text() == "llama_cpp,numpy"


def test_starting_the_engine_process_imports_nothing_else_first() -> None:
    code = "import sys, model_runtime.engine_process; print(sorted(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    modules = done.stdout
    assert "'numpy'" not in modules and "'model_runtime.engine'" not in modules
