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
        ({"messages": [{"role": "user", "content": "x"}], "n": 0}, "n"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 65}, "n"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2.0}, "n"),
        ({"messages": [{"role": "user", "content": "x"}], "seed": 1.5}, "seed"),
        ({"messages": [{"role": "user", "content": "x"}], "top_p": 2}, "top_p"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": True}, "temperature"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
         "messages[0].content"),
        # a lone surrogate can't be encoded for the model (it was a 500 UnicodeEncodeError)
        ({"messages": [{"role": "user", "content": "hi \ud800"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]},
         "messages[0].content"),
        ({"messages": [{"role": "assistant", "content": "", "reasoning_content": "\ud83d"}]},
         "messages[0].reasoning_content"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": ["\ud800"]}, "stop"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": "x" * 1001}, "stop"),
        # numbers llama.cpp takes as 32- or 64-bit integers
        ({"messages": [{"role": "user", "content": "x"}], "seed": 2**64}, "seed"),
        ({"messages": [{"role": "user", "content": "x"}], "top_k": 2**31}, "top_k"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 2**31}, "max_tokens"),
        # grammars llama.cpp must not see
        ({"messages": [{"role": "user", "content": "x"}], "grammar": " "}, "grammar"),
        ({"messages": [{"role": "user", "content": "x"}], "grammar": "root ::= " + "(" * 500},
         "grammar"),
        ({"messages": [{"role": "user", "content": "x"}], "grammar": 'root ::= "\ud800"'},
         "grammar"),
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


def test_max_tokens_has_a_limit() -> None:
    body = {"messages": [{"role": "user", "content": "x"}]}
    assert parse_chat_request(body).params.max_tokens == GenerationParams().max_tokens
    assert parse_chat_request(body, max_tokens=100).params.max_tokens == 100  # default capped
    asked = parse_chat_request({**body, "max_tokens": 100}, max_tokens=100)
    assert asked.params.max_tokens == 100
    for name in ("max_tokens", "max_completion_tokens"):
        with pytest.raises(WireError) as caught:
            parse_chat_request({**body, name: 101}, max_tokens=100)
        assert caught.value.param == name and "at most 100 tokens" in str(caught.value)
    # max_completion_tokens wins over the deprecated max_tokens
    both = parse_chat_request({**body, "max_completion_tokens": 7, "max_tokens": 9})
    assert both.params.max_tokens == 7
