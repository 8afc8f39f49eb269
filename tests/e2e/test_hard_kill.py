"""SIGKILL the real app while it streams: the partial answer survives and can be continued."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model_runtime.conversations.store import ConversationStore

SCRIPT = Path(__file__).with_name("long_answer.py")
ROOT = SCRIPT.parents[2]

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling another process's database; there is no signal to wait on


def saved_answer(database: Path) -> str:
    if not database.exists():
        return ""
    import sqlite3

    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT content || reasoning FROM messages WHERE role = 'assistant'"
        ).fetchone()
    except sqlite3.OperationalError:  # not created yet
        return ""
    finally:
        db.close()
    return row[0] if row else ""


def test_hard_kill_while_streaming_keeps_the_partial_answer(ponder_home: Path, qtbot) -> None:
    app = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the app and its engine worker, to clean up at the end
    )
    database = ponder_home / "data" / "conversations.sqlite"
    try:
        line = app.stdout.readline()
        assert line.strip() == "streaming", line + app.stderr.read()
        wait_for(lambda: len(saved_answer(database)) > 40, 120, "the partial answer on disk")
        app.send_signal(signal.SIGKILL)  # no chance to clean up
        app.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.pid, signal.SIGKILL)  # the orphaned engine worker, if still there

    store = ConversationStore(database)
    try:
        assert store.integrity_check() == "ok"
        assert store.recovered == 1
        (conversation,) = store.conversations()
        question, answer = store.visible_messages(conversation.id)
        assert question.content.startswith("Write a very long story")
        assert answer.state == "interrupted"
        assert len(answer.content + answer.reasoning) > 40
    finally:
        store.close()

    # the restarted app shows it as interrupted, with Continue
    from desktop.chat.messages import AssistantMessage
    from desktop.engines.bridge import EngineBridge
    from desktop.window.main_window import MainWindow

    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    window.open_conversation(conversation.id)
    shown = window.chat_view.messages[-1]
    assert isinstance(shown, AssistantMessage)
    assert shown.answer == answer.content
    assert "Interrupted" in shown.status.text()
    assert shown.continue_button.isVisibleTo(shown)
    window.close()
