"""`python -m model_runtime models …`: the model store, the catalog and Hub downloads."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from model_runtime.errors import PonderError
from model_runtime.progress import Progress
from model_runtime.units import size_text


def register(commands: Any) -> None:
    """Add the `models` command and its subcommands to the CLI's subparsers."""
    models = commands.add_parser("models", help="list, search, download, verify and import models")
    sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    p = sub.add_parser("list", help="the models in the store, with their state and size")
    p.set_defaults(handler=run_list)

    p = sub.add_parser("catalog", help="the DeepSeek-R1 models Ponder offers")
    p.set_defaults(handler=run_catalog)

    p = sub.add_parser("search", help="search the Hugging Face Hub for GGUF models")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--sizes", action="store_true", help="also list each repo's quants with sizes")
    p.set_defaults(handler=run_search)

    p = sub.add_parser("quants", help="a Hub repo's GGUF quantizations with their sizes")
    p.add_argument("repo", help="owner/name or a catalog id")
    p.add_argument("--revision", default=None)
    p.set_defaults(handler=run_quants)

    p = sub.add_parser("download", help="download (or resume) a model and verify it")
    p.add_argument("repo", help="owner/name, or a catalog id such as r1-distill-qwen-7b")
    p.add_argument("--quant", default=None, help="e.g. Q4_K_M or UD-IQ1_S")
    p.add_argument("--file", action="append", default=[], help="an exact file path in the repo")
    p.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    p.add_argument("--stall-seconds", type=float, default=30.0)
    p.add_argument("--retries", type=int, default=8)
    p.set_defaults(handler=run_download)

    p = sub.add_parser("verify", help="re-hash a stored model's files against their sha256")
    p.add_argument("model_id")
    p.set_defaults(handler=run_verify)

    p = sub.add_parser("delete", help="delete a stored model and its files")
    p.add_argument("model_id")
    p.set_defaults(handler=run_delete)

    p = sub.add_parser("import", help="add a local GGUF, or one from the Hugging Face cache")
    p.add_argument("path", nargs="?", help="a .gguf file (any part of a split model)")
    p.add_argument("--mode", choices=("copy", "move", "link"), default="copy")
    p.add_argument("--id", default=None, help="the store id to give it")
    p.add_argument("--hf-cache", metavar="REPO", help="import REPO's --quant from the HF cache")
    p.add_argument("--quant", default=None)
    p.set_defaults(handler=run_import)

    p = sub.add_parser("path", help="print a stored model's folder and the file to load")
    p.add_argument("model_id")
    p.set_defaults(handler=run_path)

    p = sub.add_parser("login", help="save a Hugging Face access token in the OS keyring")
    p.add_argument("--token", default=None, help="default: read it from the terminal")
    p.set_defaults(handler=run_login)

    p = sub.add_parser("logout", help="remove the saved access token")
    p.set_defaults(handler=run_logout)

    p = sub.add_parser("network", help="the network log; the offline switch")
    p.add_argument("--offline", choices=("on", "off"), help="save the offline setting")
    p.add_argument("--clear", action="store_true", help="forget the logged connections")
    p.set_defaults(handler=run_network)


class ProgressBar:
    """Progress callbacks as tqdm bars on stderr, one bar per stage (downloading, verifying …)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._state = ""

    def __call__(self, p: Progress) -> None:
        from tqdm import tqdm

        if self._bar is None or p.state != self._state:
            self.close()
            self._state = p.state
            self._bar = tqdm(
                total=p.total or None,
                desc=p.state,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        bar = self._bar
        if p.total and bar.total != p.total:
            bar.total = p.total
        files = f"file {p.file_index}/{p.file_count}" if p.file_count > 1 else ""
        bar.set_postfix_str(" ".join(part for part in (files, p.message) if part), refresh=False)
        bar.update(p.done - bar.n)  # tqdm redraws at most every 0.1 s

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def run_list(args: argparse.Namespace) -> int:
    from model_runtime.models import hf_cache
    from model_runtime.models.store import ModelStore

    store = ModelStore()
    models = store.models()
    if not models:
        print(f"No models in {store.root}.")
    for m in models:
        man = m.manifest
        on_disk = store.disk_usage(m.model_id)
        print(
            f"{m.model_id}\n  {man.state}, {man.quant or '-'}, {size_text(on_disk)} of "
            f"{size_text(man.total_size)}, {len(man.files)} file(s), {man.architecture or '?'}"
            + (f", {man.parameter_count / 1e9:.1f}B parameters" if man.parameter_count else "")
            + (f"\n  {man.error}" if man.error else "")
        )
    print(f"Total on disk: {size_text(store.disk_usage())} in {store.root}")
    cached = hf_cache.cached_repos()
    if cached:
        print("GGUF repos in the Hugging Face cache (models import --hf-cache REPO --quant Q):")
        for repo_id in cached:
            print(f"  {repo_id}")
    return 0


def run_catalog(args: argparse.Namespace) -> int:
    from model_runtime.models.catalog import load_catalog

    for m in load_catalog():
        print(f"{m.id:<22} {m.name} — {m.parameters}, {m.architecture}, licence {m.license}")
        print(f"{'':<22} quants: {', '.join(m.quants)} (recommended {m.recommended_quant})")
        print(f"{'':<22} from: {', '.join(r.repo_id for r in m.repos)}")
        print(f"{'':<22} {m.notes}")
        print(f"{'':<22} {m.usage}")
    return 0


def run_search(args: argparse.Namespace) -> int:
    from model_runtime.models.hub import repo_listing, search_models

    results = search_models(args.query, limit=args.limit)
    if not results:
        print("No GGUF model repositories found.")
    for r in results:
        flags = " (gated)" if r.gated else ""
        print(f"{r.repo_id}{flags}  {r.downloads:,} downloads, {r.likes:,} likes")
        if args.sizes:
            for c in repo_listing(r.repo_id).quants:
                print(
                    f"    {c.name:<24} {size_text(c.size):>11}"
                    + (f" in {len(c.files)} parts" if c.is_split else "")
                )
        elif r.quants:
            print(f"    quants: {', '.join(r.quants)}")
    return 0


def run_quants(args: argparse.Namespace) -> int:
    from model_runtime.models.catalog import find_model
    from model_runtime.models.hub import repo_listing

    catalog = find_model(args.repo) if "/" not in args.repo else None
    repos = [r.repo_id for r in catalog.repos] if catalog else [args.repo]
    for repo_id in repos:
        listing = repo_listing(repo_id, args.revision)
        print(f"{listing.repo_id} at {listing.revision[:12]} (licence {listing.license or '?'}):")
        for c in listing.quants:
            parts = f" in {len(c.files)} parts" if c.is_split else ""
            print(f"    {c.name:<24} {size_text(c.size):>11}{parts}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from model_runtime.models.downloads import DownloadOptions, DownloadRequest, download_model

    request = DownloadRequest(args.repo, args.quant, tuple(args.file), args.revision)
    options = DownloadOptions(stall_seconds=args.stall_seconds, max_retries=args.retries)
    bar = ProgressBar()
    try:
        model = download_model(request, options=options, on_progress=bar)
    finally:
        bar.close()
    print(f"{model.model_id}: {model.state}")
    print(f"load it with: {model.model_path}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from model_runtime.models.store import ModelStore

    bar = ProgressBar()
    try:
        result = ModelStore().verify(args.model_id, on_progress=bar)
    finally:
        bar.close()
    print(result.message)
    return 0 if result.ok else 1


def run_delete(args: argparse.Namespace) -> int:
    from model_runtime.models.store import ModelStore

    freed = ModelStore().delete(args.model_id)
    print(f"Deleted {args.model_id}; freed {size_text(freed)}.")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from model_runtime.models.importing import import_from_hf_cache, import_gguf

    bar = ProgressBar()
    try:
        if args.hf_cache:
            if not args.quant:
                raise PonderError("Say which quantization to take from the cache with --quant.")
            model = import_from_hf_cache(args.hf_cache, args.quant, on_progress=bar)
        elif args.path:
            model = import_gguf(args.path, mode=args.mode, model_id=args.id, on_progress=bar)
        else:
            raise PonderError("Give a .gguf file to import, or --hf-cache REPO --quant Q.")
    finally:
        bar.close()
    print(f"{model.model_id}: {model.state}")
    print(f"load it with: {model.model_path}")
    return 0


def run_path(args: argparse.Namespace) -> int:
    from model_runtime.models.store import ModelStore

    model = ModelStore().get(args.model_id)
    print(model.folder)
    print(model.model_path)
    return 0


def run_login(args: argparse.Namespace) -> int:
    import getpass

    from model_runtime import credentials
    from model_runtime.models import hub

    token = args.token or getpass.getpass("Hugging Face access token: ")
    name = hub.whoami(token)
    credentials.set_token(token)
    print(f"Saved the token of {name} in the OS keyring.")
    return 0


def run_logout(args: argparse.Namespace) -> int:
    from model_runtime import credentials

    credentials.delete_token()
    print("Removed the saved access token.")
    return 0


def run_network(args: argparse.Namespace) -> int:
    from model_runtime import netlog

    if args.offline:
        netlog.set_offline_setting(args.offline == "on")
    if args.clear:
        netlog.clear_log()
    events = netlog.read_log()
    for e in events:
        print(f"{e.time}  {e.purpose:<9} {e.method:<4} {e.host}{e.target}")
    state = "on" if netlog.is_offline() else "off"
    print(f"{len(events)} connection(s) logged in {netlog.log_path()}; offline mode is {state}.")
    return 0
