"""`python -m model_runtime chat … --votes N`, the real CLI in a subprocess: each thought's
answer, the tally, and the run's figures; a wrong count is refused before any model loads."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from model_runtime.cli.votes import votes_count

RUN_SECONDS = 300
QUESTION = "What is 7 times 6? Put the final answer in \\boxed{}."


def test_a_number_of_thoughts_is_two_or_more() -> None:
    assert votes_count("4") == 4
    for wrong in ("1", "0", "-3", "four", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="give 2 or more"):
            votes_count(wrong)


def test_a_wrong_number_of_thoughts_is_refused_before_loading() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "model_runtime", "chat", "starter", "hi", "--votes", "1"],
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    assert result.returncode == 2
    assert "'1' is not a number of thoughts" in result.stderr and "Loading" not in result.stderr


@pytest.mark.slow
def test_votes_print_each_thoughts_answer_and_the_tally(smollm2: Path) -> None:
    command = [sys.executable, "-m", "model_runtime", "chat", str(smollm2), QUESTION,
               "--votes", "3", "--seed", "3", "--max-tokens", "60", "--threads", "1",
               "--ctx", "1024"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_SECONDS)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    heads = [line for line in out.splitlines() if line.startswith("── Thought ")]
    assert [h.split(":")[0] for h in heads] == [f"── Thought {i} of 3" for i in (1, 2, 3)]
    assert "\nVote: " in out
    verdict = out.rstrip().splitlines()[-1]
    assert verdict.startswith(("The majority", "The most votes", "A tie", "None of the 3"))
    assert "[3 thoughts: " in result.stderr and " prompt tokens read once" in result.stderr
    assert "Think harder: this plan has room for " in result.stderr
    assert "Traceback" not in result.stderr
