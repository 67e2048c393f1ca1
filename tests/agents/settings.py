#!/usr/bin/env python3
"""What a user sets to point each coding agent at jbproxy: the one source for the `agents` test group and README.

`setup(agent, url, key)` gives an agent's settings for jbproxy at `url` (no `/v1`) with client key `key`: the
environment to export (`env`), the environment and flags that only turn off telemetry, update checks and
first-run notes (`quiet_env`, `quiet_flags`), the config files to write under `$HOME` (`files`) and the command.
`cases.py` runs every case with exactly these (plus what the case itself needs: an MCP server, a prompt, a temp
`HOME`). README's "Use it with your agent" shows them for `http://127.0.0.1:8080` and `my-client-key`:
`python3 tests/agents/settings.py` prints those blocks as JSON and `tests/it/docs.rs` checks README holds each of
them verbatim, so the documented settings are the tested ones. Standard library only.
"""

import json
import sys

DOC_URL = "http://127.0.0.1:8080"
DOC_KEY = "my-client-key"
# The variable Codex, opencode and Continue read the client key from (named in their config files).
KEY_VAR = "JBPROXY_API_KEY"


def claude(url, key):
    # ANTHROPIC_AUTH_TOKEN goes out as `Authorization: Bearer`, ANTHROPIC_API_KEY as `x-api-key`: jbproxy takes
    # either (src/api/auth.rs). The text case uses the first, the tool case the second, so both stay tested.
    return {
        "env": {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_AUTH_TOKEN": key},
        "quiet_env": {"DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1", "DISABLE_AUTOUPDATER": "1",
                      "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
        "quiet_flags": [], "files": {}, "command": "claude",
    }


CODEX_CONFIG = """model_provider = "jbproxy"
check_for_update_on_startup = false

[model_providers.jbproxy]
name = "jbproxy"
base_url = "{url}/v1"
env_key = "{key_var}"
wire_api = "responses"

[analytics]
enabled = false
"""


def codex(url, key):
    return {
        "env": {KEY_VAR: key}, "quiet_env": {}, "quiet_flags": [],
        "files": {".codex/config.toml": CODEX_CONFIG.format(url=url, key_var=KEY_VAR)},
        "command": "codex",
    }


def aider(url, key):
    return {
        "env": {"OPENAI_API_BASE": f"{url}/v1", "OPENAI_API_KEY": key},
        # litellm otherwise downloads a price list at start.
        "quiet_env": {"LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        "quiet_flags": ["--analytics-disable", "--no-check-update", "--no-show-release-notes"],
        "files": {}, "command": "aider",
    }


def opencode_config(url):
    """opencode's config as a dict (run.py adds an `mcp` entry for the tool case)."""
    return {
        "model": "jbproxy/gpt-4o",
        "provider": {
            "jbproxy": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "jbproxy",
                "options": {"baseURL": f"{url}/v1", "apiKey": "{env:" + KEY_VAR + "}"},
                "models": {"gpt-4o": {}},
            },
        },
        "autoupdate": False,
        "share": "disabled",
    }


def opencode(url, key):
    return {
        "env": {KEY_VAR: key},
        # models.dev is opencode's model catalogue; a custom provider does not need it.
        "quiet_env": {"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1"},
        "quiet_flags": [],
        "files": {".config/opencode/opencode.json": json.dumps(opencode_config(url), indent=2) + "\n"},
        "command": "opencode",
    }


CONTINUE_CONFIG = """name: jbproxy
version: 1.0.0
schema: v1
models:
  - name: jbproxy
    provider: openai
    model: gpt-4o
    apiBase: {url}/v1
    apiKey: ${{{{ secrets.{key_var} }}}}
    roles: [chat, edit, apply]
"""


def continue_cli(url, key):
    return {
        "env": {KEY_VAR: key},
        # Telemetry is OpenTelemetry, off unless an OTEL_* endpoint is set; this makes sure. The CLI asks
        # api.continue.dev for its latest version at every start (no switch for that) and installs it with npm unless
        # `autoUpdateCli` is false in this file.
        "quiet_env": {"CONTINUE_CLI_ENABLE_TELEMETRY": "0"},
        "quiet_flags": [],
        "files": {".continue/config.yaml": CONTINUE_CONFIG.format(url=url, key_var=KEY_VAR),
                  ".continue/index/globalContext.json": json.dumps({"autoUpdateCli": False}) + "\n"},
        "command": "cn",
    }


AGENTS = {"claude": claude, "codex": codex, "aider": aider, "opencode": opencode, "continue": continue_cli}


def setup(agent, url, key):
    return AGENTS[agent](url, key)


def doc_blocks(agent):
    """README's blocks for `agent`: each config file (`~/…` path as the block's first comment line), then the shell
    lines (exports, then the quiet settings, then the command)."""
    s = setup(agent, DOC_URL, DOC_KEY)
    blocks = []
    for path, text in s["files"].items():
        lang = {"toml": "toml", "json": "json", "yaml": "yaml"}[path.rsplit(".", 1)[1]]
        comment = "#" if lang != "json" else None
        head = f"{comment} ~/{path}\n" if comment else ""
        blocks.append({"agent": agent, "lang": lang, "path": f"~/{path}", "text": head + text})
    lines = [f"export {k}={v}" for k, v in s["env"].items()]
    if s["quiet_env"]:
        lines.append("# optional, as the tests run it: no telemetry, update checks or downloads at start")
        lines += [f"export {k}={v}" for k, v in s["quiet_env"].items()]
    lines.append(" ".join([s["command"], *s["quiet_flags"]]))
    blocks.append({"agent": agent, "lang": "sh", "path": None, "text": "\n".join(lines) + "\n"})
    return blocks


if __name__ == "__main__":
    json.dump([b for agent in AGENTS for b in doc_blocks(agent)], sys.stdout, indent=2)
    sys.stdout.write("\n")
