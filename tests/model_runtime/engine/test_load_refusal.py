"""The engine refuses a broken model before llama.cpp sees it, and an abort is told in words."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from model_runtime import engine_process
from model_runtime.chat.generation import Finished, GenerationParams, LoadRequest, Message
from model_runtime.engine import EngineClient, worker
from model_runtime.errors import EngineCrashed, ModelFileError
from tests.broken_models import BROKEN, broken_model

pytestmark = pytest.mark.slow

ASSERT = "GGML_ASSERT(hparams.n_layer_all > 0 && hparams.n_layer_all <= LLAMA_MAX_LAYERS) failed"


@pytest.fixture(scope="module")
def engine(smollm2: Path, tmp_path_factory: pytest.TempPathFactory):
    client = EngineClient(log_dir=tmp_path_factory.mktemp("logs"))
    client.load(LoadRequest(model_path=str(smollm2), n_ctx=512, n_threads=2))
    yield client
    client.close()


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_model_is_refused_and_the_loaded_one_stays(
    engine: EngineClient, smollm2: Path, tmp_path: Path, name: str
) -> None:
    path, reason = broken_model(tmp_path, name)
    pid = engine.pid
    with pytest.raises(ModelFileError) as caught:
        engine.load(LoadRequest(model_path=str(path), n_ctx=512, n_threads=2))
    assert reason in str(caught.value)
    assert engine.pid == pid and engine.summary is not None
    assert engine.summary.path == str(smollm2)
    params = GenerationParams(max_tokens=4, temperature=0.0)
    events = list(engine.generate([Message("user", "Say hi.")], params))
    assert isinstance(events[-1], Finished) and events[-1].stats.n_generated > 0


def worker_without_file_checks(*args: Any) -> None:
    """The engine worker with Ponder's checks of the model file off, so that llama.cpp itself
    meets the broken file: the only way left to make it abort on demand."""
    worker.check_model = lambda *_args, **_kwargs: None  # type: ignore[assignment]
    worker.main(*args)


def test_an_abort_names_the_failed_check_and_shows_no_backtrace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = broken_model(tmp_path, "block-count-100000")
    # the spawned child's target
    monkeypatch.setattr(engine_process, "main", worker_without_file_checks)
    client = EngineClient(log_dir=tmp_path)
    try:
        with pytest.raises(EngineCrashed) as caught:
            client.load(LoadRequest(model_path=str(path), n_ctx=512, n_threads=2))
    finally:
        client.close()
    crash = caught.value
    assert crash.exitcode == -signal.SIGABRT
    message = str(crash)
    assert message.startswith("The engine process was killed by SIGABRT — llama.cpp aborted ")
    assert "at a failed check in llama-model.cpp, line " in message and ASSERT in message
    assert message.endswith("The model must be loaded again.")
    lines = crash.stderr_tail.splitlines()
    assert lines[-1].endswith(ASSERT) and "llama_model_loader" in crash.stderr_tail
    assert not any(line.startswith("#") for line in lines)  # no debugger frames
    assert "Fatal Python error" not in crash.stderr_tail
    assert client.log_path is not None and "ggml_abort" in client.log_path.read_text()
