"""Download speed and resume waste: Ponder's downloader against a plain streaming HTTP GET.

Run from the repository root:  .venv/bin/python bench/download.py [--size-mib 200] [--rounds 7]

A loopback Hub (tests/hub_server.py, in its own process so that it does not share this
process's GIL) serves one file of --size-mib MiB of random bytes as bench/Big-GGUF. Each
round fetches it, in turn, with:

A. a plain streaming GET with urllib (1 MiB reads, written to a file): the fastest plain GET;
H. a plain streaming GET with httpx2, the HTTP stack huggingface_hub 2.x uses and Ponder
   must use (its session, URL builder and auth), written to a file; once Ponder's Hub client
   exists (after the warm-up), with the read size it sets for the process (256 KiB);
S. the same GET as H, hashing every chunk with sha256 as it arrives (what verification costs);
B. ``download_model`` into a fresh store: the Hub metadata request, the disk check, the GET
   with its redirect, sha256 of every byte, the manifest, the GGUF header read.

All four follow the same resolve URL and its 302 to the "CDN" path; throughput is file size /
wall time. Before each side the disk cache is flushed (os.sync, untimed), so that no side pays
for writing back the bytes of the side before it. The verdict is the median per-round ratio
B/H, Ponder against a plain GET through the same stack, which isolates what Ponder adds; B/A
is printed as well (it also includes the cost of httpx2 against urllib). sha256 is the one
piece of work B does that H does not: at about 1 GB/s a core, it takes nearly half a core at
these speeds. With cores to spare it runs beside the reading; on a 2-core machine, where the
reader and the kernel's loopback already use both, it takes its share from them.

Resume: the CLI (``python -m model_runtime models download``) starts in a subprocess against
a hub slowed to --resume-rate-mib MiB/s, is killed with SIGKILL once half the file is on disk,
and is started again at full speed. The hub counts every body byte it sends; "fetched again"
is what it sent in both runs beyond the file size: the bytes received but not yet on disk
when the process died (plus any overlap of the resumed range). Target: at most 1 MiB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
REPO = "bench/Big-GGUF"
FILE = "Big-Q8_0.gguf"


def write_noise(path: Path, size: int) -> None:
    """size random bytes (incompressible, so no layer can shortcut them)."""
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MIB)
            f.write(os.urandom(n))
            left -= n


class Hub:
    """tests/hub_server.py serving one file, in a child process."""

    def __init__(self, file: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "hub_server.py"), "--repo", REPO, str(file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        self.file_url = f"{self.url}/{REPO}/resolve/main/{FILE}"

    def control(self, what: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_fake/{what}") as r:
            return dict(json.load(r))

    def sent(self) -> int:
        return int(self.control("stats")["sent"].get(FILE, 0))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def plain_urllib(url: str, out: Path) -> None:
    with urllib.request.urlopen(url) as r, open(out, "wb") as f:
        while block := r.read(MIB):
            f.write(block)


def plain_httpx(url: str, out: Path, client: Any, hash_it: bool = False) -> None:
    h = hashlib.sha256()
    with client.stream("GET", url) as r, open(out, "wb") as f:
        for chunk in r.iter_bytes():
            f.write(chunk)
            if hash_it:
                h.update(chunk)


def ponder(work: Path) -> None:
    from model_runtime.models.downloads import DownloadRequest, download_model
    from model_runtime.models.store import ModelStore

    store = ModelStore(work / "store")
    model = download_model(DownloadRequest(REPO, files=(FILE,)), store=store)
    assert model.manifest.is_usable
    shutil.rmtree(store.root)


def throughput(args: argparse.Namespace, hub: Hub, work: Path, size: int) -> dict[str, Any]:
    import httpx2

    client = httpx2.Client(follow_redirects=True, timeout=None)
    sides = {
        "A": ("plain GET, urllib", lambda: plain_urllib(hub.file_url, work / "a.bin")),
        "H": ("plain GET, httpx2", lambda: plain_httpx(hub.file_url, work / "h.bin", client)),
        "S": (
            "plain GET, httpx2 + sha256",
            lambda: plain_httpx(hub.file_url, work / "s.bin", client, hash_it=True),
        ),
        "B": ("Ponder download_model", lambda: ponder(work)),
    }
    runs: dict[str, list[float]] = {k: [] for k in sides}
    for _, fn in sides.values():  # warm-up: page cache, connections, imports
        fn()
    for r in range(args.rounds):
        for key, (_, fn) in sides.items():
            os.sync()  # the last side's dirty pages are written back now, not during this one
            start = time.perf_counter()
            fn()
            runs[key].append(size / MIB / (time.perf_counter() - start))
        print(
            f"round {r + 1}: " + "  ".join(f"{key} {runs[key][-1]:6.0f} MiB/s" for key in sides),
            flush=True,
        )
    client.close()
    medians = {k: statistics.median(v) for k, v in runs.items()}
    ratio_h = statistics.median(b / h for b, h in zip(runs["B"], runs["H"], strict=True))
    ratio_a = statistics.median(b / a for b, a in zip(runs["B"], runs["A"], strict=True))
    print()
    for key, (name, _) in sides.items():
        print(f"  {key}  {name:<28} {medians[key]:7.0f} MiB/s  (median of {args.rounds})")
    print(f"  B/H  Ponder / plain GET, same stack  {ratio_h:5.2f}   target >= {args.target}")
    print(f"  load average {os.getloadavg()[0]:.2f}")
    print(f"  B/A  Ponder / plain GET, urllib      {ratio_a:5.2f}")
    return {"runs": runs, "medians": medians, "ratio_b_h": ratio_h, "ratio_b_a": ratio_a}


def resume(args: argparse.Namespace, hub: Hub, work: Path, size: int) -> dict[str, Any]:
    home = work / "cli-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "PONDER_"))}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(work / "hf-home"),
        PONDER_HOME=str(home),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    command = [sys.executable, "-m", "model_runtime", "models", "download", REPO, "--file", FILE]
    partial = home / "data" / "models" / "bench--Big-GGUF--Q8_0" / (FILE + ".incomplete")
    before = hub.sent()
    hub.control(f"rate?bps={int(args.resume_rate_mib * MIB)}")
    first = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        while not (partial.exists() and partial.stat().st_size >= size // 2):
            if first.poll() is not None:
                raise SystemExit("the first download ended before half of the file")
            time.sleep(0.005)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    kept = partial.stat().st_size
    sent_first = hub.sent() - before
    hub.control("rate?bps=0")
    second = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if second.returncode != 0:
        raise SystemExit(f"the resumed download failed:\n{second.stderr}")
    sent_total = hub.sent() - before
    again = sent_total - size
    print(f"  killed at {100 * kept / size:.1f} %: {kept / MIB:.2f} MiB on disk")
    after = sent_total - sent_first
    print(f"  sent before the kill {sent_first / MIB:.2f} MiB, after it {after / MIB:.2f} MiB")
    print(
        f"  fetched again beyond the missing half: {again / MIB:.3f} MiB ({again:,} bytes)   "
        f"target <= {args.resume_limit_mib} MiB"
    )
    return {"kept": kept, "sent_first": sent_first, "sent_total": sent_total, "again": again}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--target", type=float, default=0.9, help="least B/H throughput ratio")
    parser.add_argument("--resume-rate-mib", type=float, default=100.0)
    parser.add_argument("--resume-limit-mib", type=float, default=1.0)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    size = args.size_mib * MIB
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    with tempfile.TemporaryDirectory(prefix="ponder-bench-") as tmp:
        work = Path(tmp)
        os.environ["PONDER_HOME"] = str(work / "home")
        os.environ["HF_HOME"] = str(work / "hf-home")
        source = work / FILE
        write_noise(source, size)
        hub = Hub(source)
        os.environ["HF_ENDPOINT"] = hub.url
        try:
            print(f"Throughput, {args.size_mib} MiB from {hub.url}:")
            speed = throughput(args, hub, work, size)
            print(f"\nResume after SIGKILL at 50 % (CLI, hub at {args.resume_rate_mib:g} MiB/s):")
            waste = resume(args, hub, work, size)
        finally:
            hub.close()
    passed = speed["ratio_b_h"] >= args.target and waste["again"] <= args.resume_limit_mib * MIB
    print(f"\n{'PASS' if passed else 'FAIL'}")
    if args.json:
        settings = {k: str(v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"settings": settings, **speed, **waste}, indent=2))
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
