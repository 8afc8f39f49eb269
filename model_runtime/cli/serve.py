"""`python -m model_runtime serve MODEL`: the loaded model behind an OpenAI-compatible API."""

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
    from model_runtime.cli.common import add_rpc_argument

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
    serve.add_argument("--ctx", type=int, default=0, help="context length (default: automatic)")
    serve.add_argument("--threads", type=int, default=None)
    serve.add_argument("--gpu-layers", type=int, default=0)
    add_rpc_argument(serve)
    serve.add_argument("--quiet", action="store_true", help="don't log each request")
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from model_runtime.cli.common import load_with_progress, resolve_model
    from model_runtime.engine import EngineClient
    from model_runtime.serving.server import OpenAIServer

    model = resolve_model(args.model)
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    client = EngineClient()
    server = None
    try:
        load_with_progress(client, model, args)
        log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        name = args.model_name or os.path.basename(model).removesuffix(".gguf")
        server = OpenAIServer(client, name, args.host, args.port, api_key, log=log).start()
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
