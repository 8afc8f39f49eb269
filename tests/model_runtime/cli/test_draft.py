"""--draft MODEL|lookup|off for chat and serve, on the real CLI in subprocesses: the same
greedy answer with each, the drafted tokens in the figures, a draft of another vocabulary
refused before anything loads."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from tests.gguf_factory import write_tiny_model

pytestmark = pytest.mark.slow

RUN_SECONDS = 300
ECHO = "Repeat this sentence twice: the quick brown fox jumps over the lazy dog by the river."


def chat(*options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "model_runtime", "chat", "starter", ECHO,
               "--temperature", "0", "--threads", "1", "--ctx", "1024", "--max-tokens", "60",
               *options]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_SECONDS)


def test_chat_answers_the_same_with_each_kind_of_drafting() -> None:
    runs = {choice: chat("--draft", choice) for choice in ("off", "lookup", "starter")}
    for choice, run in runs.items():
        assert run.returncode == 0, run.stderr
        assert run.stdout == runs["off"].stdout, choice
    assert "(drafting: off)" in runs["off"].stderr
    assert "(drafting: prompt lookup)" in runs["lookup"].stderr
    assert "(drafting: draft model SmolLM2-135M-Instruct.Q4_1.gguf)" in runs["starter"].stderr
    assert "Draft model SmolLM2-135M-Instruct.Q4_1.gguf:" in runs["starter"].stderr  # the plan
    kept = re.search(r"(\d+) of (\d+) drafted tokens kept", runs["lookup"].stderr)
    assert kept is not None and int(kept.group(1)) > 0, runs["lookup"].stderr
    assert "drafted" not in runs["off"].stderr


def test_a_draft_of_another_vocabulary_is_refused_before_loading(tmp_path: Path) -> None:
    other = write_tiny_model(tmp_path / "other.gguf", tokenizer="gpt2", n_vocab=320)
    run = chat("--draft", str(other))
    assert run.returncode != 0
    assert "other.gguf can't draft for SmolLM2-135M-Instruct.Q4_1.gguf" in run.stderr
    assert "Loading" not in run.stderr


def served_answer(ponder_home: Path, draft: str) -> tuple[str, str]:
    """A greedy answer from `serve starter --draft …`, and what serve said on stderr."""
    env = {**os.environ, "PONDER_HOME": str(ponder_home)}
    command = [sys.executable, "-m", "model_runtime", "serve", "starter", "--port", "0",
               "--threads", "1", "--ctx", "1024", "--draft", draft]  # fmt: skip
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    try:
        lines: list[str] = []
        while not (lines and lines[-1].startswith("Serving")):
            line = process.stderr.readline()
            assert line, f"serve exited: {''.join(lines)}"
            lines.append(line)
        found = re.search(r"at (http://127\.0\.0\.1:\d+/v1)", lines[-1])
        assert found is not None
        client = openai.OpenAI(base_url=found.group(1), api_key="none", max_retries=0)
        stream = client.chat.completions.create(
            model="x",
            messages=[{"role": "user", "content": ECHO}],
            max_tokens=60,
            temperature=0,
            stream=True,
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        process.stderr.close()
    return text, "".join(lines)


def test_serve_answers_the_same_with_a_draft_model(ponder_home: Path) -> None:
    plain, said = served_answer(ponder_home, "off")
    assert "(drafting: off)" in said
    drafted, said = served_answer(ponder_home, "starter")
    assert "(drafting: draft model SmolLM2-135M-Instruct.Q4_1.gguf)" in said
    assert drafted == plain and "fox" in plain
