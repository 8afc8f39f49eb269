"""The network log: a line as each connection starts, a line as it ends, and older logs read."""

from __future__ import annotations

import json

from model_runtime import netlog

OLD_LINE = {  # as Ponder 0.1 wrote them: no id, no outcome
    "time": "2025-01-02T10:00:00.000+00:00",
    "host": "huggingface.co",
    "purpose": "search",
    "method": "GET",
    "target": "/api/models",
}


def test_each_connection_says_how_it_ended_and_the_bytes_each_way() -> None:
    answered = netlog.record("huggingface.co", "GET", "/api/models", why="search")
    failed = netlog.record("cas-bridge.xethub.hf.co", "GET", "/xet/blob", why="download")
    still_open = netlog.record("huggingface.co", "GET", "/api/models/x", why="metadata")
    netlog.finish(failed, ok=False, detail="dropped after 900 bytes", sent=310, received=900)
    netlog.finish(answered, ok=True, detail="HTTP 200 OK", sent=300, received=5_000)

    events = netlog.read_log()
    assert [e.id for e in events] == [answered.id, failed.id, still_open.id]  # as they started
    first, second, third = events
    assert (first.succeeded, first.detail, first.sent, first.received) == (
        True,
        "HTTP 200 OK",
        300,
        5_000,
    )
    assert (second.succeeded, second.detail, second.received) == (
        False,
        "dropped after 900 bytes",
        900,
    )
    assert third.succeeded is None and third.sent is None and third.received is None
    assert netlog.read_log(since=still_open.time)[-1].id == still_open.id


def test_lines_of_an_older_ponder_and_damaged_lines_still_read() -> None:
    path = netlog.log_path()
    end_of_nothing = {"end": "no-such-id", "result": "ok", "sent": 1, "received": 2}
    path.write_text(
        json.dumps(OLD_LINE)
        + "\n"
        + '{"time": "2025-01-02T10:00:01'  # cut short by a crash
        + "\n"
        + json.dumps(end_of_nothing)
        + "\n[1, 2]\n"
        + json.dumps({"end": "x", "sent": "many", "received": True})
        + "\n",
        encoding="utf-8",
    )
    netlog.record("huggingface.co", "GET", "/api/whoami-v2", why="auth")

    old, new = netlog.read_log()
    assert (old.host, old.purpose, old.target, old.id) == (
        "huggingface.co",
        "search",
        "/api/models",
        "",
    )
    assert old.succeeded is None and old.sent is None and old.detail == ""
    assert new.purpose == "auth" and new.id
