"""The engine counts tokens with the loaded model's own tokenizer (the real SmolLM2), and
retrieval trims what it picked until the real count fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_runtime.attachments.budget import include_files
from model_runtime.attachments.prompt import Included, compose_turn
from model_runtime.attachments.reading import attach_text
from model_runtime.chat.generation import LoadRequest
from model_runtime.engine import EngineClient
from model_runtime.errors import EngineError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(smollm2: Path, tmp_path_factory: pytest.TempPathFactory):
    client = EngineClient(log_dir=tmp_path_factory.mktemp("logs"))
    client.load(LoadRequest(model_path=str(smollm2), n_ctx=2048, n_threads=1))
    yield client
    client.close()


def test_counts_match_the_models_own_tokenizer(engine: EngineClient, smollm2: Path) -> None:
    import llama_cpp

    vocab = llama_cpp.Llama(model_path=str(smollm2), vocab_only=True, verbose=False)
    try:
        for text in ("Hello, world!", "def f(x):\n\treturn x ** 2\n", "Grüße aus 東京 " * 50):
            expected = len(vocab.tokenize(text.encode(), add_bos=False, special=False))
            assert engine.count_tokens(text) == expected
    finally:
        vocab.close()
    assert engine.count_tokens("") == 0


def test_without_a_model_there_is_nothing_to_count(tmp_path: Path) -> None:
    client = EngineClient(log_dir=tmp_path)
    with pytest.raises(EngineError, match="No model is loaded"):
        client.count_tokens("hello")
    assert client.pid is None  # no worker was started for it


def test_retrieval_trims_to_the_real_count(engine: EngineClient) -> None:
    """Code tokenizes denser than the estimate: the real count decides what fits."""
    code = "".join(f"x{n} = [{n}, {n * 7}, {n * 13}]  # value {n}\n" for n in range(3000))
    item = Included(attach_text(code, "values.py"), "passages", tokens=engine.count_tokens(code))
    [picked] = include_files("What is value 1234?", [item], 600, count=engine.count_tokens)
    turn = compose_turn("", [picked])
    assert engine.count_tokens(turn) <= 600
    assert "x1234 = " in turn and picked.where().startswith("line")
