"""The official anthropic Python SDK against jbproxy's Anthropic face (`/v1/messages`), through its own helpers
(`messages.stream(...).get_final_message()`, `count_tokens`), with strict response validation. The fake upstream
echoes the last user message ("Echo: …"); when that message carries the directive `[[tool]]` it calls the first
tool offered with {"input": <the rest of the text>}; it answers a tool result with "Tool said: <result>"."""

from __future__ import annotations

import anthropic
import pytest

MODEL = "claude-sonnet-4-5"

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

@anthropic.beta_tool
def get_weather(input: str) -> str:
    """The weather in a city."""
    return f"sunny in {input}"


WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]},
}


def test_create_answers_a_text_message_with_usage(anthropic_client):
    message = anthropic_client.messages.create(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "hello there"}]
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == MODEL
    assert message.stop_reason == "end_turn"
    [block] = message.content
    assert block.type == "text"
    assert block.text == "Echo: hello there"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0


def test_system_prompt_as_string_and_as_blocks(anthropic_client):
    for system in ["Be brief.", [{"type": "text", "text": "Be brief."}]]:
        message = anthropic_client.messages.create(
            model=MODEL, max_tokens=64, system=system, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content[0].text == "Echo: hi"


def test_stream_helper_final_message(anthropic_client):
    with anthropic_client.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "stream me"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: stream me"
    assert final.content[0].text == "Echo: stream me"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_raw_stream_events_come_in_order(anthropic_client):
    events = list(
        anthropic_client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "raw"}], stream=True
        )
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert kinds[-2] == "message_delta"
    assert "content_block_start" in kinds and "content_block_stop" in kinds
    assert events[-2].delta.stop_reason == "end_turn"


def test_tool_use_round_trip(anthropic_client):
    messages = [{"role": "user", "content": "[[tool]] Paris"}]
    first = anthropic_client.messages.create(model=MODEL, max_tokens=256, messages=messages, tools=[WEATHER_TOOL])
    assert first.stop_reason == "tool_use"
    [use] = [b for b in first.content if b.type == "tool_use"]
    assert use.name == "get_weather"
    assert use.input == {"input": "Paris"}

    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]})
    messages.append(
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21 C"}]}
    )
    second = anthropic_client.messages.create(model=MODEL, max_tokens=256, messages=messages, tools=[WEATHER_TOOL])
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "Tool said: sunny, 21 C"


def test_streamed_tool_use_is_assembled_by_the_stream_helper(anthropic_client):
    with anthropic_client.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "[[tool]] Berlin"}], tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    [use] = [b for b in final.content if b.type == "tool_use"]
    assert use.input == {"input": "Berlin"}


def test_tool_runner_without_server_side_threads_runs_the_tool(anthropic_client):
    # The beta tool runner (on /v1/messages?beta=true) calls the tool and sends its result back by itself.
    runner = anthropic_client.beta.messages.tool_runner(
        model=MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": "[[tool]] Paris"}],
        tools=[get_weather],
        thread=False,
    )
    messages = list(runner)
    assert messages[-1].content[0].text == "Tool said: sunny in Paris"


def test_base64_image(anthropic_client):
    message = anthropic_client.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "text", "text": "what is in this image"},
                ],
            }
        ],
    )
    assert message.content[0].text == "Echo: what is in this image"


def test_count_tokens_grows_with_the_input(anthropic_client):
    short = anthropic_client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    long = anthropic_client.messages.count_tokens(
        model=MODEL, messages=[{"role": "user", "content": "hi " * 200}]
    )
    assert 0 < short.input_tokens < long.input_tokens


def test_wrong_key_is_an_authentication_error(make_anthropic):
    client = make_anthropic(api_key="sk-wrong-key")
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}])


def test_unknown_model_is_not_found(anthropic_client):
    with pytest.raises(anthropic.NotFoundError) as caught:
        anthropic_client.messages.create(
            model="claude-no-such-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["error"]["type"] == "not_found_error"


def test_stream_cut_after_it_started_raises(make_anthropic):
    client = make_anthropic("cut")
    with pytest.raises(anthropic.APIStatusError):
        with client.messages.stream(
            model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "a long answer"}]
        ) as stream:
            for _ in stream.text_stream:
                pass


def test_no_usable_token_is_service_unavailable(make_anthropic):
    client = make_anthropic("no_tokens")
    for _ in range(2):
        with pytest.raises(anthropic.APIStatusError) as caught:
            client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503


# Issue 14 item 4: the Anthropic face's details.


def test_tool_runner_threads_are_refused_with_the_way_out(anthropic_client):
    # tool_runner uses server-side threads unless told thread=False.
    runner = anthropic_client.beta.messages.tool_runner(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "Paris"}], tools=[get_weather]
    )
    with pytest.raises(anthropic.BadRequestError) as caught:
        list(runner)
    assert "thread=False" in caught.value.message


def test_max_tokens_is_required(anthropic_client):
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.post(
            "/v1/messages",
            body={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
            cast_to=anthropic.types.Message,
        )
    assert "max_tokens" in caught.value.message


def test_image_url_error_speaks_anthropic(anthropic_client):
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.messages.create(
            model=MODEL,
            max_tokens=16,
            messages=[
                {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://e.x/c.png"}}]}
            ],
        )
    message = caught.value.message
    assert "not fetched" in message
    # Anthropic's terms (a base64 source), not OpenAI's data URL.
    assert "data URL" not in message and "data:image" not in message, message
    assert "base64" in message and "source" in message, message


def test_models_list_in_anthropic_shape(anthropic_client):
    # Issue 14 item 4: pages of ModelInfo (type, display_name, created_at, lifecycle), followed by the SDK's pager.
    models = list(anthropic_client.models.list())
    assert len(models) > 20, "more than the first page of 20"
    assert len({m.id for m in models}) == len(models), "every id once"
    assert all(m.lifecycle == "active" for m in models)
    assert all(m.type == "model" and m.display_name and m.created_at for m in models)
    assert MODEL in [m.id for m in models]
    assert anthropic_client.models.retrieve(MODEL).id == MODEL
