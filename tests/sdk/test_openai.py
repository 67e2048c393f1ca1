"""The official openai Python SDK against jbproxy's OpenAI face, through its own high-level helpers, so that a
response shape the SDK cannot read fails here. The fake upstream echoes the last user message ("Echo: …"); when
that message carries the directive `[[tool]]` it calls the first tool offered with {"input": <the rest of the
text>}; it answers a tool result with "Tool said: <result>"."""

from __future__ import annotations

import json

import openai
import pydantic
import pytest

MODEL = "gpt-4o"

# A 1x1 PNG.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string"}},
            "required": ["input"],
        },
    },
}


class Lookup(pydantic.BaseModel):
    """Arguments of the lookup tool (the fake upstream calls a tool with {"input": <the text after `[[tool]]`>})."""

    input: str


def test_create_answers_one_choice_with_usage(openai_client):
    completion = openai_client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello there"}]
    )
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    [choice] = completion.choices
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "Echo: hello there"
    assert choice.message.tool_calls is None
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_system_and_developer_messages_are_accepted(openai_client):
    completion = openai_client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": "hi"},
        ],
    )
    assert completion.choices[0].message.content == "Echo: hi"


def test_create_stream_with_include_usage_ends_with_a_usage_chunk(openai_client):
    stream = openai_client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len({c.id for c in chunks}) == 1, "one id for the whole completion"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert text == "Echo: stream me"
    finishes = [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.choices == [], "the usage chunk has no choices"
    assert last.usage is not None and last.usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_create_stream_without_include_usage_has_no_usage(openai_client):
    chunks = list(
        openai_client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "no usage"}], stream=True
        )
    )
    assert chunks
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: no usage"


def test_tool_call_round_trip(openai_client):
    messages = [{"role": "user", "content": "[[tool]] Paris"}]
    first = openai_client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    [choice] = first.choices
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"input": "Paris"}

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"})
    second = openai_client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Tool said: sunny, 21 C"


def test_streamed_tool_call_through_the_stream_helper_parses_arguments(openai_client):
    tool = openai.pydantic_function_tool(Lookup, name="lookup")
    with openai_client.chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": "[[tool]] Berlin"}], tools=[tool]
    ) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.delta" in events
    assert "tool_calls.function.arguments.done" in events
    [choice] = final.choices
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.function.name == "lookup"
    assert call.function.parsed_arguments == Lookup(input="Berlin")


def test_image_as_data_url(openai_client):
    completion = openai_client.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is in this image"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    )
    assert completion.choices[0].message.content == "Echo: what is in this image"


def test_stream_helper_final_completion(openai_client):
    with openai_client.chat.completions.stream(
        model=MODEL,
        messages=[{"role": "user", "content": "helper"}],
        stream_options={"include_usage": True},
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == "Echo: helper"
    assert final.choices[0].message.content == "Echo: helper"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.total_tokens > 0


def test_models_list_and_retrieve(openai_client):
    models = list(openai_client.models.list())
    ids = [m.id for m in models]
    assert MODEL in ids
    assert ids == sorted(ids)
    assert all(m.object == "model" for m in models)
    model = openai_client.models.retrieve(MODEL)
    assert model.id == MODEL


def test_wrong_key_is_an_authentication_error(make_openai):
    client = make_openai(api_key="sk-wrong-key")
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 401


def test_unknown_model_is_not_found(openai_client):
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"
    with pytest.raises(openai.NotFoundError):
        openai_client.models.retrieve("no-such-model")


def test_remote_image_url_is_a_bad_request(openai_client):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(
            model=MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}],
                }
            ],
        )
    assert caught.value.status_code == 400
    assert "image" in caught.value.message


def test_several_choices_come_back_as_choices(openai_client):
    # gpt-4o's profile takes number-of-choices: the upstream answers twice, split by choiceIndex.
    completion = openai_client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], n=2
    )
    assert [c.index for c in completion.choices] == [0, 1]
    assert [c.message.content for c in completion.choices] == ["Echo: hi", "Echo: hi [2]"]
    assert all(c.finish_reason == "stop" for c in completion.choices)
    streamed = {0: "", 1: ""}
    for chunk in openai_client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], n=2, stream=True
    ):
        for choice in chunk.choices:
            streamed[choice.index] += choice.delta.content or ""
    assert streamed == {0: "Echo: hi", 1: "Echo: hi [2]"}


def test_several_choices_where_the_profile_answers_once_are_a_bad_request(openai_client):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}], n=2
        )
    assert caught.value.param == "n"
    assert "number-of-choices" in caught.value.message


def test_stream_cut_after_it_started_raises_instead_of_ending_quietly(make_openai):
    client = make_openai("cut")
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "a long answer"}], stream=True
        ):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received), "some text arrived before the cut"
    assert "Echo: a long answer".startswith("".join(received))
    assert caught.value.message


def test_answer_cut_before_anything_was_sent_is_a_bad_gateway(make_openai):
    client = make_openai("cut")
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "cut"}])
    assert caught.value.status_code == 502


def test_no_usable_token_is_service_unavailable(make_openai):
    client = make_openai("no_tokens")
    for _ in range(2):
        # The first call finds the only token out of quota; from then on nothing can serve.
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503
    assert caught.value.code == "no_available_tokens"
