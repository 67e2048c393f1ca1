#!/usr/bin/env python3
"""Turns a capture_server.py log into a committed fixture: one JSON file, a list of requests.

- Secrets were already masked by the capture server; this also masks anything that still looks like a key.
- Per-install and per-session identifiers (UUIDs, device ids, Codex's installation id) become placeholders, so
  fixtures do not churn and say nothing about the machine they came from.
- Long prose (system prompts, tool and parameter descriptions) is cut to its first 160 characters plus a note of
  the original length: the fixtures are about the *shape* the server must accept, and the agents' own prompt text
  (Claude Code's is proprietary) does not belong in this repository. Structure, field names, roles, order, tool
  names, schemas and every short value are kept exactly.

Usage: sanitize.py CAPTURE.jsonl OUT.json [--keep-prefix N]
"""

import json
import re
import sys

UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")
KEYISH = re.compile(r"\b(sk-[A-Za-z0-9_-]{6,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)")
KEEP = 160


def scrub(text):
    text = UUID.sub("00000000-0000-0000-0000-000000000000", text)
    text = HEX64.sub("<device-id>", text)
    return KEYISH.sub("<redacted-key>", text)


def shorten(value):
    if isinstance(value, dict):
        return {k: shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten(v) for v in value]
    if isinstance(value, str):
        value = scrub(value)
        if len(value) > KEEP + 40:
            return value[:KEEP] + f"…[{len(value)} chars, cut in the fixture]"
    return value


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    entries = []
    for line in open(src, encoding="utf-8"):
        e = json.loads(line)
        headers = {k: scrub(v) for k, v in e["headers"].items() if k not in ("host", "content-length")}
        entries.append({"method": e["method"], "path": e["path"], "headers": headers, "body": shorten(e["body"])})
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(entries, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
