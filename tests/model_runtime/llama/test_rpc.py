"""llama.cpp RPC: a real worker (`python -m model_runtime rpc-worker`) on 127.0.0.1 lends its
device to the real engine, and the planner counts its memory."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_runtime import netlog
from model_runtime.chat.generation import Chunk, Finished, GenerationParams, LoadRequest, Message
from model_runtime.engine import EngineClient
from model_runtime.errors import EngineError, OfflineMode, PonderError
from model_runtime.hardware.check import check_hardware
from model_runtime.llama import rpc
from model_runtime.planning.guarded_load import load_planned
from model_runtime.planning.planner import plan_load
from tests.rpc_worker import free_loopback_port, start_rpc_worker

GREEDY = GenerationParams(max_tokens=24, temperature=0.0, seed=1)
QUESTION = [Message("user", "What is the capital of France?")]


# -- addresses and the saved list (no llama.cpp needed) ---------------------------------------


@pytest.mark.parametrize(
    ("text", "endpoints"),
    [("10.0.0.5:50052", ("10.0.0.5:50052",)), ("box", ("box:50052",)),
     ("[::1]:9", ("[::1]:9",)), ("::1", ("[::1]:50052",)),
     ("a:1, b:2 a:1", ("a:1", "b:2")), ("", ())],
)  # fmt: skip
def test_worker_addresses_are_read_and_normalized(text: str, endpoints: tuple[str, ...]) -> None:
    assert rpc.parse_endpoints(text) == endpoints


@pytest.mark.parametrize(
    ("text", "why"),
    [("a:b", "no usable port"), ("a:70000", "no usable port"), (":80", "not a worker address"),
     ("http://a:1", "not a worker address"), ("[::1]x", "no usable port")],
)  # fmt: skip
def test_bad_worker_addresses_are_refused(text: str, why: str) -> None:
    with pytest.raises(PonderError, match=why):
        rpc.parse_endpoints(text)


def test_the_worker_list_is_saved_and_a_bad_one_changes_nothing(ponder_home: Path) -> None:
    assert rpc.load_workers() == ()
    assert rpc.save_workers(["10.0.0.5", "10.0.0.6:50053"]) == ("10.0.0.5:50052", "10.0.0.6:50053")
    with pytest.raises(PonderError):
        rpc.save_workers(["10.0.0.7:x"])
    assert rpc.load_workers() == ("10.0.0.5:50052", "10.0.0.6:50053")
    (ponder_home / "config" / rpc.FILE_NAME).write_text('{"workers": "nonsense:x"}')
    assert rpc.load_workers() == ()  # a damaged file reads as none


# -- a real worker ------------------------------------------------------------------------------

needs_rpc = pytest.mark.skipif(
    not rpc.supported(), reason="this llama.cpp build has no RPC backend (-DGGML_RPC=ON)"
)


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from start_rpc_worker(tmp_path_factory.mktemp("worker-home"))


def answer(client: EngineClient) -> tuple[str, Finished]:
    events = list(client.generate(QUESTION, GREEDY))
    finished = events[-1]
    assert isinstance(finished, Finished)
    return "".join(e.text for e in events if isinstance(e, Chunk)), finished


@needs_rpc
@pytest.mark.slow
def test_layers_on_a_worker_answer_as_on_this_computer(
    worker: str, smollm2: Path, tmp_path: Path
) -> None:
    client = EngineClient(log_dir=tmp_path)
    try:
        client.load(LoadRequest(model_path=str(smollm2), n_ctx=1024, n_threads=1))
        here, _ = answer(client)
        client.load(
            LoadRequest(
                model_path=str(smollm2), n_ctx=1024, n_threads=1, n_gpu_layers=99,
                rpc_workers=(worker,),
            )
        )  # fmt: skip
        there, finished = answer(client)
        assert there == here and finished.stats.finish_reason == "length"
        assert client.log_path is not None
        log = client.log_path.read_text(errors="replace")
        assert f"RPC0[{worker}] KV buffer size" in log  # the worker holds the layers' cache
        assert "offloaded 31/31 layers" in log
        (event,) = netlog.read_log()
        assert (event.host, event.purpose, event.target) == ("127.0.0.1", "rpc-worker", worker)
        assert event.succeeded and event.detail.startswith("registered with llama.cpp: ")

        # Without the worker again: a fresh engine process, since llama.cpp can't forget one.
        pid = client.pid
        client.load(LoadRequest(model_path=str(smollm2), n_ctx=1024, n_threads=1))
        assert client.pid != pid
        assert answer(client)[0] == here
    finally:
        client.close()


@needs_rpc
@pytest.mark.slow
def test_an_unreachable_worker_is_said_and_keeps_the_loaded_model(
    smollm2: Path, tmp_path: Path
) -> None:
    client = EngineClient(log_dir=tmp_path)
    try:
        client.load(LoadRequest(model_path=str(smollm2), n_ctx=1024, n_threads=1))
        here, _ = answer(client)
        gone = f"127.0.0.1:{free_loopback_port()}"
        with pytest.raises(EngineError, match=re.escape(f"No RPC worker answers at {gone}")):
            client.load(LoadRequest(model_path=str(smollm2), n_gpu_layers=99, rpc_workers=(gone,)))
        assert client.summary is not None and answer(client)[0] == here
        (event,) = netlog.read_log()  # the attempt is logged, and that it failed
        assert event.target == gone and event.succeeded is False
        assert event.detail.startswith(f"No RPC worker answers at {gone}")
    finally:
        client.close()


@needs_rpc
@pytest.mark.slow
def test_a_server_that_never_answers_the_handshake_is_said_within_a_time_limit(
    smollm2: Path, tmp_path: Path
) -> None:
    """llama.cpp waits for a worker's hello forever; the engine gives up and keeps its model."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # takes connections and says nothing
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    silent = f"127.0.0.1:{listener.getsockname()[1]}"
    client = EngineClient(log_dir=tmp_path)
    try:
        client.load(LoadRequest(model_path=str(smollm2), n_ctx=1024, n_threads=1))
        here, _ = answer(client)
        started = time.monotonic()
        with pytest.raises(EngineError, match=re.escape("did not answer as a llama.cpp RPC")):
            client.load(
                LoadRequest(model_path=str(smollm2), n_gpu_layers=99, rpc_workers=(silent,))
            )
        assert time.monotonic() - started < rpc.HANDSHAKE_SECONDS + 30  # not forever
        assert client.summary is not None and answer(client)[0] == here  # the model stayed
        (event,) = netlog.read_log()
        assert event.target == silent and event.succeeded is False
    finally:
        client.close()
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()


@needs_rpc
def test_offline_mode_refuses_workers_on_other_computers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_OFFLINE", "1")
    with pytest.raises(OfflineMode, match=re.escape("RPC worker at 192.0.2.7:50052")):
        rpc.add_workers(["192.0.2.7"])
    assert netlog.read_log() == []


@needs_rpc
@pytest.mark.slow
def test_the_planner_counts_a_workers_memory_and_the_plan_uses_it(
    worker: str, smollm2: Path, tmp_path: Path
) -> None:
    rpc.save_workers([worker])
    # The saved workers, asked for their memory in a child process, as the app does: the
    # devices a check registers stay in its process (a dead one would abort later loads here).
    hw = check_hardware().hardware
    (device,) = [g for g in hw.gpus if g.source == "rpc"]
    assert device.endpoint == worker and device.usable and device.memory_free > 2**30
    assert hw.rpc_workers == (worker,) and hw.rpc_problems == ()
    plan = plan_load(smollm2, hw)
    assert plan.verdict.ok and plan.n_gpu_layers > 0 and plan.rpc_workers == (worker,)
    assert f"RPC worker {worker}" in plan.verdict.reason
    client = EngineClient(log_dir=tmp_path)
    try:
        done = load_planned(client, plan)
        assert done.summary.n_ctx == plan.n_ctx
        assert answer(client)[1].stats.n_generated == GREEDY.max_tokens
    finally:
        client.close()

    rpc.save_workers([worker, "127.0.0.1:1"])  # one worker gone: said, the other still counted
    hw = check_hardware().hardware
    assert hw.rpc_workers == (worker,)
    (problem,) = hw.rpc_problems
    assert problem.startswith("RPC worker 127.0.0.1:1 is not counted: No RPC worker answers")
    assert problem in hw.notes()


@needs_rpc
@pytest.mark.slow
def test_the_rpc_command_lists_the_workers_memory(worker: str, ponder_home: Path) -> None:
    env = {**os.environ, "PONDER_HOME": str(ponder_home)}
    command = [sys.executable, "-m", "model_runtime", "rpc"]
    done = subprocess.run([*command, "--set", worker], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{worker}: ") and "GiB free of" in done.stdout
    saved = json.loads((ponder_home / "config" / rpc.FILE_NAME).read_text())
    assert saved["workers"] == [worker]
    done = subprocess.run([*command, "--clear"], env=env, capture_output=True, text=True)
    assert done.stdout == "No RPC workers: models load on this computer only.\n"
