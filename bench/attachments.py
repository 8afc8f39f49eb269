"""Attaching a long PDF: extraction speed, retrieval speed and accuracy, and the window's
responsiveness while it attaches.

One run, on a PDF written with Qt's QPdfWriter (300 pages by default, 20 known sentences on
known pages):
  1. extraction time per page and in total (pypdf in Ponder's reader child process);
  2. the retrieval index (passages into SQLite FTS5) and the median query time;
  3. the share of 20 questions, one per known sentence, whose page is among the passages
     retrieved into the room a default 8,192-token context leaves (target ≥ 90 %), and whose
     page the best passage is on;
  4. with the window open and the starter model loaded, the longest event-loop stall while the
     PDF is attached (read and counted by the engine) ÷ the longest stall while idle for as
     long (target ≤ 2).

Run: `python bench/attachments.py [--pages 300] [--rounds 1] [--json PATH] [--strict]`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ACCURACY_TARGET = 0.9
STALL_TARGET = 2.0
CONTEXT = 8192  # the default context: what room the files have in it


def make_pdf(folder: Path, pages: int) -> tuple[Path, dict[int, int]]:
    """The PDF, and which page each known sentence (FACTS index) is on."""
    from tests.attachment_files import FACTS, pages_with_facts, spread_facts, write_pdf

    where = spread_facts(pages, len(FACTS))
    text = pages_with_facts(pages, {page: FACTS[index][0] for index, page in where.items()})
    return write_pdf(folder / f"bench-{pages}-pages.pdf", text), where


def measure_extraction(pdf: Path) -> tuple[Any, dict[str, float]]:
    from model_runtime.attachments.reading import read_attachment

    stamps: list[float] = []
    started = time.perf_counter()

    def progress(unit: str, _done: int, _total: int) -> None:
        if unit == "pages":
            stamps.append(time.perf_counter())

    file = read_attachment(pdf, progress=progress)
    total = time.perf_counter() - started
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return file, {
        "extraction_total_s": total,
        "extraction_per_page_s": total / len(file.pages),
        "extraction_page_median_s": statistics.median(gaps) if gaps else 0.0,
        "extraction_page_max_s": max(gaps) if gaps else 0.0,
        "until_first_page_s": stamps[0] - started if stamps else 0.0,
    }


def measure_retrieval(file: Any, where: dict[int, int], count: Any) -> dict[str, float]:
    from model_runtime.attachments.budget import include_files, room_for_files
    from model_runtime.attachments.passages import page_of, split_passages
    from model_runtime.attachments.prompt import Included
    from model_runtime.attachments.retrieval import PassageIndex
    from tests.attachment_files import FACTS

    text = file.text
    started = time.perf_counter()
    passages = split_passages(0, "pdf", text)
    index = PassageIndex(passages)
    index_s = time.perf_counter() - started
    query_times, best_hits, included_hits = [], 0, 0
    tokens = count(text)
    room = room_for_files(CONTEXT, 0, 4096)
    for fact, page in where.items():
        question = FACTS[fact][1]
        started = time.perf_counter()
        ranked = index.rank(question)
        query_times.append(time.perf_counter() - started)
        best_hits += bool(ranked) and page_of(text, passages[ranked[0]].start) == page
        [item] = include_files(question, [Included(file, "passages", tokens=tokens)], room, count)
        included_hits += any(page_of(text, a) == page for a, _ in item.spans)
    index.close()
    return {
        "passages": len(passages),
        "file_tokens": tokens,
        "room_tokens": room,
        "index_s": index_s,
        "query_median_s": statistics.median(query_times),
        "best_passage_share": best_hits / len(where),
        "included_share": included_hits / len(where),
    }


def stall_while(app: Any, done: Any, timeout_s: float) -> tuple[float, float]:
    """(longest gap between event-loop turns, seconds) until done() or the timeout."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    longest = 0.0
    clock = QElapsedTimer()
    loop = QEventLoop()
    heartbeat = QTimer()
    heartbeat.setInterval(1)

    def beat() -> None:
        nonlocal longest
        longest = max(longest, clock.restart() / 1000)
        if done():
            loop.quit()

    heartbeat.timeout.connect(beat)
    started = time.perf_counter()
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    clock.start()
    heartbeat.start()
    loop.exec()
    heartbeat.stop()
    return longest, time.perf_counter() - started


def measure_window(app: Any, pdf: Path, rounds: int) -> dict[str, float]:
    """Attach the PDF to the composer of a window with the starter model loaded, `rounds`
    times, each after an idle stretch as long as the attaching took the round before."""
    from PySide6.QtCore import QEventLoop

    from desktop.engines.bridge import EngineBridge
    from desktop.window.main_window import MainWindow

    window = MainWindow(EngineBridge())
    window.resize(1180, 800)
    window.show()
    loop = QEventLoop()
    window.bridge.loaded.connect(loop.quit)
    window.load_starter()
    loop.exec()
    strip = window.composer.attachments
    idle_runs, attach_runs, seconds = [], [], []
    took = 10.0
    for _ in range(rounds):
        idle, _ = stall_while(app, lambda: False, took)
        strip.attach_paths([str(pdf)])
        attach, took = stall_while(
            app, lambda: strip.chips and strip.chips[0].state in ("ready", "failed"), 900
        )
        assert strip.chips[0].state == "ready", strip.chips[0].error
        strip.clear()
        idle_runs.append(idle)
        attach_runs.append(attach)
        seconds.append(took)
    window.close()
    window.bridge.shutdown()
    idle, attach = statistics.median(idle_runs), statistics.median(attach_runs)
    return {
        "attach_seconds": statistics.median(seconds),
        "stall_idle_s": idle,
        "stall_attaching_s": attach,
        "stall_ratio": attach / idle if idle else float("inf"),
    }


def engine_counter() -> tuple[Any, Any]:
    from model_runtime.chat.generation import LoadRequest
    from model_runtime.engine import EngineClient
    from model_runtime.models.starter import starter_model_path

    client = EngineClient()
    client.load(LoadRequest(model_path=str(starter_model_path()), n_ctx=CONTEXT, n_threads=1))
    return client, client.count_tokens


def report(pages: int, size: int, r: dict[str, float], rounds: int) -> bool:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    found = round(r["included_share"] * 20)
    accurate = r["included_share"] >= ACCURACY_TARGET
    calm = r.get("stall_ratio", 0.0) <= STALL_TARGET
    rows = [
        ("PDF", f"{pages} pages, {size / 1024 / 1024:.1f} MiB", ""),
        ("extraction, total", f"{r['extraction_total_s']:.1f} s", ""),
        ("extraction, per page (mean)", f"{r['extraction_per_page_s'] * 1000:.0f} ms", ""),
        (
            "  per page (median / max)",
            f"{r['extraction_page_median_s'] * 1000:.0f} / "
            f"{r['extraction_page_max_s'] * 1000:.0f} ms",
            "",
        ),
        ("  until the first page", f"{r['until_first_page_s'] * 1000:.0f} ms", ""),
        ("passages / file tokens", f"{r['passages']:.0f} / {r['file_tokens']:,.0f}", ""),
        ("retrieval index", f"{r['index_s'] * 1000:.0f} ms", ""),
        ("retrieval query (median)", f"{r['query_median_s'] * 1000:.2f} ms", ""),
        ("best passage on the page", f"{r['best_passage_share']:.0%}", ""),
        (
            f"page among passages ({r['room_tokens']:,.0f} tokens)",
            f"{found}/20 = {r['included_share']:.0%}",
            f"≥ {ACCURACY_TARGET:.0%}  {verdict(accurate)}",
        ),
    ]
    if "stall_ratio" in r:
        rows += [
            ("attaching took (read + count)", f"{r['attach_seconds']:.1f} s", ""),
            (
                "longest stall: idle | attaching",
                f"{r['stall_idle_s'] * 1000:.1f} | {r['stall_attaching_s'] * 1000:.1f} ms",
                "",
            ),
            (
                f"stall ratio (median of {rounds})",
                f"{r['stall_ratio']:.2f}",
                f"≤ {STALL_TARGET:g}  {verdict(calm)}",
            ),
        ]
    print(f"{'':34} {'figure':>22}   target")
    for name, figure, target in rows:
        print(f"{name:34} {figure:>22}   {target}")
    return accurate and calm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=1, help="attach-vs-idle rounds")
    parser.add_argument("--no-window", action="store_true", help="skip the window's stalls")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    os.environ["PONDER_HOME"] = tempfile.mkdtemp(prefix="ponder-bench-")

    from desktop.app import create_application

    app = create_application()
    folder = Path(tempfile.mkdtemp(prefix="ponder-bench-pdf-"))
    pdf, where = make_pdf(folder, args.pages)
    file, results = measure_extraction(pdf)
    client, count = engine_counter()
    try:
        results.update(measure_retrieval(file, where, count))
    finally:
        client.close()
    if not args.no_window:
        results.update(measure_window(app, pdf, args.rounds))
    ok = report(args.pages, pdf.stat().st_size, results, args.rounds)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
