"""llama.cpp's log read back into words: a real abort's GGML_ASSERT line, not the backtrace."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from model_runtime.llama.log import ABORT_EXITCODES, abort_message, crash_tail
from tests.broken_models import broken_model

pytestmark = pytest.mark.slow

ASSERT = "GGML_ASSERT(hparams.n_layer_all > 0 && hparams.n_layer_all <= LLAMA_MAX_LAYERS) failed"


@pytest.fixture(scope="module")
def abort_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The log of a process that llama.cpp aborted: it loaded a model with 100,000 layers."""
    folder = tmp_path_factory.mktemp("abort")
    model, _ = broken_model(folder, "block-count-100000")
    log = folder / "llama.log"
    code = f"import llama_cpp\nllama_cpp.Llama(model_path={str(model)!r}, verbose=True)\n"
    with open(log, "wb") as out:  # both streams, as in the engine worker
        done = subprocess.run([sys.executable, "-c", code], stdout=out, stderr=out, timeout=300)
    assert done.returncode in ABORT_EXITCODES and done.returncode == -signal.SIGABRT
    return log


def test_the_assert_line_is_found_in_words(abort_log: Path) -> None:
    message = abort_message(abort_log)
    assert message is not None
    assert message.startswith("at a failed check in llama-model.cpp, line ")
    assert message.endswith(ASSERT)


def test_the_tail_ends_at_the_assert_and_the_backtrace_stays_in_the_file(abort_log: Path) -> None:
    log = abort_log.read_text(errors="replace")
    if shutil.which("gdb"):  # llama.cpp printed the process's backtrace after the assert
        assert "ggml_print_backtrace" in log and "#1 " in log
    tail = crash_tail(abort_log, 20, aborted=True)
    assert tail.splitlines()[-1].endswith(ASSERT)
    assert len(tail.splitlines()) == 20
    assert "backtrace" not in tail and "#1 " not in tail and "gdb" not in tail.lower()
    # a process that did not abort: the last lines as they are
    plain = crash_tail(abort_log, 3)
    assert plain.splitlines() == log.splitlines()[-3:]


def test_logs_without_an_abort(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("llama_model_loader: loaded meta data\nFatal Python error: Illegal instruction")
    assert abort_message(log) is None
    assert crash_tail(log, 5, aborted=True).endswith("Illegal instruction")
    assert abort_message(tmp_path / "missing.log") is None and crash_tail(tmp_path / "x", 3) == ""
