"""`python -m model_runtime serve MODEL`: the loaded model behind an OpenAI-compatible API.

The model is planned before it loads (refused if it does not fit, unless --force), and if
its engine process dies the server loads it again by itself, answering 503 meanwhile.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

API_KEY_ENV = "PONDER_API_KEY"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080  # server.py's; not imported, so --help is fast


def register(commands: Any) -> None:
    """Add the serve command to the CLI's subparsers."""
    from model_runtime.cli.common import add_load_arguments

    serve = commands.add_parser(
        "serve", help="serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions)"
    )
    serve.add_argument("model", help="path to a .gguf file, or 'starter' for the starter model")
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    serve.add_argument(
        "--api-key",
        default=None,
        help=f"require 'Authorization: Bearer KEY' (or set {API_KEY_ENV}, which ps can't show)",
    )
    serve.add_argument("--model-name", default=None, help="the model's id in the API")
    add_load_arguments(serve)
    limits = serve.add_argument_group("limits")
    limits.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="the most tokens one answer may ask for (default: the model's context)",
    )
    limits.add_argument(
        "--queue", type=int, default=16, help="requests that may wait for the model (default 16)"
    )
    limits.add_argument(
        "--queue-timeout",
        type=float,
        default=300.0,
        help="seconds a request may wait before it is refused (default 300)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        help="seconds a silent connection stays open (default 60)",
    )
    limits.add_argument(
        "--max-connections", type=int, default=64, help="open connections at most (default 64)"
    )
    serve.add_argument(
        "--quiet", action="store_true", help="don't log each request (the engine's fate still)"
    )
    serve.set_defaults(handler=run_serve)


def serve_limits(args: argparse.Namespace) -> Any:
    from model_runtime.errors import PonderError
    from model_runtime.serving.turns import ServeLimits

    try:
        return ServeLimits(
            max_tokens=args.max_tokens,
            max_waiting=args.queue,
            wait_seconds=args.queue_timeout,
            idle_seconds=args.idle_timeout,
            max_connections=args.max_connections,
        )
    except ValueError as exc:
        raise PonderError(str(exc)) from None


def run_serve(args: argparse.Namespace) -> int:
    from model_runtime.cli.common import load_with_progress, resolve_model
    from model_runtime.engine import EngineClient
    from model_runtime.planning.guarded_load import load_planned
    from model_runtime.serving.server import OpenAIServer

    model = resolve_model(args.model)
    limits = serve_limits(args)
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    client = EngineClient()
    server = None
    try:
        plan = load_with_progress(client, model, args).plan
        name = args.model_name or os.path.basename(model).removesuffix(".gguf")
        server = OpenAIServer(
            client,
            name,
            args.host,
            args.port,
            api_key,
            limits=limits,
            reload=lambda: load_planned(client, plan),
            log=lambda line: print(line, file=sys.stderr, flush=True),
            log_requests=not args.quiet,
        ).start()
        if server.leaves_this_computer:
            print(
                f"warning: listening on {args.host}: other computers can reach this model"
                + ("" if api_key else ", and no API key is required"),
                file=sys.stderr,
            )
        print(
            f"Serving '{server.model_name}' at {server.url} "
            f"({'API key required' if api_key else 'no API key'}); Ctrl-C stops.",
            file=sys.stderr,
            flush=True,
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        while not stop.wait(1.0):  # until Ctrl-C or SIGTERM
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.stop()
        client.close()
    return 0
