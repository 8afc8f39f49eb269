"""`python -m model_runtime chat` with the reasoning controls, the real CLI in a subprocess:
--think-budget, --loop, and Ctrl+C (SIGINT to its process group, as a terminal sends it)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from model_runtime.cli.chat import think_budget

QUESTION = "What is the sum of the first ten odd numbers?"
RUN_SECONDS = 240


def test_a_think_budget_is_tokens_or_seconds() -> None:
    assert think_budget("500") == (500, None)
    assert think_budget("30s") == (None, 30.0)
    assert think_budget(" 1.5S ") == (None, 1.5)
    for wrong in ("", "s", "abc", "0", "-5", "0s", "5m", "infs", "nans"):
        with pytest.raises(argparse.ArgumentTypeError, match="tokens \\(500\\) or seconds"):
            think_budget(wrong)


def test_a_wrong_think_budget_is_refused_before_loading() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "model_runtime", "chat", "starter", "hi", "--think-budget", "5m"],
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    assert result.returncode == 2
    assert "'5m' is not a thinking budget" in result.stderr and "Loading" not in result.stderr


def chat(model: Path, *options: str) -> subprocess.Popen[str]:
    """The CLI answering QUESTION greedily on one thread, in a process group of its own."""
    command = [sys.executable, "-m", "model_runtime", "chat", str(model), QUESTION,
               "--temperature", "0", "--threads", "1", "--ctx", "1024", *options]  # fmt: skip
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        start_new_session=True,
    )


def read_until(process: subprocess.Popen[str], text: str) -> str:
    """stdout up to and including text (the CLI flushes every piece it streams)."""
    assert process.stdout is not None
    seen = ""
    while text not in seen:
        char = process.stdout.read(1)
        assert char, f"the output ended before {text!r}: {seen!r}"
        seen += char
    return seen


def ctrl_c(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGINT)  # the CLI and its engine worker, as a terminal does


@pytest.mark.slow
def test_loop_stop_ends_the_whole_answer_when_the_reasoning_repeats(smollm2_r1: Path) -> None:
    process = chat(smollm2_r1, "--loop", "stop", "--max-tokens", "800")
    out, err = process.communicate(timeout=RUN_SECONDS)
    assert process.returncode == 0, err
    assert "[Thinking ended: loop broken at token " in err
    assert "[Stopped: the reasoning was repeating itself]" in err
    assert err.rstrip().endswith(", loop]")
    assert "Answer:" not in out  # stopped, not answered


@pytest.mark.slow
def test_ctrl_c_while_thinking_answers_now(smollm2_r1: Path) -> None:
    process = chat(smollm2_r1, "--loop", "off", "--max-tokens", "200")
    try:
        read_until(process, "Thinking:\n")
        read_until(process, " ")  # it thinks
        ctrl_c(process)
        out, err = process.communicate(timeout=RUN_SECONDS)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "[Thinking ended: answered on request after " in err
    assert "\n\nAnswer:\n" in out and "asked to answer now" in out
    assert "Traceback" not in err and "crashed" not in err


@pytest.mark.slow
def test_a_second_ctrl_c_stops(smollm2_r1: Path) -> None:
    process = chat(smollm2_r1, "--loop", "off", "--max-tokens", "400")
    try:
        read_until(process, "Thinking:\n")
        read_until(process, " ")
        ctrl_c(process)
        read_until(process, "Answer:\n")
        read_until(process, " ")  # it answers now
        ctrl_c(process)
        _, err = process.communicate(timeout=RUN_SECONDS)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "[Stopped]" in err and err.rstrip().endswith("cancelled]")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


@pytest.mark.slow
def test_a_think_budget_ends_the_thinking_and_a_looping_answer_is_stopped(
    smollm2_r1: Path,
) -> None:
    process = chat(smollm2_r1, "--think-budget", "40", "--max-tokens", "800")
    out, err = process.communicate(timeout=RUN_SECONDS)
    assert process.returncode == 0, err
    assert "[Thinking ended: budget reached after 40 tokens]" in err
    assert "[Stopped: the answer was repeating itself (a span of " in err
    assert err.rstrip().endswith(", loop]") and "The answer is" in out
