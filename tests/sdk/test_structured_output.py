"""Issue 14 item 3, issue 13 item 1: `response_format`, `tool_choice` and `parallel_tool_calls` are mapped upstream or
refused with a 400 that names them, never silently ignored. gpt-4o's profile takes them all, and the fake upstream
honours them (a JSON answer filling the schema's properties, the named tool, no call under "none", every tool at
once when its `[[tools]]` directive asks and parallel calls are allowed), so each case proves the mapping end to end. Legacy
`functions`/`function_call` are refused with a 400 that says to send `tools`."""

from __future__ import annotations

import json

import openai
import pydantic

MODEL = "gpt-4o"


class City(pydantic.BaseModel):
    name: str
    country: str


def tool(name: str) -> dict:
    schema = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
    return {"type": "function", "function": {"name": name, "parameters": schema}}


def mapped_or_refused(call, parameter: str):
    """The issue's contract: the answer honours `parameter`, or a 400 names it. Returns the answer, or None when
    refused."""
    try:
        return call()
    except openai.BadRequestError as err:
        assert err.status_code == 400
        assert parameter in (err.message + str(err.param)), f"the 400 does not name {parameter}: {err.message}"
        return None


def test_parse_with_a_pydantic_model(openai_client):
    completion = mapped_or_refused(
        lambda: openai_client.chat.completions.parse(
            model=MODEL, messages=[{"role": "user", "content": "Paris"}], response_format=City
        ),
        "response_format",
    )
    if completion is not None:
        # `parse` raises on prose; an answer here must be the schema's JSON.
        assert isinstance(completion.choices[0].message.parsed, City)


def test_json_object_mode_answers_json(openai_client):
    completion = mapped_or_refused(
        lambda: openai_client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Answer in JSON: the capital of France"}],
            response_format={"type": "json_object"},
        ),
        "response_format",
    )
    if completion is not None:
        json.loads(completion.choices[0].message.content)


def test_named_tool_choice_calls_that_tool(openai_client):
    # No `[[tool]]` directive: the fake answers text unless asked for a call, so only an honoured tool_choice calls
    # a tool, and the second one at that.
    completion = mapped_or_refused(
        lambda: openai_client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Paris"}],
            tools=[tool("get_time"), tool("get_weather")],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ),
        "tool_choice",
    )
    if completion is not None:
        assert [c.function.name for c in completion.choices[0].message.tool_calls] == ["get_weather"]


def test_required_tool_choice_calls_a_tool(openai_client):
    # No `[[tool]]` directive: the fake answers text unless asked for a call, so only an honoured "required" makes it
    # call one.
    completion = mapped_or_refused(
        lambda: openai_client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "user", "content": "Paris"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ],
            tools=[tool("get_weather")],
            tool_choice="required",
        ),
        "tool_choice",
    )
    if completion is not None:
        assert completion.choices[0].finish_reason == "tool_calls"


def test_tool_choice_none_strips_the_tools(openai_client):
    completion = openai_client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Paris"}],
        tools=[tool("get_weather")],
        tool_choice="none",
    )
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].message.content == "Echo: Paris"


def test_parallel_tool_calls_are_not_ignored(openai_client):
    # `[[tools]]` asks the fake for a call to every tool at once (their fragments interleaved upstream): allowed, it
    # makes both; not allowed, one.
    for parallel, calls in [(True, 2), (False, 1)]:
        completion = mapped_or_refused(
            lambda: openai_client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "[[tools]] Paris"}],
                tools=[tool("get_weather"), tool("get_time")],
                parallel_tool_calls=parallel,
            ),
            "parallel_tool_calls",
        )
        if completion is not None:
            made = completion.choices[0].message.tool_calls
            assert len(made) == calls
            assert all(json.loads(c.function.arguments) == {"input": "Paris"} for c in made)


def test_legacy_functions_are_mapped_or_refused(openai_client):
    # Issue 14 item 5: `functions` mapped to tools, or refused; never ignored.
    completion = mapped_or_refused(
        lambda: openai_client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "[[tool]] Paris"}],
            functions=[tool("get_weather")["function"]],
        ),
        "functions",
    )
    if completion is not None:
        message = completion.choices[0].message
        assert message.function_call is not None or message.tool_calls, "the function was offered and not called"


def test_legacy_named_function_call_is_mapped_or_refused(openai_client):
    # No `[[tool]]` directive: the fake answers text unless asked, so only an honoured function_call calls the second.
    completion = mapped_or_refused(
        lambda: openai_client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Paris"}],
            functions=[tool("get_time")["function"], tool("get_weather")["function"]],
            function_call={"name": "get_weather"},
        ),
        "function",
    )
    if completion is not None:
        message = completion.choices[0].message
        called = message.function_call.name if message.function_call else message.tool_calls[0].function.name
        assert called == "get_weather"
