"""The spec check itself: it must reject what breaks the spec, or the SDK cases' checks prove nothing."""

from __future__ import annotations

import json

import spec_check


def completion(**choice_extra):
    choice = {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    choice.update(choice_extra)
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o", "choices": [choice]}


def exchange(path, body, status=200, content_type="application/json", anthropic=False):
    raw = body if isinstance(body, str) else json.dumps(body)
    return spec_check.Exchange(
        method="POST" if "chat" in path or "messages" in path else "GET",
        path=path,
        status=status,
        content_type=content_type,
        body=raw.encode(),
        complete=True,
        anthropic=anthropic,
    )


def sse(*payloads, named=False):
    blocks = []
    for p in payloads:
        data = p if isinstance(p, str) else json.dumps(p)
        event = f"event: {p['type']}\n" if named and isinstance(p, dict) else ""
        blocks.append(f"{event}data: {data}\n\n")
    return "".join(blocks)


def test_required_nullable_fields_are_required():
    problems = spec_check.check(exchange("/v1/chat/completions", completion()))
    assert any("'logprobs' is a required property" in p for p in problems), problems
    assert any("'refusal' is a required property" in p for p in problems), problems
    body = completion(logprobs=None)
    body["choices"][0]["message"]["refusal"] = None
    assert spec_check.check(exchange("/v1/chat/completions", body)) == []


def test_nullable_is_read_as_openapi_3_0_does():
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}],
        "usage": None,
    }
    stream = exchange("/v1/chat/completions", sse(chunk, "[DONE]"), content_type="text/event-stream")
    assert spec_check.check(stream) == []
    chunk["choices"][0]["finish_reason"] = "finished"
    bad = exchange("/v1/chat/completions", sse(chunk, "[DONE]"), content_type="text/event-stream")
    assert any("finish_reason" in p for p in spec_check.check(bad))


def test_a_stream_must_end_with_done_or_an_error():
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []}
    unended = exchange("/v1/chat/completions", sse(chunk), content_type="text/event-stream")
    assert any("neither" in p for p in spec_check.check(unended))
    error = {"error": {"message": "cut", "type": "upstream_error", "code": None, "param": None}}
    cut = exchange("/v1/chat/completions", sse(chunk, error), content_type="text/event-stream")
    assert spec_check.check(cut) == []


def test_error_objects_need_every_field():
    body = {"error": {"message": "no", "type": "invalid_request_error", "code": None}}
    problems = spec_check.check(exchange("/v1/chat/completions", body, status=400))
    assert any("'param' is a required property" in p for p in problems), problems


def test_model_list_items_are_models():
    good = {"object": "list", "data": [{"id": "m", "object": "model", "created": 1, "owned_by": "x"}]}
    assert spec_check.check(exchange("/v1/models", good)) == []
    bad = {"object": "list", "data": [{"id": "m", "object": "model"}]}
    assert spec_check.check(exchange("/v1/models", bad))


def test_anthropic_types_are_checked():
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    assert spec_check.check(exchange("/v1/messages", message)) == []
    message["content"][0]["type"] = "txt"
    assert spec_check.check(exchange("/v1/messages", message))
    unknown = exchange(
        "/v1/messages", sse({"type": "ping"}, {"type": "surprise"}, named=True), content_type="text/event-stream"
    )
    problems = spec_check.check(unknown)
    assert any("unknown stream event type 'surprise'" in p for p in problems), problems
    assert any("neither message_stop nor error" in p for p in problems), problems


def test_anthropic_requests_get_anthropic_model_pages():
    openai_shaped = {"object": "list", "data": [{"id": "m", "object": "model", "created": 1, "owned_by": "x"}]}
    problems = spec_check.check(exchange("/v1/models", openai_shaped, anthropic=True))
    assert any("has_more" in p for p in problems), problems


def response_object(**extra):
    body = {
        "id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress", "model": "gpt-4o",
        "output": [], "error": None, "incomplete_details": None, "instructions": None, "metadata": None,
        "tools": [], "tool_choice": "auto", "parallel_tool_calls": True, "temperature": None, "top_p": None,
    }
    body.update(extra)
    return body


def test_responses_events_are_checked():
    created = {"type": "response.created", "sequence_number": 0, "response": response_object()}
    stream = exchange("/v1/responses", sse(created, named=True), content_type="text/event-stream")
    assert spec_check.check(stream) == []
    # `usage` is an object or absent, never null; and a delta needs its `logprobs`.
    created["response"]["usage"] = None
    delta = {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "output_index": 0,
             "content_index": 0, "delta": "x"}
    bad = exchange("/v1/responses", sse(created, delta, named=True), content_type="text/event-stream")
    problems = spec_check.check(bad)
    assert len(problems) == 2, problems
    assert spec_check.check(exchange("/v1/responses", response_object(status="completed"))) == []
    assert spec_check.check(exchange("/v1/responses", response_object(tools=None))) != []
