#!/usr/bin/env python3
"""Golden fixtures for jbproxy from JetBrains' own client, `grazie-api-gateway-client` (PyPI, Apache-2.0).

The client is pointed at a capture server on 127.0.0.1 that this script starts: every request it builds is
recorded byte for byte, and every stream transcript is served to it so that its own parser says what it reads.
Nothing leaves the machine; no JetBrains service is called. Output: tests/fixtures/grazie/ (see README.md there).

    python3 scripts/grazie_fixtures.py          # (re)write the fixtures
    python3 scripts/grazie_fixtures.py --check  # exit 1 if the committed fixtures differ from a fresh run

Without the pinned client importable, the script makes its own venv under target/grazie-fixtures-venv
(`python3 -m venv` + `pip install --no-deps -r scripts/requirements-fixtures.txt`) and re-runs itself there.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "grazie"
REQUIREMENTS = ROOT / "scripts" / "requirements-fixtures.txt"
VENV = ROOT / "target" / "grazie-fixtures-venv"
CLIENT = "grazie-api-gateway-client"
CLIENT_VERSION = "0.3.3"


def ensure_client():
    """Re-exec inside a venv holding the pinned client unless it is already importable."""
    try:
        from importlib.metadata import version

        if version(CLIENT) == CLIENT_VERSION:
            return
        sys.exit(f"{CLIENT} {version(CLIENT)} is installed here, the fixtures need {CLIENT_VERSION}: "
                 f"run without a venv active, or `pip install --no-deps -r {REQUIREMENTS}`")
    except ImportError:  # PackageNotFoundError too: not installed in this interpreter
        pass
    python = VENV / "bin" / "python"
    if os.environ.get("GRAZIE_FIXTURES_REEXEC"):
        sys.exit(f"{CLIENT} {CLIENT_VERSION} is still not importable in {VENV}; delete it and retry")
    if not python.exists():
        print(f"creating {VENV} for {CLIENT}=={CLIENT_VERSION}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-r", str(REQUIREMENTS)],
                       check=True)
    os.environ["GRAZIE_FIXTURES_REEXEC"] = "1"
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


ensure_client()

# Only loopback from here on: no proxy may see the capture traffic.
for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

import attrs  # noqa: E402
from grazie.api.client._common import UnknownMetadataResponse  # noqa: E402
from grazie.api.client.gateway import (  # noqa: E402
    AuthType,
    GrazieAgent,
    GrazieApiGatewayClient,
)
from grazie.api.client.profiles import LLMProfile  # noqa: E402
from grazie.api.client.v8.chat.message import (  # noqa: E402
    AssistantChatMessage,
    AssistantChatMessageTool,
    ChatMessage,
    ChatToolMessage,
)
from grazie.api.client.v8.chat.prompt import ChatPrompt  # noqa: E402
from grazie.api.client.v8.llm_parameters import LLMParameters  # noqa: E402
from grazie.api.client.v8.llm_tools import ToolDefinition  # noqa: E402
from grazie.api.client.v8.parameters import Parameters  # noqa: E402

# Not a real token: the fixtures show "<JWT>" wherever the client sent it.
FAKE_JWT = "fixture-jwt-not-real"
AGENT = GrazieAgent(name="aia:idea", version="261.22158.366:261.22158.277")
PROMPT_ID = "ij.chat.request.new-chat-on-start"
SOURCE_CLIENT = f"{CLIENT} {CLIENT_VERSION}"


# --------------------------------------------------------------------------------------------------------------
# The capture server: records each request, answers with whatever the current case queued.
# --------------------------------------------------------------------------------------------------------------

class Capture:
    def __init__(self):
        self.requests = []
        self.reply = (200, "text/event-stream", b"")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self):
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                capture.requests.append({
                    "method": self.command,
                    "path": self.path,
                    "headers": [(k, v) for k, v in self.headers.items()],
                    "body": body,
                })
                status, content_type, payload = capture.reply
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, *args):
                pass

        return Handler

    def take(self, reply=None):
        """Queue the next reply; return the requests recorded since the last call."""
        taken, self.requests = self.requests, []
        if reply is not None:
            self.reply = reply
        return taken

    def client(self):
        return GrazieApiGatewayClient(grazie_agent=AGENT, url=self.url, auth_type=AuthType.USER,
                                      grazie_jwt_token=FAKE_JWT)


# The headers the client itself sets (gateway.py `_generate_headers`); the rest are python-requests' own.
CLIENT_HEADERS = ("grazie-authenticate-jwt", "grazie-agent", "content-type")


def recorded(request):
    """A captured request as fixture JSON: JWT masked, Host (it names the random port) dropped."""
    client_headers, transport_headers = {}, {}
    for name, value in request["headers"]:
        if name.lower() == "host":
            continue
        bucket = client_headers if name.lower() in CLIENT_HEADERS else transport_headers
        bucket[name] = "<JWT>" if value == FAKE_JWT else value
    body = request["body"]
    return {
        "method": request["method"],
        "path": request["path"],
        "headers": client_headers,
        "transport_headers": transport_headers,
        "body": json.loads(body) if body else None,
    }


def plain(value):
    """attrs objects, the client's metadata containers, enums and Decimals → JSON values."""
    if attrs.has(type(value)):
        return {k: plain(v) for k, v in attrs.asdict(value, recurse=False).items()}
    if isinstance(value, UnknownMetadataResponse):
        return {k: plain(v) for k, v in vars(value).items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)  # str enums (StopReason) become their value
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)  # Decimal


def failure(exc):
    return {"class": type(exc).__name__, "message": str(exc)}


# --------------------------------------------------------------------------------------------------------------
# Requests: what the official client sends for a conversation, beside the OpenAI / Anthropic inputs that mean it.
# --------------------------------------------------------------------------------------------------------------

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
}
TIME_SCHEMA = {"type": "object", "properties": {"tz": {"type": "string"}}}

WEATHER_TOOL = ToolDefinition(name="get_weather", description="Current weather for a city",
                              parameters={"schema": WEATHER_SCHEMA})
# No description: the client then sends "description": null.
TIME_TOOL = ToolDefinition(name="get_time", parameters={"schema": TIME_SCHEMA})

OPENAI_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city",
                                      "parameters": WEATHER_SCHEMA}},
    {"type": "function", "function": {"name": "get_time", "parameters": TIME_SCHEMA}},
]
ANTHROPIC_TOOLS = [
    {"name": "get_weather", "description": "Current weather for a city", "input_schema": WEATHER_SCHEMA},
    {"name": "get_time", "input_schema": TIME_SCHEMA},
]
TOOLS = {LLMParameters.Tools: Parameters.JsonValue.from_tools(WEATHER_TOOL, TIME_TOOL)}

ARGS_PARIS = json.dumps({"city": "Paris"})
ARGS_UTC = json.dumps({"tz": "UTC"})
# A 1x1 transparent PNG.
PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@attrs.define(frozen=True)
class MediaMessage(ChatMessage):
    """NOT in the official client (0.3.3 has no image message): the v8 shape the peers send, for R-image only."""

    media_type: str
    data: str

    def to_json(self):
        return {"type": "media_message", "mediaType": self.media_type, "data": self.data}


def u(text):
    return {"role": "user", "content": text}


def request_cases():
    """(name, spec) pairs. spec: profile, build(ChatPrompt), parameters, openai[], anthropic[], notes[], origin."""
    weather_q = "What is the weather in Paris?"
    cases = []

    def case(name, description, profile, build, parameters=None, openai=(), anthropic=(), notes=(),
             origin="official-client"):
        cases.append((name, dict(description=description, profile=profile, build=build, parameters=parameters,
                                 openai=list(openai), anthropic=list(anthropic), notes=list(notes),
                                 origin=origin)))

    case("text_user", "One user message, no parameters: `parameters` is absent, not empty.",
         "openai-gpt-4o", lambda p: p.add_user("Hello!"),
         openai=[{"model": "gpt-4o", "messages": [u("Hello!")]},
                 {"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello!"}]}]}])

    case("text_system_multiturn", "System prompt, a finished exchange and a new question (non-ASCII kept).",
         "openai-gpt-4o",
         lambda p: p.add_system("You are terse.").add_user("Hi").add_assistant("Hello.").add_user("Weather in Zürich?"),
         openai=[
             {"model": "gpt-4o", "messages": [{"role": "system", "content": "You are terse."}, u("Hi"),
                                              {"role": "assistant", "content": "Hello."}, u("Weather in Zürich?")]},
             {"model": "gpt-4o", "messages": [{"role": "developer", "content": "You are terse."}, u("Hi"),
                                              {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
                                              u("Weather in Zürich?")]},
         ],
         notes=["The official client sends assistant text as `assistant_message`; jbproxy's v8 path sends "
                "`assistant_message_text` (peers, CAI). Both are reported accepted upstream; a golden test should "
                "either make jbproxy send `assistant_message` or treat the two types as one."])

    case("anthropic_text_system", "Anthropic-style: system string, max_tokens → length.",
         "anthropic-claude-4-5-sonnet",
         lambda p: p.add_system("You are terse.").add_user("Hi").add_assistant("Hello.").add_user("2+2?"),
         parameters={LLMParameters.Length: Parameters.IntValue(1024)},
         anthropic=[
             {"model": "claude-sonnet-4-5", "max_tokens": 1024, "system": "You are terse.",
              "messages": [u("Hi"), {"role": "assistant", "content": "Hello."}, u("2+2?")]},
             {"model": "claude-sonnet-4-5", "max_tokens": 1024,
              "system": [{"type": "text", "text": "You are terse."}],
              "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                           {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
                           {"role": "user", "content": [{"type": "text", "text": "2+2?"}]}]},
         ],
         openai=[
             {"model": "claude-sonnet-4-5", "max_tokens": 1024,
              "messages": [{"role": "system", "content": "You are terse."}, u("Hi"),
                           {"role": "assistant", "content": "Hello."}, u("2+2?")]},
             {"model": "claude-sonnet-4-5", "max_completion_tokens": 1024,
              "messages": [{"role": "system", "content": "You are terse."}, u("Hi"),
                           {"role": "assistant", "content": "Hello."}, u("2+2?")]},
         ])

    case("tool_definitions", "Two tools, one without a description (sent as null), and a question.",
         "openai-gpt-4o", lambda p: p.add_user(weather_q), parameters=TOOLS,
         openai=[{"model": "gpt-4o", "messages": [u(weather_q)], "tools": OPENAI_TOOLS}],
         notes=["The tools value is a JSON *string* built with Python's json.dumps (\", \" and \": \" separators): "
                "compare it parsed, not as text.",
                "A tool without a description is sent with \"description\": null; jbproxy omits the key today."])

    case("tool_round_trip", "A tool call and its result, built with ChatPrompt.add_tool.",
         "openai-gpt-4o",
         lambda p: p.add_user(weather_q).add_tool(id="call_1", tool_name="get_weather", content=ARGS_PARIS,
                                                  result="18C, cloudy"),
         parameters=TOOLS,
         openai=[{"model": "gpt-4o", "tools": OPENAI_TOOLS, "messages": [
             u(weather_q),
             {"role": "assistant", "content": None, "tool_calls": [
                 {"id": "call_1", "type": "function",
                  "function": {"name": "get_weather", "arguments": ARGS_PARIS}}]},
             {"role": "tool", "tool_call_id": "call_1", "content": "18C, cloudy"}]}])

    def anthropic_round_trip(p):
        p.add_user(weather_q)
        p.messages.append(AssistantChatMessage(text="Let me check."))
        p.messages.append(AssistantChatMessageTool(id="toolu_01", tool_name="get_weather", content=ARGS_PARIS))
        p.messages.append(ChatToolMessage(id="toolu_01", tool_name="get_weather", result="18C, cloudy"))

    case("anthropic_tool_round_trip", "Assistant text then a tool call in one turn, then the tool's result.",
         "anthropic-claude-4-5-sonnet", anthropic_round_trip,
         parameters={**TOOLS, LLMParameters.Length: Parameters.IntValue(1024)},
         anthropic=[{"model": "claude-sonnet-4-5", "max_tokens": 1024, "tools": ANTHROPIC_TOOLS, "messages": [
             u(weather_q),
             {"role": "assistant", "content": [
                 {"type": "text", "text": "Let me check."},
                 {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
             {"role": "user", "content": [
                 {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C, cloudy"}]}]}],
         openai=[{"model": "claude-sonnet-4-5", "max_tokens": 1024, "tools": OPENAI_TOOLS, "messages": [
             u(weather_q),
             {"role": "assistant", "content": "Let me check.", "tool_calls": [
                 {"id": "toolu_01", "type": "function",
                  "function": {"name": "get_weather", "arguments": ARGS_PARIS}}]},
             {"role": "tool", "tool_call_id": "toolu_01", "content": "18C, cloudy"}]}],
         notes=["Built from the client's message classes (AssistantChatMessage, AssistantChatMessageTool, "
                "ChatToolMessage) appended in conversation order.",
                "Anthropic `input` objects become the argument string; compare `content` of assistant_message_tool "
                "parsed, since key order and spacing are the serialiser's."])

    def parallel(p):
        p.add_user("Weather in Paris and the time in UTC?")
        p.messages.append(AssistantChatMessageTool(id="call_a", tool_name="get_weather", content=ARGS_PARIS))
        p.messages.append(AssistantChatMessageTool(id="call_b", tool_name="get_time", content=ARGS_UTC))
        p.messages.append(ChatToolMessage(id="call_a", tool_name="get_weather", result="18C, cloudy"))
        p.messages.append(ChatToolMessage(id="call_b", tool_name="get_time", result="12:00"))

    case("parallel_tool_calls_with_results", "Two calls in one assistant turn, then both results.",
         "openai-gpt-4o", parallel, parameters=TOOLS,
         openai=[{"model": "gpt-4o", "tools": OPENAI_TOOLS, "messages": [
             u("Weather in Paris and the time in UTC?"),
             {"role": "assistant", "content": None, "tool_calls": [
                 {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ARGS_PARIS}},
                 {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ARGS_UTC}}]},
             {"role": "tool", "tool_call_id": "call_a", "content": "18C, cloudy"},
             {"role": "tool", "tool_call_id": "call_b", "content": "12:00"}]}],
         notes=["ChatPrompt.add_tool always appends a call immediately followed by its result; for the OpenAI "
                "order (all calls, then all results) the client's message classes are appended directly."])

    def image(p):
        p.messages.append(MediaMessage(media_type="image/png", data=PNG_1X1))
        p.add_user("What is in this picture?")

    case("image_user", "An image and a question about it.", "openai-gpt-4o", image,
         origin="peer-shape",
         openai=[{"model": "gpt-4o", "messages": [{"role": "user", "content": [
             {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_1X1}},
             {"type": "text", "text": "What is in this picture?"}]}]}],
         notes=["The official client 0.3.3 has NO image message. `media_message {mediaType, data}` before the "
                "user text is the peers' shape (caidaoli/jetbrainsai2api 2025-08, Kazuki-0147/jb-ai-proxy 2026-04); "
                "only the envelope around it comes from the official client."])

    case("sampling_openai", "temperature, top_p, max_tokens, stop, seed, n.",
         "openai-gpt-4o", lambda p: p.add_user("Name a colour."),
         parameters={
             LLMParameters.Temperature: Parameters.FloatValue(0.7),
             LLMParameters.TopP: Parameters.FloatValue(0.9),
             LLMParameters.Length: Parameters.IntValue(256),
             LLMParameters.StopToken: Parameters.StrValue("END"),
             LLMParameters.Seed: Parameters.IntValue(42),
             LLMParameters.NumberOfChoices: Parameters.IntValue(2),
         },
         openai=[
             {"model": "gpt-4o", "messages": [u("Name a colour.")], "temperature": 0.7, "top_p": 0.9,
              "max_tokens": 256, "stop": "END", "seed": 42, "n": 2},
             {"model": "gpt-4o", "messages": [u("Name a colour.")], "temperature": 0.7, "top_p": 0.9,
              "max_completion_tokens": 256, "stop": ["END"], "seed": 42, "n": 2},
         ],
         notes=["stop-token is one string; the client has no list form. A stop array of more than one entry has "
                "no known encoding (unverified upstream)."])

    case("anthropic_sampling", "temperature, top_p, top_k, max_tokens, stop_sequences.",
         "anthropic-claude-4-5-sonnet", lambda p: p.add_user("Name a colour."),
         parameters={
             LLMParameters.Temperature: Parameters.FloatValue(0.5),
             LLMParameters.TopP: Parameters.FloatValue(0.8),
             LLMParameters.TopK: Parameters.IntValue(40),
             LLMParameters.Length: Parameters.IntValue(512),
             LLMParameters.StopToken: Parameters.StrValue("END"),
         },
         anthropic=[{"model": "claude-sonnet-4-5", "max_tokens": 512, "temperature": 0.5, "top_p": 0.8,
                     "top_k": 40, "stop_sequences": ["END"], "messages": [u("Name a colour.")]}],
         notes=["Whether Anthropic profiles take temperature/top-p/top-k is profile data (profiles/v8); this "
                "fixture is the encoding only."])

    case("response_format_json_object", "response_format json_object.", "openai-gpt-4o",
         lambda p: p.add_user("Reply with a JSON object."),
         parameters={LLMParameters.ResponseFormat: Parameters.JsonValue({"type": "json_object"})},
         openai=[{"model": "gpt-4o", "messages": [u("Reply with a JSON object.")],
                  "response_format": {"type": "json_object"}}],
         notes=["The value shape inside response-format (OpenAI's object passed through) is unverified: the "
                "client only says it is JSON."])

    schema_format = {"type": "json_schema", "json_schema": {
        "name": "colour", "strict": True,
        "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
                   "additionalProperties": False}}}
    case("response_format_json_schema", "response_format json_schema.", "openai-gpt-4o",
         lambda p: p.add_user("Name a colour."),
         parameters={LLMParameters.ResponseFormat: Parameters.JsonValue(schema_format)},
         openai=[{"model": "gpt-4o", "messages": [u("Name a colour.")], "response_format": schema_format}],
         notes=["Value shape unverified, as for json_object."])

    case("reasoning_gpt5", "reasoning_effort, verbosity, max_completion_tokens on a gpt-5 profile.",
         "openai-gpt-5", lambda p: p.add_user("Prove that 17 is prime."),
         parameters={
             LLMParameters.ReasoningEffort: Parameters.StrValue("high"),
             Parameters.StrKey("llm.parameters.verbosity"): Parameters.StrValue("low"),
             LLMParameters.Length: Parameters.IntValue(4096),
         },
         openai=[{"model": "gpt-5", "messages": [u("Prove that 17 is prime.")], "reasoning_effort": "high",
                  "verbosity": "low", "max_completion_tokens": 4096}],
         origin="official-serializer",
         notes=["`llm.parameters.verbosity` is NOT defined by the client 0.3.3; it comes from "
                "Kazuki-0147/jb-ai-proxy (2026-04). It is encoded here with the client's own StrKey/StrValue."])

    case("anthropic_thinking", "Extended thinking: budget_tokens → thinking-budget, max_tokens → length.",
         "anthropic-claude-4-5-sonnet", lambda p: p.add_user("Prove that 17 is prime."),
         parameters={LLMParameters.Length: Parameters.IntValue(2048),
                     LLMParameters.ThinkingBudget: Parameters.IntValue(1024)},
         anthropic=[{"model": "claude-sonnet-4-5", "max_tokens": 2048,
                     "thinking": {"type": "enabled", "budget_tokens": 1024},
                     "messages": [u("Prove that 17 is prime.")]}],
         notes=["The thinking text itself has no known v8 stream event (the client parses none)."])

    case("tool_choice_auto", "tool_choice auto with parallel_tool_calls true.", "openai-gpt-4o",
         lambda p: p.add_user(weather_q),
         parameters={**TOOLS, LLMParameters.ToolChoiceAuto: Parameters.BooleanValue(True),
                     LLMParameters.ParallelToolCalls: Parameters.BooleanValue(True)},
         openai=[{"model": "gpt-4o", "messages": [u(weather_q)], "tools": OPENAI_TOOLS, "tool_choice": "auto",
                  "parallel_tool_calls": True}])

    case("tool_choice_none", "tool_choice none, tools still defined.", "openai-gpt-4o",
         lambda p: p.add_user(weather_q),
         parameters={**TOOLS, LLMParameters.ToolChoiceNone: Parameters.BooleanValue(True)},
         openai=[{"model": "gpt-4o", "messages": [u(weather_q)], "tools": OPENAI_TOOLS, "tool_choice": "none"}],
         notes=["What the client can express: tools plus tool-choice-none. Issue 13 item 1 says jbproxy strips "
                "the tools for \"none\"; that differs from this body (and would break a history holding tool "
                "calls, which Anthropic only accepts with tools defined). The lead decides which one jbproxy sends."])

    case("tool_choice_required", "tool_choice required.", "openai-gpt-4o", lambda p: p.add_user(weather_q),
         parameters={**TOOLS, LLMParameters.ToolChoiceRequired: Parameters.BooleanValue(True)},
         openai=[{"model": "gpt-4o", "messages": [u(weather_q)], "tools": OPENAI_TOOLS,
                  "tool_choice": "required"}])

    case("tool_choice_named_no_parallel", "A named tool_choice, parallel_tool_calls false.", "openai-gpt-4o",
         lambda p: p.add_user(weather_q),
         parameters={**TOOLS, LLMParameters.ToolChoiceNamed: Parameters.StrValue("get_weather"),
                     LLMParameters.ParallelToolCalls: Parameters.BooleanValue(False)},
         openai=[{"model": "gpt-4o", "messages": [u(weather_q)], "tools": OPENAI_TOOLS,
                  "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                  "parallel_tool_calls": False}],
         notes=["tool-choice-named is text holding the bare tool name."])

    case("anthropic_tool_choice_named", "Anthropic tool_choice tool + disable_parallel_tool_use.",
         "anthropic-claude-4-5-sonnet", lambda p: p.add_user(weather_q),
         parameters={**TOOLS, LLMParameters.Length: Parameters.IntValue(1024),
                     LLMParameters.ToolChoiceNamed: Parameters.StrValue("get_weather"),
                     LLMParameters.ParallelToolCalls: Parameters.BooleanValue(False)},
         anthropic=[{"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [u(weather_q)],
                     "tools": ANTHROPIC_TOOLS,
                     "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}}])

    case("anthropic_tool_choice_any", "Anthropic tool_choice any → required.",
         "anthropic-claude-4-5-sonnet", lambda p: p.add_user(weather_q),
         parameters={**TOOLS, LLMParameters.Length: Parameters.IntValue(1024),
                     LLMParameters.ToolChoiceRequired: Parameters.BooleanValue(True)},
         anthropic=[{"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [u(weather_q)],
                     "tools": ANTHROPIC_TOOLS, "tool_choice": {"type": "any"}}])

    case("predicted_output", "OpenAI prediction → predicted-output text.", "openai-gpt-4o",
         lambda p: p.add_user("Rename x to y in: let x = 1;"),
         parameters={LLMParameters.PredictedOutput: Parameters.StrValue("let y = 1;")},
         openai=[{"model": "gpt-4o", "messages": [u("Rename x to y in: let x = 1;")],
                  "prediction": {"type": "content", "content": "let y = 1;"}}],
         notes=["The client says predicted-output works only with the gpt-4o / gpt-4.1 families."])

    return cases


def build_request_fixtures(capture):
    client = capture.client()
    out = {}
    for name, spec in request_cases():
        prompt = ChatPrompt()
        spec["build"](prompt)
        capture.take(reply=(200, "text/event-stream", b'data: {"event_type": "data", "type": "Content", '
                                                       b'"content": ""}\n\ndata: end\n\n'))
        client.v8.chat(chat=prompt, profile=LLMProfile(spec["profile"]), prompt_id=PROMPT_ID,
                       parameters=spec["parameters"])
        [request] = capture.take()
        out[f"requests/{name}.json"] = {
            "name": name,
            "description": spec["description"],
            "origin": spec["origin"],
            "source": SOURCE_CLIENT,
            "grazie": recorded(request),
            "openai": spec["openai"],
            "anthropic": spec["anthropic"],
            "notes": spec["notes"],
        }
    return out


# --------------------------------------------------------------------------------------------------------------
# Streams: transcripts served to the client's v8 chat parser; what chat_stream yields and what chat aggregates.
# --------------------------------------------------------------------------------------------------------------

QUOTA_EVENT = {"type": "QuotaMetadata",
               "updated": {"license": "LIC-0001", "current": {"amount": "1234.5"},
                           "maximum": {"amount": "300000"}, "until": 1767225600000,
                           "quotaID": {"quotaId": "ai-assistant"}},
               "spent": {"amount": "12.3"}}


def d(event):
    """One data line as JetBrains' gateway frames it: event_type first, then the event."""
    return "data: " + json.dumps({"event_type": "data", **event}) + "\n\n"


def content(text, **extra):
    return d({"type": "Content", "content": text, **extra})


def tool(**fields):
    return d({"type": "ToolCall", **fields})


def finish(reason, **extra):
    return d({"type": "FinishMetadata", "reason": reason, **extra})


QUOTA = d(QUOTA_EVENT)
END = "data: end\n\n"


def stream_cases():
    """(name, description, sse text, number_of_choices, (jbproxy reads it as the client does?, note))."""
    same = (True, None)

    def also(note):
        return (True, note)

    def differs(note):
        return (False, note)

    return [
        ("text", "Text deltas, FinishMetadata stop, QuotaMetadata, end.",
         content("Hel") + content("lo") + content(", world.") + finish("stop") + QUOTA + END, None, same),
        ("text_length", "The answer is cut by max tokens: reason length.",
         content("Once upon a") + finish("length") + QUOTA + END, None,
         also("OpenAI finish_reason \"length\" / Anthropic stop_reason \"max_tokens\".")),
        ("tool_single", "One tool call: id and name first, argument fragments after, all with parallelToolIndex 0.",
         tool(parallelToolIndex=0, id="call_1", name="get_weather", content="")
         + tool(parallelToolIndex=0, content='{"city":') + tool(parallelToolIndex=0, content='"Paris"}')
         + finish("tool_call") + QUOTA + END, None, same),
        ("text_then_tool", "Text, then a tool call in the same answer.",
         content("Let me check.") + tool(parallelToolIndex=0, id="call_1", name="get_weather", content="")
         + tool(parallelToolIndex=0, content='{"city":"Paris"}') + finish("tool_call") + QUOTA + END, None, same),
        ("tool_parallel_interleaved",
         "Two parallel calls whose fragments interleave; the client groups them by parallelToolIndex.",
         tool(parallelToolIndex=0, id="call_a", name="get_weather", content="")
         + tool(parallelToolIndex=1, id="call_b", name="get_time", content="")
         + tool(parallelToolIndex=0, content='{"city":') + tool(parallelToolIndex=1, content='{"tz":')
         + tool(parallelToolIndex=1, content='"UTC"}') + tool(parallelToolIndex=0, content='"Paris"}')
         + finish("tool_call") + QUOTA + END, None,
         also("OpenAI tool_calls[0] = call_a, tool_calls[1] = call_b (index = parallelToolIndex); Anthropic two "
              "tool_use blocks in that order.")),
        ("tool_without_parallel_index",
         "Tool chunks without parallelToolIndex (as the peers' fixtures write them): the client DROPS them.",
         tool(id="call_1", name="get_weather", content="") + tool(content='{"city":"Paris"}')
         + tool(id="call_2", name="get_time", content="") + tool(content='{"tz":"UTC"}')
         + finish("tool_call") + QUOTA + END, None,
         differs("Issue 13 item 3: without the index, a new id starts the next call, so jbproxy reads two calls, "
                 "call_1 get_weather {\"city\":\"Paris\"} and call_2 get_time {\"tz\":\"UTC\"}.")),
        ("choices_two", "n=2: Content and FinishMetadata carry choiceIndex; the client splits the answers by it.",
         content("Red", choiceIndex=0) + content("Blue", choiceIndex=1) + content(".", choiceIndex=0)
         + content("!", choiceIndex=1) + finish("stop", choiceIndex=0) + finish("length", choiceIndex=1)
         + QUOTA + END, 2,
         also("OpenAI choices[0] \"Red.\" stop, choices[1] \"Blue!\" length.")),
        ("finish_with_choice_index", "n=1 but every event carries choiceIndex 0 (FinishMetadata too).",
         content("Hi", choiceIndex=0) + content(" there", choiceIndex=0) + finish("stop", choiceIndex=0)
         + QUOTA + END, None, same),
        ("finish_reasons_other", "FinishMetadata reason function_call, then unknown: the client keeps the first.",
         content("x") + finish("function_call") + finish("unknown") + END, None,
         also("The client keeps the first reason of a choice. Map function_call like tool_call; any other reason "
              "(unknown, content_filter) is not an error.")),
        ("no_finish_metadata", "No FinishMetadata and no QuotaMetadata before end.",
         content("Hi") + END, None,
         also("No reason upstream: jbproxy reports stop (or tool_calls if calls came).")),
        ("unknown_metadata", "An UnknownMetadata event between text chunks: yielded, not text.",
         content("A") + d({"type": "UnknownMetadata", "content": "", "trace": {"id": "t-1"}}) + content("B")
         + finish("stop") + QUOTA + END, None,
         also("Skip it; it is not content for the first-byte/idle timers.")),
        ("error_after_content", "Text, then an error event: the client raises (after yielding the text).",
         content("Partial ") + 'data: {"event_type": "error", "error_message": "upstream model failed"}\n\n'
         + END, None,
         also("The answer ends with an error: stream → error object, no [DONE]/message_stop; non-stream → 502.")),
        ("error_before_content", "An error event first: nothing was yielded.",
         'data: {"event_type": "error", "error_message": "Model is overloaded"}\n\n' + END, None,
         also("A token-level fault before the first content: fail over like a 5xx.")),
        ("error_without_message", "An error event with no error_message.",
         'data: {"event_type": "error"}\n\n' + END, None, same),
        ("missing_end", "The stream closes without `data: end`: the client raises after yielding everything.",
         content("Hello") + finish("stop") + QUOTA, None, also("Cut: an error, as today.")),
        ("other_metadata_type", "A type the v8 chat parser does not know (ExecutionMetadata, from the task API).",
         content("A") + d({"type": "ExecutionMetadata", "attributes": {"data": []}}) + content("B")
         + finish("stop") + END, None,
         differs("jbproxy skips unknown types (and counts them), never fails the stream: text \"AB\", stop.")),
        ("missing_event_type", "Lines without event_type, as every peer fixture writes them.",
         'data: {"type": "Content", "content": "Hi"}\n\ndata: end\n\n', None,
         differs("jbproxy reads a line without event_type as event_type data: text \"Hi\".")),
        ("non_data_line", "A comment/keep-alive line between events.",
         content("A") + ": keep-alive\n\n" + content("B") + finish("stop") + END, None,
         differs("jbproxy ignores non-data lines: text \"AB\", stop.")),
        ("extra_field", "A Content event with a field the client's class lacks.",
         d({"type": "Content", "content": "Hi", "annotations": []}) + END, None,
         differs("jbproxy ignores unknown fields: text \"Hi\".")),
        ("data_without_space", "`data:` directly followed by the JSON (no space).",
         'data:{"event_type": "data", "type": "Content", "content": "Hi"}\n\ndata:end\n\n', None,
         also("The client strips whatever follows `data:`; jbproxy should accept it too.")),
        ("crlf_lines", "CRLF line endings.",
         'data: {"event_type": "data", "type": "Content", "content": "Hi"}\r\n\r\n'
         'data: {"event_type": "data", "type": "FinishMetadata", "reason": "stop"}\r\n\r\ndata: end\r\n\r\n',
         None, same),
        ("done_sentinel", "`data: [DONE]` instead of `data: end` (CAI accepts it as the end).",
         content("Hi") + "data: [DONE]\n\n", None,
         differs("jbproxy takes [DONE] as the end, like end: text \"Hi\".")),
    ]


def run_stream(capture, sse, number_of_choices):
    client = capture.client()
    params = None
    if number_of_choices:
        params = {LLMParameters.NumberOfChoices: Parameters.IntValue(number_of_choices)}
    reply = (200, "text/event-stream", sse.encode())

    events, error = [], None
    capture.take(reply=reply)
    try:
        for chunk in client.v8.chat_stream(chat=ChatPrompt().add_user("x"), profile=LLMProfile("openai-gpt-4o"),
                                           prompt_id=PROMPT_ID, parameters=params):
            events.append({"class": type(chunk).__name__, "fields": plain(chunk)})
    except Exception as exc:  # what the client raises is the point of the fixture
        error = failure(exc)

    aggregate = None
    capture.take(reply=reply)
    try:
        response = client.v8.chat(chat=ChatPrompt().add_user("x"), profile=LLMProfile("openai-gpt-4o"),
                                  prompt_id=PROMPT_ID, parameters=params)
        aggregate = {
            "responses": plain(response.responses),
            "quota": plain(response.quota),
            "unknown_metadata": plain(response.unknown_metadata),
        }
    except Exception as exc:
        if error is None or failure(exc)["class"] != error["class"]:
            raise RuntimeError(f"chat() and chat_stream() disagree: {exc!r} vs {error!r}") from exc
    capture.take()
    return events, error, aggregate


def build_stream_fixtures(capture):
    out = {}
    for name, description, sse, n, (same, note) in stream_cases():
        events, error, aggregate = run_stream(capture, sse, n)
        out[f"streams/{name}.json"] = {
            "name": name,
            "description": description,
            "source": SOURCE_CLIENT,
            "number_of_choices": n,
            "sse": sse,
            "official": {"accepted": error is None, "events": events, "error": error, "chat": aggregate},
            "jbproxy": {"reads_as_official": same, "note": note},
        }
    return out


# --------------------------------------------------------------------------------------------------------------
# Quota and profiles: the requests the client makes and how it reads the answers.
# --------------------------------------------------------------------------------------------------------------

OFFICIAL_QUOTA = {
    "ai-assistant": {"license": "LIC-0001", "until": 1767225600000, "current": {"amount": "120000.0"},
                     "maximum": {"amount": "300000.0"}, "quotaID": {"quotaId": "ai-assistant"}},
}
PEER_QUOTA = {
    "current": {"current": {"amount": "120000.0"}, "maximum": {"amount": "300000.0"}, "until": 1767225600000,
                "tariffQuota": {"current": {"amount": "120000.0"}, "maximum": {"amount": "300000.0"},
                                "available": {"amount": "180000.0"}},
                "topUpQuota": {"current": {"amount": "0"}, "maximum": {"amount": "0"},
                               "available": {"amount": "0"}}},
    "until": "2026-01-01T00:00:00Z",
}


def build_quota_fixtures(capture):
    client = capture.client()
    out = {}
    cases = [
        ("official_shape", "The shape the client's Quota class reads: a map of quota name → entry.",
         OFFICIAL_QUOTA),
        ("peer_shape", "The shape peers see from api.jetbrains.ai (2025-26): the 0.3.3 client cannot read it.",
         PEER_QUOTA),
    ]
    for name, description, body in cases:
        capture.take(reply=(200, "application/json", json.dumps(body).encode()))
        parsed, error = None, None
        try:
            parsed = {k: plain(v) for k, v in client.quota().items()}
        except Exception as exc:
            error = failure(exc)
        [request] = capture.take()
        out[f"quota/{name}.json"] = {
            "name": name, "description": description, "source": SOURCE_CLIENT,
            "request": recorded(request), "response": body,
            "official": {"accepted": error is None, "parsed": parsed, "error": error},
        }
    return out


PROFILES_EXAMPLE = {
    "profiles": [
        {"id": "anthropic-claude-4-5-sonnet", "provider": "Anthropic", "modelName": "Claude 4.5 Sonnet",
         "features": ["Chat", "Proxy"],
         "chatDefinition": {"roles": ["user", "assistant", "system", "tool"],
                            "parameters": [{"fqdn": "llm.parameters.tools"}, {"fqdn": "llm.parameters.length"}]},
         "contextLimit": 200000, "maxOutputTokens": 64000, "deprecated": False, "experimental": False},
        {"id": "openai-gpt-5", "provider": "OpenAI", "providerModelID": "gpt-5", "modelName": "GPT-5",
         "features": ["Chat"],
         "chatDefinition": {"roles": ["user", "assistant", "system", "tool"],
                            "parameters": [{"fqdn": "llm.parameters.tools"},
                                           {"fqdn": "llm.parameters.reasoning-effort"}],
                            "multimediaDataDefinition": {"supportedTypes": ["image/png", "image/jpeg"]}},
         "contextLimit": 400000, "maxOutputTokens": 128000, "deprecated": False, "experimental": False},
    ]
}


def build_profiles_fixtures(capture):
    client = capture.client()
    capture.take(reply=(200, "application/json", json.dumps(PROFILES_EXAMPLE).encode()))
    parsed = client.v8.profiles()
    [request] = capture.take()
    return {"profiles/profiles_v8.json": {
        "name": "profiles_v8",
        "description": "GET profiles/v8. The client returns the JSON untouched (it knows no field); the example "
                       "response uses the field names of JetBrains' own test data (intellij-community "
                       "PiJbCentralModelCatalogTest, 2026), written for this fixture, not captured.",
        "source": SOURCE_CLIENT,
        "request": recorded(request), "response": PROFILES_EXAMPLE,
        "official": {"accepted": True, "parsed": parsed, "error": None},
    }}


# --------------------------------------------------------------------------------------------------------------

def generate():
    capture = Capture()
    try:
        files = {}
        files.update(build_request_fixtures(capture))
        files.update(build_stream_fixtures(capture))
        files.update(build_quota_fixtures(capture))
        files.update(build_profiles_fixtures(capture))
    finally:
        capture.server.shutdown()
    files["manifest.json"] = {
        "client": {"package": CLIENT, "version": CLIENT_VERSION, "license": "Apache-2.0"},
        "generator": "scripts/grazie_fixtures.py",
        "files": sorted(files),
    }
    return {path: json.dumps(doc, indent=2, ensure_ascii=False) + "\n" for path, doc in files.items()}


def main():
    check = "--check" in sys.argv[1:]
    files = generate()
    stale = []
    for path, text in files.items():
        target = OUT / path
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            stale.append(path)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    kinds = ("requests", "streams", "quota", "profiles")
    extra = sorted(str(p.relative_to(OUT)) for k in kinds if (OUT / k).exists() for p in (OUT / k).glob("*.json")
                   if str(p.relative_to(OUT)) not in files)
    if check:
        if stale or extra:
            print("fixtures out of date: " + ", ".join(stale + extra), file=sys.stderr)
            sys.exit(1)
        print(f"{len(files)} fixture files match {CLIENT} {CLIENT_VERSION}")
    else:
        for path in extra:
            (OUT / path).unlink()
        print(f"wrote {len(stale)} of {len(files)} fixture files under {OUT.relative_to(ROOT)}"
              + (f", removed {len(extra)}" if extra else ""))


if __name__ == "__main__":
    main()
