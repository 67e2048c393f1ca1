#!/usr/bin/env python3
"""A one-tool MCP server (stdio, newline-delimited JSON-RPC) that coding agents load for the tool round trip.

Its tool `probe_nonce` takes `{"input": string}` — the argument shape the fake upstream gives the tool it calls —
and answers `nonce=<AGENTS_PROBE_NONCE>`. The nonce is made up by the test run and never appears in a prompt, so
finding it in an agent's final output proves the tool really ran and its result went back through the proxy.
Each call is appended to `AGENTS_PROBE_CALLS` (a file) when set. Standard library only.
"""

import json
import os
import sys

TOOL = {
    "name": "probe_nonce",
    "description": "Returns the probe nonce. Call it when asked for the probe nonce.",
    "inputSchema": {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "Any text; it is echoed in the log."}},
        "required": ["input"],
    },
}


def reply(msg_id, result=None, error=None):
    out = {"jsonrpc": "2.0", "id": msg_id}
    if error is not None:
        out["error"] = error
    else:
        out["result"] = result
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def call(params):
    if params.get("name") != TOOL["name"]:
        return {"content": [{"type": "text", "text": f"unknown tool {params.get('name')}"}], "isError": True}
    calls = os.environ.get("AGENTS_PROBE_CALLS")
    if calls:
        with open(calls, "a", encoding="utf-8") as f:
            f.write(json.dumps(params.get("arguments")) + "\n")
    nonce = os.environ.get("AGENTS_PROBE_NONCE", "unset")
    return {"content": [{"type": "text", "text": f"nonce={nonce}"}], "isError": False}


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        method, msg_id = msg.get("method"), msg.get("id")
        if msg_id is None:  # a notification: nothing to answer
            continue
        if method == "initialize":
            version = (msg.get("params") or {}).get("protocolVersion", "2025-06-18")
            reply(msg_id, {"protocolVersion": version, "capabilities": {"tools": {}},
                           "serverInfo": {"name": "agents-probe", "version": "1.0.0"}})
        elif method == "tools/list":
            reply(msg_id, {"tools": [TOOL]})
        elif method == "tools/call":
            reply(msg_id, call(msg.get("params") or {}))
        elif method == "ping":
            reply(msg_id, {})
        else:
            reply(msg_id, error={"code": -32601, "message": f"method not found: {method}"})


if __name__ == "__main__":
    main()
