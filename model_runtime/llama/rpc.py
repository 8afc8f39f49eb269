"""llama.cpp RPC: other machines' memory and compute as extra devices of the local engine.

A worker (`python -m model_runtime rpc-worker`, or llama.cpp's own `rpc-server`) lends its
device over TCP. Before a load the engine registers the saved workers, as llama.cpp's `--rpc`
does (ggml_backend_rpc_add_server, then ggml_backend_register); llama.cpp then offloads layers
to them as to GPUs, split by their free memory, and the planner counts their memory so. The
protocol has no authentication and no encryption: use workers on a network you trust only.
Offline mode refuses workers on other computers, and every connection is in the network log.

Needs a llama.cpp build with the RPC backend (CMAKE_ARGS="-DGGML_RPC=ON").
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import threading
from collections.abc import Iterable
from typing import Any

from model_runtime import netlog
from model_runtime.errors import EngineError, PonderError
from model_runtime.netlog import is_loopback
from model_runtime.paths import config_dir

FILE_NAME = "rpc.json"
DEFAULT_PORT = 50052
CONNECT_SECONDS = 5.0
HANDSHAKE_SECONDS = 15.0  # llama.cpp itself waits for a worker's hello without a limit
_TIMED_OUT = object()
WHY = "rpc-worker"
_registered: dict[str, int] = {}  # endpoint → its device count, in this process


def parse_endpoint(text: str) -> str:
    """'host:port' (or '[v6]:port', or a host alone for the default port), checked."""
    text = text.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest or str(DEFAULT_PORT)
    elif text.count(":") > 1:  # a bare IPv6 address
        host, port = text, str(DEFAULT_PORT)
    else:
        host, _, port = text.partition(":")
        port = port or str(DEFAULT_PORT)
    if not host or any(c.isspace() or c in "/?#@[]" for c in host):
        raise PonderError(f"'{text}' is not a worker address: write host:port (10.0.0.5:50052).")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise PonderError(f"'{text}' has no usable port (1 to 65535).")
    return f"[{host}]:{int(port)}" if ":" in host else f"{host}:{int(port)}"


def parse_endpoints(text: str | Iterable[str]) -> tuple[str, ...]:
    """A list of workers, from "a:1, b:2" or from an iterable; duplicates dropped."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in items:
        endpoint = parse_endpoint(item)
        if endpoint not in out:
            out.append(endpoint)
    return tuple(out)


def host_of(endpoint: str) -> str:
    return endpoint.rpartition(":")[0].strip("[]")


# -- the saved list ---------------------------------------------------------------------------


def load_workers() -> tuple[str, ...]:
    """The saved workers; none when never set or the file is damaged."""
    try:
        data = json.loads((config_dir() / FILE_NAME).read_text(encoding="utf-8"))
        return parse_endpoints(data["workers"])
    except (OSError, ValueError, TypeError, KeyError, PonderError):
        return ()


def save_workers(endpoints: Iterable[str]) -> tuple[str, ...]:
    """Save the worker list (checked first: a bad address changes nothing)."""
    workers = parse_endpoints(endpoints)
    path = config_dir() / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, "workers": list(workers)}, indent=2) + "\n", "utf-8")
    os.replace(tmp, path)
    return workers


# -- llama.cpp's RPC backend, through ctypes --------------------------------------------------


def supported() -> bool:
    """Whether the installed llama.cpp has the RPC backend."""
    from llama_cpp import llama_cpp

    return bool(llama_cpp.llama_supports_rpc())


def _ggml() -> Any:
    from model_runtime.llama.build import ggml_library

    ggml = ggml_library()
    p = ctypes.c_void_p
    for name, restype, argtypes in (
        ("ggml_backend_reg_by_name", p, [ctypes.c_char_p]),
        ("ggml_backend_register", None, [p]),
        ("ggml_backend_dev_by_type", p, [ctypes.c_int]),
        ("ggml_backend_reg_get_proc_address", p, [p, ctypes.c_char_p]),
        ("ggml_backend_reg_dev_count", ctypes.c_size_t, [p]),
    ):
        function = getattr(ggml, name)
        function.restype, function.argtypes = restype, argtypes
    return ggml


def _rpc_function(name: str, restype: Any, argtypes: list[Any]) -> Any:
    """A function of the RPC backend, as llama.cpp's own tools find it (by proc address)."""
    from llama_cpp import llama_cpp

    llama_cpp.llama_backend_init()
    if not supported():
        raise EngineError(
            "This llama.cpp build has no RPC backend. Rebuild llama-cpp-python with "
            'CMAKE_ARGS="-DGGML_RPC=ON" (README: Several machines).'
        )
    ggml = _ggml()
    reg = ggml.ggml_backend_reg_by_name(b"RPC")
    address = ggml.ggml_backend_reg_get_proc_address(reg, name.encode()) if reg else None
    if not address:
        raise EngineError(f"This llama.cpp build's RPC backend has no {name}.")
    return ctypes.CFUNCTYPE(restype, *argtypes)(address)


def _reachable(endpoint: str) -> None:
    """Connect once in Python first: llama.cpp would only log a refused connection."""
    host, port = host_of(endpoint), int(endpoint.rpartition(":")[2])
    try:
        with socket.create_connection((host, port), timeout=CONNECT_SECONDS):
            pass
    except OSError as exc:
        raise EngineError(
            f"No RPC worker answers at {endpoint} ({exc.strerror or exc}). Start one there with "
            f"`python -m model_runtime rpc-worker --host 0.0.0.0 --port {port}`."
        ) from None


def _within(seconds: float, function: Any, *args: Any) -> Any:
    """function(*args) on a daemon thread; _TIMED_OUT if it has not returned in time.

    A call left behind stays blocked inside llama.cpp (holding its RPC lock, so later
    registrations in this process time out too); the engine process that made it is
    replaced at the next load with other workers.
    """
    result: list[Any] = []
    thread = threading.Thread(
        target=lambda: result.append(function(*args)), daemon=True, name="ponder-rpc-hello"
    )
    thread.start()
    thread.join(seconds)
    return result[0] if result else _TIMED_OUT


def _register(endpoint: str) -> int:
    """Register one reachable worker with llama.cpp; how many devices it lends."""
    add_server = _rpc_function("ggml_backend_rpc_add_server", ctypes.c_void_p, [ctypes.c_char_p])
    reg = _within(HANDSHAKE_SECONDS, add_server, endpoint.encode())
    if reg is _TIMED_OUT:
        raise EngineError(
            f"The server at {endpoint} took the connection but did not answer as a "
            f"llama.cpp RPC worker within {HANDSHAKE_SECONDS:.0f} s. Is it an rpc-worker "
            "(or rpc-server) of this llama.cpp version?"
        )
    if not reg:
        raise EngineError(f"The RPC worker at {endpoint} did not answer llama.cpp.")
    ggml = _ggml()
    ggml.ggml_backend_register(reg)
    _registered[endpoint] = int(ggml.ggml_backend_reg_dev_count(reg))
    return _registered[endpoint]


def add_workers(endpoints: Iterable[str]) -> int:
    """Register the workers' devices with llama.cpp in this process; how many devices in all.

    llama.cpp then offloads layers to them like to GPUs. Registering an endpoint twice would
    add its devices twice, so each is registered once per process.
    """
    endpoints = parse_endpoints(endpoints)
    for endpoint in endpoints:
        if endpoint in _registered:
            continue
        if not is_loopback(host_of(endpoint)):
            netlog.require_online(f"use the RPC worker at {endpoint}")
        # logged before the first byte; its outcome too (the bytes: llama.cpp owns the socket)
        event = netlog.record(host_of(endpoint), "RPC", endpoint, WHY)
        try:
            _reachable(endpoint)
            devices = _register(endpoint)
        except EngineError as exc:
            netlog.finish(event, ok=False, detail=str(exc))
            raise
        netlog.finish(event, ok=True, detail=f"registered with llama.cpp: {devices} devices")
    return sum(_registered.get(e, 0) for e in endpoints)


def serve_worker(host: str, port: int, threads: int, cache_dir: str | None = None) -> None:
    """Lend this computer's CPU to other Ponders (blocks until the process ends).

    llama.cpp's ggml_backend_rpc_start_server with the CPU device; cache_dir keeps tensors
    sent before, so a model loads faster the next time.
    """
    if not is_loopback(host):
        netlog.require_online(f"listen on {host} for RPC clients on other computers")
    start_server = _rpc_function(
        "ggml_backend_rpc_start_server",
        None,
        [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p],
    )
    cpu = _ggml().ggml_backend_dev_by_type(0)  # GGML_BACKEND_DEVICE_TYPE_CPU
    devices = (ctypes.c_void_p * 1)(cpu)
    endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    start_server(
        endpoint.encode(),
        cache_dir.encode() if cache_dir else None,
        threads,
        1,
        ctypes.cast(devices, ctypes.c_void_p),
    )
