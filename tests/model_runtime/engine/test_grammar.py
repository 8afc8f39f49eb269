"""Grammars are checked before llama.cpp samples with them: a bad one is refused in words and
the engine lives on (llama.cpp crashed with SIGSEGV on the first token)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from model_runtime.chat.generation import Chunk, Finished, GenerationParams, LoadRequest, Message
from model_runtime.engine import EngineClient
from model_runtime.engine.grammar import MAX_GRAMMAR_CHARS, MAX_GRAMMAR_DEPTH, grammar_problem
from model_runtime.errors import GrammarError

QUESTION = [Message("user", "Say yes.")]


def test_grammar_problem_passes_ordinary_grammars() -> None:
    from tests.conftest import THINK_GRAMMAR

    assert grammar_problem(THINK_GRAMMAR) is None
    assert grammar_problem('root ::= "(" [()"#\\]]* ")" # a comment with (((\n') is None
    assert grammar_problem("root ::= " + "(" * MAX_GRAMMAR_DEPTH + '"a"' + ")" * 200) is None


@pytest.mark.parametrize(
    ("grammar", "words"),
    [
        ("", "empty"),
        ("  \n", "empty"),
        ("root ::= " + "(" * 100_000, "nests groups 100,000 deep"),
        ('root ::= "' + "a" * MAX_GRAMMAR_CHARS + '"', "characters long"),
        ('root ::= "\ud800"', "surrogate"),
        ('root ::= "a"\x00', "NUL"),
    ],
)
def test_grammar_problem_refuses_what_llama_cpp_must_not_see(grammar: str, words: str) -> None:
    problem = grammar_problem(grammar)
    assert problem is not None and words in problem


@pytest.fixture(scope="module")
def engine(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineClient]:
    client = EngineClient(log_dir=tmp_path_factory.mktemp("logs"))
    client.load(LoadRequest(model_path=str(smollm2), n_ctx=512, n_threads=2))
    yield client
    client.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("grammar", "words"),
    [
        ("root ::= (", "expecting ')' at the end"),
        ('root ::= "a" | x', "Undefined rule identifier 'x'"),
        ('answer ::= "yes"', "'root'"),
        ('root ::= root "a"', "left recursion"),
        ("root ::= " + "(" * 50_000 + '"a"' + ")" * 50_000, "50,000 deep"),  # crashed parsing
    ],
)
def test_a_bad_grammar_is_refused_and_the_engine_lives(
    engine: EngineClient, grammar: str, words: str
) -> None:
    pid = engine.pid
    with pytest.raises(GrammarError) as caught:
        list(engine.generate(QUESTION, GenerationParams(max_tokens=4, grammar=grammar)))
    assert words in str(caught.value)
    assert engine.alive and engine.pid == pid  # the same worker, its model still loaded
    events = list(engine.generate(QUESTION, GenerationParams(max_tokens=4, temperature=0.0)))
    assert isinstance(events[-1], Finished) and events[-1].stats.n_generated > 0


@pytest.mark.slow
def test_a_good_grammar_still_constrains(engine: EngineClient) -> None:
    params = GenerationParams(max_tokens=6, temperature=0.0, grammar='root ::= "yes" | "no"')
    text = "".join(e.text for e in engine.generate(QUESTION, params) if isinstance(e, Chunk))
    assert text in ("yes", "no")
