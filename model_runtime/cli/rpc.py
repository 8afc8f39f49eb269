"""`rpc-worker` lends this computer to other Ponders; `rpc` keeps the list of workers to use."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from model_runtime.units import gib_text

DEFAULT_PORT = 50052  # rpc.py's; not imported, so --help is fast


def register(commands: Any) -> None:
    """Add the rpc and rpc-worker commands to the CLI's subparsers."""
    worker = commands.add_parser(
        "rpc-worker",
        help="lend this computer's CPU and memory to a Ponder elsewhere (llama.cpp RPC)",
        description="Serve llama.cpp's RPC protocol, as llama.cpp's rpc-server does: the "
        "Ponder that lists this worker puts layers of its model here. No authentication, no "
        "encryption: use it on a network you trust only.",
    )
    worker.add_argument("--host", default="127.0.0.1", help="0.0.0.0 for other computers")
    worker.add_argument("--port", type=int, default=DEFAULT_PORT)
    worker.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    worker.add_argument(
        "--cache-dir", default=None, help="keep tensors here, so the next load sends less"
    )
    worker.set_defaults(handler=run_worker)

    workers = commands.add_parser(
        "rpc", help="list, set or clear the llama.cpp RPC workers the local engine uses"
    )
    workers.add_argument(
        "--set", metavar="HOST:PORT,…", help="use these workers (the planner counts them)"
    )
    workers.add_argument("--clear", action="store_true", help="use no workers")
    workers.set_defaults(handler=run_workers)


def run_worker(args: argparse.Namespace) -> int:
    from model_runtime.llama.rpc import serve_worker, supported

    if not supported():
        print(
            "This llama.cpp build has no RPC backend: rebuild it with -DGGML_RPC=ON.",
            file=sys.stderr,
        )
        return 1
    print(
        f"RPC worker on {args.host}:{args.port} ({args.threads} threads); Ctrl-C stops.",
        file=sys.stderr,
        flush=True,
    )
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # llama.cpp serves in C until killed
    serve_worker(args.host, args.port, args.threads, args.cache_dir)
    return 0


def run_workers(args: argparse.Namespace) -> int:
    from model_runtime.llama.rpc import load_workers, save_workers

    if args.clear:
        save_workers(())
    elif args.set is not None:
        save_workers([args.set])
    workers = load_workers()
    if not workers:
        print("No RPC workers: models load on this computer only.")
        return 0
    from model_runtime.hardware.detect import detect_hardware

    hw = detect_hardware(rpc_workers=workers)
    for gpu in hw.gpus:
        if gpu.source == "rpc":
            print(
                f"{gpu.endpoint}: {gib_text(gpu.memory_free)} free of {gib_text(gpu.memory_total)}"
            )
    for problem in hw.rpc_problems:
        print(problem)
    return 0 if not hw.rpc_problems else 1
