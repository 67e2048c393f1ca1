"""Issue 14 item 2: Retry-After capped (<= 60 s) so SDKs never sleep for hours, `x-should-retry: false` when nothing
will be usable before the cap, 429 when every usable token is rate-limited, and a message that says why and until
when. Before, anthropic-python slept for the whole Retry-After (an hour here)."""

from __future__ import annotations

import anthropic
import openai
import pytest

from support import deadline

CAP = 60


def check_headers(response, status):
    assert response.status_code == status
    retry_after = response.headers.get("retry-after")
    assert retry_after is not None and int(retry_after) <= CAP, f"Retry-After {retry_after!r} is over the cap"
    assert response.headers.get("x-should-retry") == "false"


def test_rate_limited_tokens_are_a_429_with_a_capped_retry_after(make_openai):
    client = make_openai("rate_limited")
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    check_headers(caught.value.response, 429)
    assert caught.value.type == "rate_limit_error"
    assert "rate" in caught.value.message and "until" in caught.value.message


def test_quota_exhaustion_says_why_and_not_to_retry(make_openai):
    client = make_openai("no_tokens")
    for _ in range(2):
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    check_headers(caught.value.response, 503)
    assert "quota" in caught.value.message


@pytest.mark.parametrize("scenario", ["rate_limited", "no_tokens"])
def test_anthropic_sdk_with_default_retries_gives_up_quickly(make_anthropic, scenario):
    client = make_anthropic(scenario, max_retries=2)
    with deadline(20, f"anthropic-python on the {scenario} proxy"):
        with pytest.raises(anthropic.APIStatusError):
            client.messages.create(model="claude-sonnet-4-5", max_tokens=16,
                                   messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("scenario", ["rate_limited", "no_tokens"])
def test_openai_sdk_with_default_retries_gives_up_quickly(make_openai, scenario):
    client = make_openai(scenario, max_retries=2)
    with deadline(20, f"openai-python on the {scenario} proxy"):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
