"""The OpenAI Responses API face, `POST /v1/responses` (issue 14 item 1), through the SDK's `responses.create` and
`responses.stream`: string and item input, instructions, the typed stream events and the final response, a
function-call round trip with `function_call_output` (whole and streamed), the stateful fields refused, hosted tools
dropped, a cut stream, and `responses.parse` with a `text_format` (issue 14 item 3: `text.format` reaches the upstream
as `response-format`)."""

from __future__ import annotations

import json

import openai
import pydantic
import pytest

MODEL = "gpt-4o"

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]},
    "strict": False,
}


def test_create_with_a_string_input(openai_client):
    response = openai_client.responses.create(model=MODEL, input="hello there", store=False)
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == "Echo: hello there"
    assert response.usage is not None and response.usage.total_tokens > 0


def test_create_with_instructions_and_message_items(openai_client):
    response = openai_client.responses.create(
        model=MODEL,
        instructions="Be brief.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        max_output_tokens=64,
        store=False,
    )
    assert response.output_text == "Echo: hi"


def test_stream_events_and_final_response(openai_client):
    with openai_client.responses.stream(model=MODEL, input="stream me", store=False) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    for kind in ["response.output_item.added", "response.content_part.added", "response.output_text.delta",
                 "response.output_text.done", "response.output_item.done"]:
        assert kind in kinds, f"no {kind} in {kinds}"
    assert final.output_text == "Echo: stream me"
    assert final.usage is not None


def test_function_call_round_trip(openai_client):
    first = openai_client.responses.create(model=MODEL, input="[[tool]] Paris", tools=[WEATHER], store=False)
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"input": "Paris"}
    second = openai_client.responses.create(
        model=MODEL,
        input=[
            {"role": "user", "content": "[[tool]] Paris"},
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"},
        ],
        tools=[WEATHER],
        store=False,
    )
    assert second.output_text == "Tool said: sunny, 21 C"


def test_streamed_function_call_arguments(openai_client):
    with openai_client.responses.stream(model=MODEL, input="[[tool]] Berlin", tools=[WEATHER], store=False) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    [call] = [item for item in final.output if item.type == "function_call"]
    assert json.loads(call.arguments) == {"input": "Berlin"}


@pytest.mark.parametrize("stateful", [{"store": True}, {"previous_response_id": "resp_123"}])
def test_server_side_state_is_refused_clearly(openai_client, stateful):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.responses.create(model=MODEL, input="hi", **stateful)
    assert next(iter(stateful)) in caught.value.message


def test_hosted_tools_are_dropped_not_refused(openai_client):
    response = openai_client.responses.create(
        model=MODEL, input="hi", tools=[{"type": "web_search"}], include=["web_search_call.action.sources"],
        reasoning={"effort": "low", "summary": "auto"}, store=False,
    )
    assert response.output_text == "Echo: hi"


def test_stream_cut_ends_with_a_failure_event(make_openai):
    client = make_openai("cut")
    kinds = []
    with pytest.raises(openai.APIError):
        with client.responses.stream(model=MODEL, input="a long answer", store=False) as stream:
            for event in stream:
                kinds.append(event.type)
    # Only a stream that had started proves the cut is reported (a 404 would raise APIError too).
    assert "response.output_text.delta" in kinds, kinds


def test_parse_with_text_format(openai_client):
    class City(pydantic.BaseModel):
        name: str

    response = openai_client.responses.parse(model=MODEL, input="Paris", text_format=City, store=False)
    # The fake fills every property of the schema with the user's text, as it does when response-format is sent.
    assert response.output_parsed == City(name="Paris")
