"""Pending (issue 14 item 4): `GET /v1/models` in Anthropic's shape for Anthropic clients. (The item's other cases,
`thread`, `max_tokens` and the image-URL error, run in `tests/sdk/test_anthropic.py`.)"""

from __future__ import annotations

import anthropic

MODEL = "claude-sonnet-4-5"


def test_models_list_in_anthropic_shape(anthropic_client):
    models = list(anthropic_client.models.list())
    assert models, "no models"
    assert all(m.type == "model" and m.display_name and m.created_at for m in models)
    assert MODEL in [m.id for m in models]
    assert anthropic_client.models.retrieve(MODEL).id == MODEL
