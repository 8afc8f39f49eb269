"""Chatting never touches the network: every socket call of a whole chat is recorded."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from model_runtime.chat.generation import Chunk, Finished, GenerationParams, LoadRequest, Message
from model_runtime.engine.worker import Engine

NETWORK_EVENTS = ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto")
_seen: list[tuple[str, tuple]] = []
_recording = False


def _audit(event: str, args: tuple) -> None:
    if _recording and event in NETWORK_EVENTS:
        _seen.append((event, args))


sys.addaudithook(_audit)  # audit hooks can't be removed; this one only records while asked


class Flag:
    """Stands in for the shared integer the client gives the worker (nothing is cancelled)."""

    value = 0


@pytest.mark.slow
def test_a_whole_chat_opens_no_socket(smollm2: Path, tmp_path: Path) -> None:
    """The engine's own code and llama-cpp-python, run in this process under an audit hook.

    Python's audit hooks see every socket Python code opens; llama.cpp's C code opens none
    (this build has no download support compiled in).
    """
    global _recording
    engine = Engine(Flag(), Flag(), str(tmp_path / "engine.log"))
    events: list[object] = []
    _seen.clear()
    _recording = True
    try:
        engine.load(LoadRequest(model_path=str(smollm2), n_ctx=1024, n_threads=2))
        history: list[Message] = []
        for gen_id, question in enumerate(["Hello!", "Name a colour.", "And a fruit?"], 1):
            history.append(Message("user", question))
            events.clear()
            engine.generate(gen_id, history, GenerationParams(max_tokens=16, seed=1), events.append)
            answer = "".join(e.text for e in events if isinstance(e, Chunk))
            assert isinstance(events[-1], Finished)
            history.append(Message("assistant", answer))
    finally:
        _recording = False
        engine.unload()
    assert _seen == []  # no connect, bind, name lookup or datagram during load and 3 turns


def test_the_recorder_sees_a_connection_attempt() -> None:
    """The check above would notice: a loopback connect attempt is recorded."""
    import socket

    global _recording
    _seen.clear()
    _recording = True
    try:
        with socket.socket() as probe, pytest.raises(OSError):
            probe.settimeout(0.5)
            probe.connect(("127.0.0.1", 9))  # the discard port: refused
    finally:
        _recording = False
    assert [event for event, _ in _seen] == ["socket.connect"]
