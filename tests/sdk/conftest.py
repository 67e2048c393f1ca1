"""Fixtures for the SDK conformance cases: official clients pointed at the jbproxy under test, whose every response
is recorded on the wire and checked against the spec when the test ends (spec_check.py).

The Rust side (tests/it/sdk.rs) starts one fake upstream + jbproxy pair per scenario, passes each one's URL as
JBPROXY_SDK_URL_<SCENARIO> and the client key as OPENAI_API_KEY and ANTHROPIC_API_KEY; nothing here starts a
server.
"""

from __future__ import annotations

import os

import pytest

import spec_check
from support import RecordingTransport


@pytest.fixture
def exchanges():
    """Every exchange of the test's clients; all are checked against the spec once the test has run."""
    recorded: list[spec_check.Exchange] = []
    yield recorded
    if not recorded:
        pytest.fail("no exchange was recorded: is the client built without RecordingTransport?", pytrace=False)
    problems = spec_check.check_all(recorded)
    if problems:
        pytest.fail("answers that break the spec:\n" + "\n".join(problems), pytrace=False)


def scenario_url(scenario: str) -> str:
    """The base URL of the jbproxy serving `scenario` (ok, cut, no_tokens, rate_limited: see tests/it/sdk.rs)."""
    variable = f"JBPROXY_SDK_URL_{scenario.upper()}"
    try:
        return os.environ[variable]
    except KeyError:
        raise RuntimeError(f"{variable} is not set: start scenario {scenario!r} for these cases in tests/it/sdk.rs")


@pytest.fixture
def make_openai(exchanges):
    """OpenAI clients on a scenario's proxy, recorded and with strict response validation; no retries unless asked
    (a retry would hide the first answer)."""
    import openai  # Here, not at the top: a process running only one SDK's cases need not import the other.

    clients = []

    def make(scenario: str = "ok", **options):
        options.setdefault("max_retries", 0)
        options.setdefault("timeout", 30)
        client = openai.OpenAI(
            base_url=scenario_url(scenario) + "/v1",
            http_client=openai.DefaultHttpxClient(transport=RecordingTransport(exchanges)),
            _strict_response_validation=True,
            **options,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def make_anthropic(exchanges):
    """Anthropic clients on a scenario's proxy, recorded and with strict response validation; no retries unless
    asked."""
    import anthropic

    clients = []

    def make(scenario: str = "ok", **options):
        options.setdefault("max_retries", 0)
        options.setdefault("timeout", 30)
        client = anthropic.Anthropic(
            base_url=scenario_url(scenario),
            http_client=anthropic.DefaultHttpxClient(transport=RecordingTransport(exchanges)),
            _strict_response_validation=True,
            **options,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def openai_client(make_openai):
    return make_openai()


@pytest.fixture
def anthropic_client(make_anthropic):
    return make_anthropic()
