"""Pending (issue 14 item 4): the Anthropic face's details. `thread` refused clearly on the first request,
`max_tokens` required, and an image-URL error in Anthropic's terms. (`GET /v1/models` in Anthropic's shape is enabled:
test_anthropic.py.)"""

from __future__ import annotations

import anthropic
import pytest

MODEL = "claude-sonnet-4-5"


@anthropic.beta_tool
def get_weather(input: str) -> str:
    """The weather in a city."""
    return f"sunny in {input}"


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
    # Today it says "send the image inline as a data URL (data:image/png;base64,...)": OpenAI's terms.
    assert "data URL" not in message and "data:image" not in message, message
    assert "base64" in message and "source" in message, message
