"""One answer's decode loop: its text stays whole (no U+FFFD where a limit cut a character)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from model_runtime.chat.generation import Chunk, Finished, GenerationParams, LoadRequest, Message
from model_runtime.engine import EngineClient

pytestmark = pytest.mark.slow

# SmolLM2 writes each of these characters as one to three byte-level tokens.
CJK_GRAMMAR = "root ::= [世界你好中文日本語]+"


def test_a_length_limit_inside_a_character_drops_its_bytes(smollm2: Path, tmp_path: Path) -> None:
    client = EngineClient(log_dir=tmp_path)
    client.load(LoadRequest(model_path=str(smollm2), n_ctx=512, n_threads=2))
    try:
        answers = []
        for limit in range(1, 7):
            params = GenerationParams(max_tokens=limit, temperature=0.0, grammar=CJK_GRAMMAR)
            events = list(client.generate([Message("user", "Write Chinese.")], params))
            finished = events[-1]
            assert isinstance(finished, Finished)
            assert finished.stats.finish_reason == "length"
            answers.append("".join(e.text for e in events if isinstance(e, Chunk)))
    finally:
        client.close()
    assert all("\ufffd" not in answer for answer in answers), answers
    # some limits did fall inside a character: one more token, and no more text
    assert any(len(a) == len(b) for a, b in itertools.pairwise(answers)), answers
    assert len(answers[-1]) >= 2
