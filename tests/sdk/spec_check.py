"""Checks what jbproxy answered against OpenAI's published OpenAPI spec (vendored in openapi/) and Anthropic's
SDK types: every chat completion, stream chunk, model list and error body the suite sees.

Used in-process by conftest.py (each test's recorded exchanges are checked when it ends) and as a command over a
JSON-lines file of exchanges for the Node cases: `python spec_check.py EXCHANGES.jsonl`.
"""

from __future__ import annotations

import functools
import json
import pathlib
import sys
from dataclasses import dataclass

import jsonschema
import referencing
import referencing.jsonschema

SPEC_PATH = pathlib.Path(__file__).parent / "openapi" / "openapi.json"
SPEC_URI = "urn:openai-openapi"


@dataclass
class Exchange:
    """One HTTP exchange as the client saw it: the request line and the whole response body."""

    method: str
    path: str
    status: int
    content_type: str
    body: bytes = b""
    complete: bool = False
    # The request carried `anthropic-version`, as the anthropic SDKs send: an Anthropic-shaped answer is due.
    anthropic: bool = False

    def label(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


def _nullable_to_31(node):
    """The published spec mixes OpenAPI 3.0's `nullable: true` into its 3.1 (JSON Schema 2020-12) schemas, which a
    2020-12 validator ignores; read it as 3.0 does (null is also allowed) so nullable fields are not false alarms."""
    if isinstance(node, list):
        return [_nullable_to_31(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_to_31(value) for key, value in node.items()}
    if node.pop("nullable", False) is True:
        return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def _registry() -> referencing.Registry:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    components = {"components": {"schemas": _nullable_to_31(spec["components"]["schemas"])}}
    resource = referencing.Resource(contents=components, specification=referencing.jsonschema.DRAFT202012)
    return referencing.Registry().with_resource(SPEC_URI, resource)


@functools.cache
def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def openapi_errors(schema_name: str, instance) -> list[str]:
    """Every way `instance` breaks the spec's schema `schema_name`, one line each (empty when it conforms)."""
    errors = sorted(_validator(schema_name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    lines = []
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        # anyOf failures nest the useful reason one level down.
        reasons = [error.message] + [c.message for c in (error.context or [])][:3]
        lines.append(f"{schema_name} at {where}: " + " | ".join(reasons))
    return lines


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) of each SSE event in `text`, multi-line data joined with newlines."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:"):].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:"):].removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


# The anthropic SDK's type for each stream event, picked by the event's `type`; `ping` has no type of its own there.
_ANTHROPIC_EVENTS = {
    "message_start": "RawMessageStartEvent",
    "message_delta": "RawMessageDeltaEvent",
    "message_stop": "RawMessageStopEvent",
    "content_block_start": "RawContentBlockStartEvent",
    "content_block_delta": "RawContentBlockDeltaEvent",
    "content_block_stop": "RawContentBlockStopEvent",
    "error": "ErrorResponse",
}


@functools.cache
def _anthropic_adapter(kind: str):
    import anthropic.types  # Only when an Anthropic answer is checked: the import is slow.
    import pydantic

    return pydantic.TypeAdapter(getattr(anthropic.types, kind))


def _anthropic_errors(kind: str, instance) -> list[str]:
    """Every way `instance` breaks the anthropic SDK's own pydantic type `kind` (required fields, literals, enums)."""
    import pydantic

    try:
        _anthropic_adapter(kind).validate_python(instance)
    except pydantic.ValidationError as err:
        return [f"anthropic {kind} at {'/'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in err.errors()]
    return []


def _anthropic_event_errors(name: str | None, event) -> list[str]:
    kind = event.get("type") if isinstance(event, dict) else None
    problems = [] if kind == name else [f"event name {name!r} differs from its type {kind!r}"]
    if kind == "ping":
        return problems if event == {"type": "ping"} else problems + [f"unexpected ping fields: {event}"]
    if kind not in _ANTHROPIC_EVENTS:
        return problems + [f"unknown stream event type {kind!r}"]
    return problems + _anthropic_errors(_ANTHROPIC_EVENTS[kind], event)


def check(exchange: Exchange) -> list[str]:
    """Every spec violation in one exchange, each line prefixed with the exchange; empty when all conforms."""
    path = exchange.path.split("?", 1)[0]
    text = exchange.body.decode("utf-8", errors="replace")
    if exchange.complete and not text:
        problems = ["empty body"]
    elif exchange.anthropic or path.startswith("/v1/messages"):
        problems = _check_anthropic(exchange, path, text)
    else:
        problems = _check_openai(exchange, path, text)
    return [f"{exchange.label()}: {p}" for p in problems]


class _Parser:
    """JSON parsing that notes what is not JSON instead of raising."""

    def __init__(self):
        self.problems: list[str] = []

    def __call__(self, data: str):
        try:
            return json.loads(data)
        except json.JSONDecodeError as err:
            self.problems.append(f"not JSON ({err}): {data[:200]!r}")
            return None


def _streamed(exchange: Exchange) -> bool:
    return exchange.content_type.startswith("text/event-stream")


def _check_anthropic(exchange: Exchange, path: str, text: str) -> list[str]:
    parse = _Parser()
    problems: list[str] = []
    if exchange.status >= 400:
        problems += _anthropic_errors("ErrorResponse", parse(text))
    elif path == "/v1/messages/count_tokens":
        problems += _anthropic_errors("MessageTokensCount", parse(text))
    elif path == "/v1/messages" and _streamed(exchange):
        events = sse_events(text)
        if exchange.complete and (not events or events[-1][0] not in ("message_stop", "error")):
            problems.append("stream ended with neither message_stop nor error")
        for name, data in events:
            event = parse(data)
            if event is not None:
                problems += _anthropic_event_errors(name, event)
    elif path == "/v1/messages":
        problems += _anthropic_errors("Message", parse(text))
    elif path == "/v1/models":
        page = parse(text)
        if not isinstance(page, dict):
            page = {}
        problems += [f"model page lacks {k!r}" for k in ("data", "has_more", "first_id", "last_id") if k not in page]
        for model in page.get("data") or []:
            problems += _anthropic_errors("ModelInfo", model)
    elif path.startswith("/v1/models/"):
        problems += _anthropic_errors("ModelInfo", parse(text))
    else:
        problems.append("no Anthropic type known for this path; add one to spec_check")
    return parse.problems + problems


def _check_openai(exchange: Exchange, path: str, text: str) -> list[str]:
    parse = _Parser()
    problems: list[str] = []
    if exchange.status >= 400:
        problems += openapi_errors("ErrorResponse", parse(text))
    elif path == "/v1/chat/completions" and _streamed(exchange):
        events = sse_events(text)
        chunks = [parse(data) for _, data in events if data != "[DONE]"]
        # A finished stream ends with [DONE], or with an error object when it was cut (and then no [DONE]).
        done = bool(events) and events[-1][1] == "[DONE]"
        cut = bool(chunks) and isinstance(chunks[-1], dict) and "error" in chunks[-1]
        if exchange.complete and not (done or cut):
            problems.append("stream ended with neither data: [DONE] nor an error object")
        for chunk in chunks:
            if chunk is not None:
                schema = "ErrorResponse" if "error" in chunk else "CreateChatCompletionStreamResponse"
                problems += openapi_errors(schema, chunk)
    elif path == "/v1/chat/completions":
        problems += openapi_errors("CreateChatCompletionResponse", parse(text))
    elif path == "/v1/models":
        problems += openapi_errors("ListModelsResponse", parse(text))
    elif path.startswith("/v1/models/"):
        problems += openapi_errors("Model", parse(text))
    elif path == "/v1/responses" and _streamed(exchange):
        for name, data in sse_events(text):
            event = parse(data)
            if event is None:
                continue
            if name is not None and event.get("type") != name:
                problems.append(f"event name {name!r} differs from its type {event.get('type')!r}")
            problems += openapi_errors("ResponseStreamEvent", event)
    elif path == "/v1/responses":
        problems += openapi_errors("Response", parse(text))
    else:
        problems.append("no OpenAPI schema known for this path; add one to spec_check")
    return parse.problems + problems


def check_all(exchanges: list[Exchange]) -> list[str]:
    """The problems of all exchanges, each distinct line once with how often it occurred."""
    counts: dict[str, int] = {}
    for exchange in exchanges:
        for line in check(exchange):
            counts[line] = counts.get(line, 0) + 1
    return [line if n == 1 else f"{line} (x{n})" for line, n in counts.items()]


def _main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: spec_check.py EXCHANGES.jsonl", file=sys.stderr)
        return 2
    exchanges = []
    for line in pathlib.Path(argv[1]).read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            exchanges.append(
                Exchange(
                    method=record["method"],
                    path=record["path"],
                    status=record["status"],
                    content_type=record.get("content_type", ""),
                    body=record["body"].encode("utf-8"),
                    complete=record.get("complete", True),
                    anthropic=record.get("anthropic", False),
                )
            )
    if not exchanges:
        print(f"{argv[1]}: no exchanges recorded, nothing was checked", file=sys.stderr)
        return 1
    problems = check_all(exchanges)
    for problem in problems:
        print(problem)
    print(f"checked {len(exchanges)} exchanges against the spec: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
