"""A real llama.cpp RPC worker for tests: `python -m model_runtime rpc-worker` on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_rpc_worker(home: Path) -> Iterator[str]:
    """Start a worker on a free port, yield its "127.0.0.1:PORT", stop it afterwards."""
    port = free_loopback_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "model_runtime", "rpc-worker", "--port", str(port),
         "--threads", "1"],
        env={**os.environ, "PONDER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                said = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"the RPC worker exited: {said}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the RPC worker did not start") from None
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        if process.stderr:
            process.stderr.close()
