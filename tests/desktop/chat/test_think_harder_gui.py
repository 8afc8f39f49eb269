"""Think harder in the real window on the real model: the button beside Send, the lanes while
the thoughts run, the tally, every thought a version of the answer; a crash keeps what streamed."""

from __future__ import annotations

import functools
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from desktop.chat.composer import Composer
from desktop.chat.messages import AssistantMessage
from desktop.chat.think_harder import TallyBar, ThoughtLanes
from desktop.chat.voting import stored_tally
from desktop.window import main_window
from desktop.window.main_window import MainWindow
from model_runtime.chat.generation import GenerationParams, LoadRequest
from model_runtime.chat.think_harder import load_default_votes
from model_runtime.chat.thinking import ThinkingPolicy
from model_runtime.conversations.records import StoredMessage

TIMEOUT_MS = 180_000
# Under the R1 template the prompt opened <think>: a short thought, then a boxed digit.
BOXED_GRAMMAR = r"""
root ::= thought "\n</think>\n\n" "The answer is \\boxed{" [1-3] "}."
thought ::= [A-Za-z ,.']{10,40}
"""


def test_the_button_shows_where_the_plan_fits_and_remembers_its_number(qtbot: Any) -> None:
    composer = Composer()
    qtbot.addWidget(composer)
    composer.show()
    composer.set_can_send(True)
    button = composer.think_harder
    composer.set_votes(0)  # no model, or a remote engine
    assert not button.isVisibleTo(composer)
    composer.set_votes(3)  # fewer than the fewest offered
    assert not button.isVisibleTo(composer)
    composer.set_votes(5)
    assert button.isVisibleTo(composer) and button.text() == "Think harder ×4"
    assert button.choices[4].isEnabled() and not button.choices[8].isEnabled()
    composer.set_votes(64)
    assert button.text() == "Think harder ×8"  # the default (8) fits again
    button.choices[4].trigger()
    assert button.text() == "Think harder ×4" and load_default_votes() == 4
    composer.set_votes(5)
    button.choices[8].trigger()  # more than fit: it can't be chosen
    assert load_default_votes() == 4
    composer.set_votes(64)
    button.choices[8].trigger()
    composer.set_votes(5)  # a model with room for fewer: 4, and 8 stays the default
    assert load_default_votes() == 8 and button.text() == "Think harder ×4"
    composer.set_votes(64)
    assert button.text() == "Think harder ×8"
    button.choices[4].trigger()
    composer.edit.setPlainText("Which is bigger?")
    with qtbot.waitSignal(composer.votes_requested) as asked:
        button.click()
    assert asked.args == ["Which is bigger?", [], 4]
    composer.set_busy(True)  # while thoughts run, Stop stops them; no second vote
    assert not button.isVisibleTo(composer)


@pytest.fixture
def r1_window(qtbot: Any, smollm2_r1: Path, monkeypatch: pytest.MonkeyPatch):
    """The window with SmolLM2 under an R1 template, planned for this machine."""
    monkeypatch.setattr(main_window, "LoadRequest", functools.partial(LoadRequest, n_threads=1))
    window = MainWindow(main_window.EngineBridge())
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.bridge.loaded, timeout=TIMEOUT_MS):
        window.load_model(str(smollm2_r1))
    yield window
    window.close()
    window.bridge.shutdown()


def lanes_of(window: MainWindow) -> ThoughtLanes:
    widget = window.chat_view.messages[-1]
    assert isinstance(widget, ThoughtLanes)
    return widget


def tally_bar(message: AssistantMessage) -> TallyBar:
    bars = message.findChildren(TallyBar)
    assert len(bars) == 1
    return bars[0]


@pytest.mark.slow
def test_four_thoughts_stream_in_lanes_then_the_vote_and_every_thought_as_a_version(
    r1_window: MainWindow, qtbot: Any
) -> None:
    window = r1_window
    assert window.controller.max_votes >= 8
    assert window.composer.think_harder.isVisibleTo(window)
    window.controller.params = GenerationParams(
        max_tokens=80, temperature=1.0, seed=21, grammar=BOXED_GRAMMAR
    )
    window.composer.think_harder.choices[4].trigger()
    window.composer.edit.setPlainText("Pick a number from 1 to 3.")
    with qtbot.waitSignal(window.controller.busy_changed, timeout=TIMEOUT_MS):
        window.composer.think_harder.click()
    lanes = lanes_of(window)
    assert len(lanes.lanes) == 4
    qtbot.waitUntil(lambda: all(lane.tokens > 0 for lane in lanes.lanes), timeout=TIMEOUT_MS)
    assert window.controller.busy and window.composer.button.text() == "Stop"
    with qtbot.waitSignal(window.controller.answer_finished, timeout=TIMEOUT_MS):
        pass
    assert not window.controller.busy
    message = window.chat_view.messages[-1]
    assert isinstance(message, AssistantMessage)
    stored = window.store.message(message.message_id)
    members = window.store.vote(stored)
    assert len(members) == 4 and all(m.state == "complete" for m in members)
    assert all(m.reasoning and "\\boxed{" in m.content for m in members)
    counted = stored_tally(members)
    # the chat shows the vote's winner, as version k of 4, with its own thinking pane
    assert counted.winner is not None and members.index(stored) == counted.winner.sequences[0]
    assert message.action_bar.position.text() == f"{counted.winner.sequences[0] + 1}/4"
    assert message.thinking is not None and message.reasoning == stored.reasoning
    bar = tally_bar(message)
    assert bar.tally == counted
    # one speed for the answer shown: the status bar's is the one under it (issue 14)
    (speed,) = re.findall(r"[\d.]+ tokens/s", message.status.text())
    assert window.status.speed_label.text().split(" · ")[0] == speed
    assert "Vote of 4 thoughts:" in bar.text() and counted.verdict().split(":")[0] in bar.text()
    # another thought is a version away, with the same tally under it
    other = next(m for m in members if m.id != stored.id)
    window.controller.switch_branch(other.id)
    shown = window.chat_view.messages[-1]
    assert isinstance(shown, AssistantMessage) and shown.message_id == other.id
    assert shown.reasoning == other.reasoning and tally_bar(shown).tally == counted
    # a thought is searched like any answer, and comes back when the chat is reopened
    words = other.reasoning.split()[0]
    assert other.id in {hit.message_id for hit in window.store.search(words)}
    conversation_id = window.controller.conversation_id
    window.new_chat()
    window.open_conversation(conversation_id)
    assert tally_bar(window.chat_view.messages[-1]).tally == counted


@pytest.mark.slow
def test_a_crash_keeps_what_the_thoughts_said(r1_window: MainWindow, qtbot: Any) -> None:
    window = r1_window
    window.controller.params = GenerationParams(
        max_tokens=600, temperature=0.8, seed=5, thinking=ThinkingPolicy(loop_policy="off")
    )
    window.composer.edit.setPlainText("Why is the sky blue?")
    window.composer.think_harder.choices[4].trigger()
    window.composer.think_harder.click()
    lanes = lanes_of(window)
    qtbot.waitUntil(lambda: all(lane.tokens > 3 for lane in lanes.lanes), timeout=TIMEOUT_MS)
    pid = window.bridge.client.pid
    assert pid is not None
    with qtbot.waitSignals([window.bridge.failed, window.bridge.crashed], timeout=30_000):
        os.kill(pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=10_000)
    assert window.banner.isVisible() and window.banner.reload_button.isVisible()
    assert lanes.note.isVisible() and "engine" in lanes.note.text().lower()
    question = window.store.visible_messages(window.controller.conversation_id)[0]
    kept = [
        m
        for m in window.store.export_json(question.conversation_id)["messages"]
        if m["role"] == "assistant"
    ]
    assert len(kept) == 4 and {m["state"] for m in kept} == {"interrupted"}
    assert all(m["reasoning"] for m in kept)


def stored(message_id: int, content: str, state: str = "complete") -> StoredMessage:
    return StoredMessage(message_id, 1, 1, "assistant", content, state=state)  # type: ignore[arg-type]


def test_the_tally_links_each_other_answer_to_its_first_thought(qtbot: Any) -> None:
    members = [
        stored(11, "\\boxed{2}"),
        stored(12, "\\boxed{3}"),
        stored(13, "\\boxed{3}"),
        stored(14, "\\boxed{2}"),
        stored(15, "half an answer", state="interrupted"),  # does not vote
    ]
    counted = stored_tally(members)
    bar = TallyBar(counted, members, 12)
    qtbot.addWidget(bar)
    text = bar.text()
    assert "Vote of 5 thoughts:" in text and "A tie: 2 and 3, 2 of 5 each" in text
    assert '<a href="11">2</a> — 2 of 5' in text  # the other group, a link to its first thought
    assert "<b>3</b> — 2 of 5" in text and 'href="12"' not in text  # this thought's group
    assert "no boxed answer — 1 of 5" in text and "You are reading thought 2 of 5." in text
    with qtbot.waitSignal(bar.branch_requested) as asked:
        bar.linkActivated.emit("11")
    assert asked.args == [11]
    unanswered = TallyBar(counted, members, 15)
    qtbot.addWidget(unanswered)
    assert "reading thought 5 of 5, which gave no answer to count." in unanswered.text()
