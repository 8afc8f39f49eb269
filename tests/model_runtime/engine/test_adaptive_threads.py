"""Threads that adapt, on the real model: with a core kept busy by another process, the engine
decodes on fewer threads than planned, and the answer is the same as with a fixed count."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_runtime.chat.generation import Chunk, Finished, GenerationParams, LoadRequest, Message
from model_runtime.engine import EngineClient

pytestmark = pytest.mark.slow

QUESTION = [Message("user", "Write a short story about a lighthouse keeper and a storm.")]
GREEDY = GenerationParams(max_tokens=200, temperature=0.0)
# A CPU-bound loop that ends by itself, in case the test is killed before it can stop it.
HOG = (
    "import os, time\n"
    "os.sched_setaffinity(0, {%d})\n"
    "end = time.time() + 120\n"
    "while time.time() < end: pass\n"
)


@pytest.fixture
def two_cpus() -> Iterator[tuple[int, int]]:
    """This process (and the engine it starts) on two CPUs, restored afterwards."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs CPU affinity (Linux)")
    before = os.sched_getaffinity(0)
    if len(before) < 2:
        pytest.skip("needs two CPUs")
    pair = tuple(sorted(before)[:2])
    os.sched_setaffinity(0, set(pair))
    try:
        yield pair  # type: ignore[misc]
    finally:
        os.sched_setaffinity(0, before)


def answer(model: Path, log_dir: Path, **load) -> tuple[str, Finished]:
    client = EngineClient(log_dir=log_dir)
    try:
        client.load(LoadRequest(model_path=str(model), n_ctx=1024, flash_attn=True, **load))
        events = list(client.generate(QUESTION, GREEDY))
    finally:
        client.close()
    finished = events[-1]
    assert isinstance(finished, Finished)
    return "".join(e.text for e in events if isinstance(e, Chunk)), finished


def test_a_busy_core_lowers_the_thread_count_and_the_answer_stays(
    smollm2: Path, tmp_path: Path, two_cpus: tuple[int, int]
) -> None:
    fixed_text, fixed = answer(smollm2, tmp_path, n_threads=1, adapt_threads=False)
    assert (fixed.stats.n_threads, fixed.stats.n_threads_planned) == (1, 1)
    hog = subprocess.Popen([sys.executable, "-c", HOG % two_cpus[1]])
    try:
        text, finished = answer(smollm2, tmp_path, n_threads=2)
    finally:
        hog.kill()
        hog.wait()
    assert finished.stats.n_threads_planned == 2
    assert finished.stats.n_threads == 1  # most of the answer ran on one thread
    assert text == fixed_text
