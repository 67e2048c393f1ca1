#!/usr/bin/env python3
"""A recording stand-in for the LLM APIs coding agents call, used to capture what each agent sends.

Not a test: run it by hand (see tests/agents/README.md, "Re-capturing") to refresh the fixtures under
tests/fixtures/agents/. It listens on 127.0.0.1, appends every request (method, path, headers with secrets
masked, body) to a JSON-lines file, and answers plausibly in three dialects:

- Anthropic Messages (`POST /v1/messages`, stream or not; `/v1/messages/count_tokens`; `HEAD /`; models);
- the OpenAI Responses API (`POST /v1/responses`, the typed SSE events Codex reads);
- OpenAI chat completions (`POST /v1/chat/completions`, stream or not; `GET /v1/models`).

Answer rule: when the request offers a tool named by `--tool` and carries no tool result yet, it calls that tool
with `--tool-args`; otherwise it answers the text `--text`. `--fail STATUS` answers every model call with that
HTTP status instead, to see what an agent does with errors. Standard library only.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET_HEADERS = {"authorization", "x-api-key", "cookie", "proxy-authorization", "openai-api-key"}

ARGS = None
LOCK = threading.Lock()
SERIAL = [0]


def next_id(prefix):
    with LOCK:
        SERIAL[0] += 1
        return f"{prefix}_{SERIAL[0]:04d}"


def record(entry):
    with LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def masked_headers(headers):
    out = {}
    for name, value in headers.items():
        out[name.lower()] = "<redacted>" if name.lower() in SECRET_HEADERS else value
    return out


# --- deciding the answer -------------------------------------------------------------------------------------


def tool_names(body):
    names = []
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        name = tool.get("name") or (tool.get("function") or {}).get("name")
        if name:
            names.append(name)
    return names


def has_tool_result(body):
    """True when the conversation already carries a tool result (any of the three dialects)."""
    for msg in body.get("messages") or []:
        if msg.get("role") == "tool":
            return True
        content = msg.get("content")
        if isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        ):
            return True
    items = body.get("input")
    if isinstance(items, list):
        return any(isinstance(i, dict) and i.get("type") in ("function_call_output", "custom_tool_call_output")
                   for i in items)
    return False


def wanted_tool(body):
    if not ARGS.tool or has_tool_result(body):
        return None
    if ARGS.force_tool:
        return ARGS.tool
    return ARGS.tool if ARGS.tool in tool_names(body) else None


# --- HTTP --------------------------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: everything is in the log file
        pass

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return raw, json.loads(raw) if raw else None
        except ValueError:
            return raw, None

    def handle_any(self):
        raw, body = self.read_body()
        path = self.path.split("?")[0]
        record(
            {
                "time": round(time.time(), 3),
                "method": self.command,
                "path": self.path,
                "headers": masked_headers(self.headers),
                "body": body if body is not None else raw.decode("utf-8", "replace"),
            }
        )
        if self.command == "HEAD":
            return self.send_plain(200, b"")
        if self.command == "GET" and path.rstrip("/").endswith("/models"):
            return self.models()
        if self.command != "POST" or not isinstance(body, dict):
            return self.send_json(404, {"error": {"message": f"no route for {self.command} {path}"}})
        if path.endswith("/count_tokens"):
            return self.send_json(200, {"input_tokens": len(json.dumps(body)) // 4})
        if ARGS.fail:
            return self.send_json(
                ARGS.fail,
                {"type": "error", "error": {"type": "api_error", "message": f"capture server fails with {ARGS.fail}"}},
            )
        if path.endswith("/messages"):
            return self.anthropic(body)
        if path.endswith("/responses"):
            return self.openai_responses(body)
        if path.endswith("/chat/completions"):
            return self.chat(body)
        return self.send_json(404, {"error": {"message": f"no route for POST {path}"}})

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = handle_any

    def send_plain(self, status, data, ctype="text/plain"):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, status, obj):
        self.send_plain(status, json.dumps(obj).encode(), "application/json")

    def start_sse(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def event(self, name, data):
        chunk = (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
        self.wfile.write(chunk.encode())
        self.wfile.flush()

    def models(self):
        ids = ["claude-sonnet-4-5", "gpt-5.1-codex", "gpt-4o"]
        self.send_json(
            200,
            {
                "object": "list",
                "data": [
                    {"id": i, "object": "model", "type": "model", "display_name": i, "created_at": "2025-01-01T00:00:00Z"}
                    for i in ids
                ],
                "has_more": False,
                "first_id": ids[0],
                "last_id": ids[-1],
            },
        )

    # Anthropic Messages
    def anthropic(self, body):
        model = body.get("model", "unknown")
        tool = wanted_tool(body)
        usage = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        msg_id = next_id("msg")
        if tool:
            block = {"type": "tool_use", "id": next_id("toolu"), "name": tool, "input": json.loads(ARGS.tool_args)}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": ARGS.text}
            stop = "end_turn"
        if not body.get("stream"):
            return self.send_json(
                200,
                {"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [block],
                 "stop_reason": stop, "stop_sequence": None, "usage": usage},
            )
        self.start_sse()
        self.event("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}})
        if tool:
            start = dict(block, input={})
            self.event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start})
            self.event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "input_json_delta", "partial_json": ARGS.tool_args}})
        else:
            self.event("content_block_start", {"type": "content_block_start", "index": 0,
                                               "content_block": {"type": "text", "text": ""}})
            self.event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": ARGS.text}})
        self.event("content_block_stop", {"type": "content_block_stop", "index": 0})
        self.event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                     "usage": {"output_tokens": 5}})
        self.event("message_stop", {"type": "message_stop"})

    # OpenAI Responses API
    def openai_responses(self, body):
        model = body.get("model", "unknown")
        tool = wanted_tool(body)
        resp_id = next_id("resp")
        base = {"id": resp_id, "object": "response", "created_at": int(time.time()), "model": model,
                "status": "in_progress", "output": []}
        if tool:
            item = {"type": "function_call", "id": next_id("fc"), "call_id": next_id("call"), "name": tool,
                    "arguments": ARGS.tool_args, "status": "completed"}
            if ARGS.tool_namespace:
                item["namespace"] = ARGS.tool_namespace
            if ARGS.custom_tool:  # a freeform (grammar) tool: raw text input, not JSON arguments
                item = {"type": "custom_tool_call", "id": item["id"], "call_id": item["call_id"], "name": tool,
                        "input": ARGS.tool_args, "status": "completed"}
        else:
            item = {"type": "message", "id": next_id("msg"), "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": ARGS.text, "annotations": []}]}
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
        done = dict(base, status="completed", output=[item], usage=usage)
        if not body.get("stream"):
            return self.send_json(200, done)
        self.start_sse()
        seq = iter(range(1000))
        ev = lambda name, data: self.event(name, dict(data, type=name, sequence_number=next(seq)))
        ev("response.created", {"response": base})
        ev("response.in_progress", {"response": base})
        if tool and ARGS.custom_tool:
            ev("response.output_item.added", {"output_index": 0, "item": dict(item, input="", status="in_progress")})
            ev("response.custom_tool_call_input.delta", {"output_index": 0, "item_id": item["id"], "delta": ARGS.tool_args})
            ev("response.custom_tool_call_input.done", {"output_index": 0, "item_id": item["id"], "input": ARGS.tool_args})
        elif tool:
            ev("response.output_item.added", {"output_index": 0, "item": dict(item, arguments="", status="in_progress")})
            ev("response.function_call_arguments.delta", {"output_index": 0, "item_id": item["id"], "delta": ARGS.tool_args})
            ev("response.function_call_arguments.done", {"output_index": 0, "item_id": item["id"], "arguments": ARGS.tool_args})
        else:
            part = {"type": "output_text", "text": "", "annotations": []}
            ev("response.output_item.added", {"output_index": 0, "item": dict(item, content=[], status="in_progress")})
            ev("response.content_part.added", {"output_index": 0, "item_id": item["id"], "content_index": 0, "part": part})
            ev("response.output_text.delta", {"output_index": 0, "item_id": item["id"], "content_index": 0, "delta": ARGS.text})
            ev("response.output_text.done", {"output_index": 0, "item_id": item["id"], "content_index": 0, "text": ARGS.text})
            ev("response.content_part.done", {"output_index": 0, "item_id": item["id"], "content_index": 0,
                                              "part": dict(part, text=ARGS.text)})
        ev("response.output_item.done", {"output_index": 0, "item": item})
        ev("response.completed", {"response": done})

    # OpenAI chat completions
    def chat(self, body):
        model = body.get("model", "unknown")
        tool = wanted_tool(body)
        cid = next_id("chatcmpl")
        created = int(time.time())
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if tool:
            call = {"id": next_id("call"), "type": "function", "function": {"name": tool, "arguments": ARGS.tool_args}}
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            finish = "tool_calls"
        else:
            message = {"role": "assistant", "content": ARGS.text}
            finish = "stop"
        if not body.get("stream"):
            return self.send_json(200, {"id": cid, "object": "chat.completion", "created": created, "model": model,
                                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                                        "usage": usage})
        self.start_sse()
        chunk = lambda delta, fin=None, **extra: dict(
            {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
             "choices": [{"index": 0, "delta": delta, "finish_reason": fin}]}, **extra)
        if tool:
            self.event(None, chunk({"role": "assistant", "tool_calls": [dict(call, index=0)]}))
        else:
            self.event(None, chunk({"role": "assistant", "content": ARGS.text}))
        self.event(None, chunk({}, finish, usage=usage))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0, help="0 picks a free port; the chosen one is printed")
    p.add_argument("--log", required=True, help="JSON-lines file every request is appended to")
    p.add_argument("--text", default="CAPTURE-OK the capture server answered")
    p.add_argument("--tool", help="name of a tool to call when offered and no tool result is present yet")
    p.add_argument("--tool-args", default="{}", help="JSON arguments for --tool")
    p.add_argument("--force-tool", action="store_true", help="call --tool even when the request does not list it")
    p.add_argument("--tool-namespace", help="Responses API: the `namespace` of the --tool function call")
    p.add_argument("--custom-tool", action="store_true", help="Responses API: make the call a custom_tool_call with --tool-args as raw input")
    p.add_argument("--fail", type=int, help="answer every model call with this HTTP status")
    ARGS = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
