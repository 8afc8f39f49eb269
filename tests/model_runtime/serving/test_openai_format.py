"""OpenAI's request format to Ponder's types, and stop strings across streamed pieces."""

from __future__ import annotations

import pytest

from model_runtime.chat.generation import GenerationParams, Message
from model_runtime.serving.openai_format import (
    StopMatcher,
    WireError,
    messages_to_wire,
    parse_chat_request,
)


def test_a_request_becomes_messages_and_params() -> None:
    request = parse_chat_request(
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi "},
                                             {"type": "text", "text": "there"}]},
                {"role": "assistant", "content": None, "reasoning_content": "Hmm."},
            ],
            "max_completion_tokens": 50,
            "temperature": 0,
            "seed": 7,
            "stop": "END",
            "stream": True,
            "stream_options": {"include_usage": True},
            "grammar": 'root ::= "x"',
            "reasoning_budget": 100,
        }
    )  # fmt: skip
    assert request.messages == (
        Message("system", "Be brief."),
        Message("user", "Hi there"),
        Message("assistant", "", "Hmm."),
    )
    params = request.params
    assert (params.max_tokens, params.temperature, params.seed) == (50, 0.0, 7)
    assert params.grammar == 'root ::= "x"' and params.thinking.budget_tokens == 100
    assert params.top_p == GenerationParams().top_p  # unset: Ponder's R1 defaults
    assert request.stop == ("END",) and request.stream and request.include_usage


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], None),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
        ({"messages": [{"role": "user", "content": "x"}], "seed": 1.5}, "seed"),
        ({"messages": [{"role": "user", "content": "x"}], "top_p": 2}, "top_p"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": True}, "temperature"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
         "messages[0].content"),
    ],
)  # fmt: skip
def test_bad_requests_say_which_field(body, param) -> None:
    with pytest.raises(WireError) as caught:
        parse_chat_request(body)
    assert caught.value.status == 400 and caught.value.param == param
    assert caught.value.body()["error"]["type"] == "invalid_request_error"


def test_stop_strings_across_pieces() -> None:
    stops = StopMatcher(["STOP", "\n\n"])
    assert stops.feed("Hello S") == ("Hello ", False)  # "S" might start STOP
    assert stops.feed("T") == ("", False)
    assert stops.feed("AR") == ("STAR", False)
    assert stops.feed(" then\n") == (" then", False)
    assert stops.feed("\nrest") == ("", True)
    tail = StopMatcher(["STOP"])
    assert tail.feed("ends ST") == ("ends ", False)
    assert tail.flush() == "ST"


def test_past_reasoning_goes_back_only_when_asked() -> None:
    messages = [Message("user", "q"), Message("assistant", "a", "why")]
    assert messages_to_wire(messages) == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    assert messages_to_wire(messages, keep_reasoning=True)[1]["reasoning_content"] == "why"
