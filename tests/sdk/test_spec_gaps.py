"""Issue 14 item 5: the small spec gaps left after `logprobs`/`refusal`: a wrong method on a known path answers 405
with a JSON error object (checked against the spec by the recording) and `Allow`."""

from __future__ import annotations

import httpx2
import openai
import pytest


def test_wrong_method_is_a_405_with_an_error_object_and_allow(openai_client):
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client.get("/chat/completions", cast_to=httpx2.Response)
    assert caught.value.status_code == 405
    assert "POST" in caught.value.response.headers.get("allow", "")
    assert isinstance(caught.value.body, dict), f"not a JSON error object: {caught.value.body!r}"
