#!/usr/bin/env python3
"""The cases of the `agents` test group: each runs one agent as its user would (settings from settings.py) against
the running stack and raises Fail with what the user would have seen when the check does not hold. Run by run.py.
Standard library only.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import settings

HERE = Path(__file__).resolve().parent
CASE_TIMEOUT = 150  # seconds; an agent in a retry loop is stopped and the case fails

# The user text each case sends. The fake upstream echoes the last user message ("Echo: …"), so the marker coming
# back in the agent's output proves the answer travelled fake → jbproxy → agent. The fake answers text even when
# tools are offered (agents offer theirs on every turn); it calls a tool only when the last user message carries its
# directive, `[[tool:NAME]]`, and then passes the rest of the message as {"input": …} (src/fake_upstream/mod.rs).
TEXT_MARKER = "agents-probe-7f3a"


class Fail(Exception):
    """A case failed: the message says what the user would have seen."""


class Ctx:
    def __init__(self, stack, work, bins, aider):
        """`bins`: agent → the folder holding its npm-installed command."""
        self.stack, self.work, self.bins, self.aider = stack, work, bins, aider
        self.nonce = "nonce-" + secrets.token_hex(6)

    def home(self, name):
        home = self.work / "homes" / name
        (home / "work").mkdir(parents=True, exist_ok=True)
        return home

    def base_env(self, home, agent=None):
        # A clean environment: nothing of the user's or CI's agent config may leak in.
        first = [str(self.bins[agent])] if agent in self.bins else []
        path = os.pathsep.join([*first, str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
        return {"PATH": path, "HOME": str(home), "TERM": "dumb", "NO_COLOR": "1", "LANG": "C.UTF-8"}

    def mcp_calls(self, name):
        return self.work / f"{name}.mcp-calls"

    def agent(self, name, cmd, env, cwd):
        """Runs one agent; returns (exit code, stdout, stderr, jbproxy failures) and keeps the output files."""
        mark = self.stack.log_mark()
        try:
            proc = subprocess.run(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=CASE_TIMEOUT)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as e:
            rc = "timeout"
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        (self.work / f"{name}.stdout").write_text(out)
        (self.work / f"{name}.stderr").write_text(err)
        return rc, out, err, self.stack.log_since(mark)


def explain(rc, out, err, proxy_failures, wanted):
    seen = (out.strip() or err.strip()).splitlines()
    agent_said = " | ".join(line.strip() for line in seen[-3:] if line.strip())[:400]
    reason = f"exit {rc}; {wanted} not in the output; agent said: {agent_said or '(nothing)'}"
    if proxy_failures:
        reason += f"; jbproxy: {proxy_failures[-1][:300]}"
    return reason


def expect(result, *needles):
    rc, out, err, proxy_failures = result
    missing = [n for n in needles if n not in out]
    if rc != 0 or missing:
        raise Fail(explain(rc, out, err, proxy_failures, " and ".join(repr(n) for n in missing) or "success"))


def configure(ctx, agent, home):
    """Sets `agent` up in `home` exactly as settings.py (and so README) says; returns its environment."""
    s = settings.setup(agent, ctx.stack.url, ctx.stack.key)
    for path, text in s["files"].items():
        target = home / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return dict(ctx.base_env(home, agent), **s["env"], **s["quiet_env"]), s


def mcp_server(ctx, name):
    return {"command": sys.executable, "args": [str(HERE / "mcp_probe.py")],
            "env": {"AGENTS_PROBE_NONCE": ctx.nonce, "AGENTS_PROBE_CALLS": str(ctx.mcp_calls(name))}}


def case_claude_text(ctx):
    home = ctx.home("claude-text")
    env, _ = configure(ctx, "claude", home)
    result = ctx.agent("claude-text", ["claude", "-p", f"Say hello {TEXT_MARKER}"], env, home / "work")
    expect(result, "Echo:", TEXT_MARKER)


def case_claude_tool(ctx):
    home = ctx.home("claude-tool")
    env, _ = configure(ctx, "claude", home)
    # The other way to give the key (`x-api-key` instead of `Authorization: Bearer`): README names both.
    env["ANTHROPIC_API_KEY"] = env.pop("ANTHROPIC_AUTH_TOKEN")
    # -p mode otherwise sends the first request before MCP servers have connected.
    env["MCP_CONNECTION_NONBLOCKING"] = "false"
    config = home / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"probe": dict(mcp_server(ctx, "claude-tool"), type="stdio")}}))
    # The directive names the MCP tool as Claude Code offers it. Built-in tools off: the case is about the MCP round
    # trip, and they would only make the request larger. The model is still Claude Code's default.
    prompt = "[[tool:mcp__probe__probe_nonce]] Call the probe_nonce tool and tell me the nonce"
    cmd = ["claude", "-p", prompt, "--tools", "",
           "--mcp-config", str(config), "--strict-mcp-config", "--allowedTools", "mcp__probe__probe_nonce"]
    result = ctx.agent("claude-tool", cmd, env, home / "work")
    expect(result, ctx.nonce)


def claude_model_case(name, variable, model):
    """`variable=model` (README's ways to choose a model instead of the fallback) makes jbproxy serve that id, and
    only it."""
    def case(ctx):
        home = ctx.home(name)
        env, _ = configure(ctx, "claude", home)
        env[variable] = model
        mark = ctx.stack.log_mark()
        result = ctx.agent(name, ["claude", "-p", f"Say hello {TEXT_MARKER}"], env, home / "work")
        expect(result, "Echo:", TEXT_MARKER)
        served = ctx.stack.served_models(mark)
        if served != {model}:
            raise Fail(f"with {variable}={model} jbproxy served {sorted(served) or 'nothing'}")
    return name, case


def codex_setup(ctx, name, with_mcp):
    home = ctx.home(name)
    env, _ = configure(ctx, "codex", home)
    if with_mcp:
        server = mcp_server(ctx, name)
        server_env = ", ".join(f'{k} = "{v}"' for k, v in server["env"].items())
        with open(home / ".codex" / "config.toml", "a") as f:
            f.write(f"""
[mcp_servers.probe]
command = "{server['command']}"
args = ["{server['args'][0]}"]
default_tools_approval_mode = "approve"
env = {{ {server_env} }}
""")
    env["CODEX_HOME"] = str(home / ".codex")
    return home, env


def case_codex_text(ctx):
    home, env = codex_setup(ctx, "codex-text", with_mcp=False)
    result = ctx.agent("codex-text", ["codex", "exec", "--skip-git-repo-check", f"Say hello {TEXT_MARKER}"], env,
                       home / "work")
    expect(result, "Echo:", TEXT_MARKER)


def case_codex_tool(ctx):
    home, env = codex_setup(ctx, "codex-tool", with_mcp=True)
    # Codex's default model speaks "code mode": tools are reached through its `exec` tool (JavaScript). The
    # directive makes the fake call `exec` (matched by its last part whatever namespace the Responses face gives it)
    # with the rest of the prompt as `input`: JavaScript that calls the probe tool.
    prompt = '[[tool:exec]] text(await tools.mcp__probe__probe_nonce({input: "probe"}))'
    result = ctx.agent("codex-tool", ["codex", "exec", "--skip-git-repo-check", prompt], env, home / "work")
    expect(result, ctx.nonce)


def case_aider_edit(ctx):
    home = ctx.home("aider-edit")
    work = home / "work"
    target = work / "hello.py"
    target.write_text('def greet():\n    return "hello"\n')
    edited = f"edited-{TEXT_MARKER}"
    # The fake echoes this message, so the echo is a SEARCH/REPLACE block aider applies: a real edit round trip.
    message = (f"Apply this edit exactly:\nhello.py\n```python\n<<<<<<< SEARCH\n    return \"hello\"\n=======\n"
               f"    return \"{edited}\"\n>>>>>>> REPLACE\n```")
    env, s = configure(ctx, "aider", home)
    cmd = [str(ctx.aider), *s["quiet_flags"], "--no-git", "--yes-always", "--no-pretty", "hello.py",
           "--message", message]
    result = ctx.agent("aider-edit", cmd, env, work)
    expect(result, "Echo:", "Applied edit to hello.py")
    if edited not in target.read_text():
        raise Fail(f"aider reported the edit but hello.py does not contain {edited!r}")


def opencode_setup(ctx, name, with_mcp):
    home = ctx.home(name)
    env, _ = configure(ctx, "opencode", home)
    if with_mcp:
        server = mcp_server(ctx, name)
        path = home / ".config" / "opencode" / "opencode.json"
        config = json.loads(path.read_text())
        config["mcp"] = {"probe": {"type": "local", "command": [server["command"], *server["args"]],
                                   "environment": server["env"]}}
        path.write_text(json.dumps(config, indent=2))
    return home, env


def case_opencode_text(ctx):
    home, env = opencode_setup(ctx, "opencode-text", with_mcp=False)
    result = ctx.agent("opencode-text", ["opencode", "run", f"Say hello {TEXT_MARKER}"], env, home / "work")
    expect(result, "Echo:", TEXT_MARKER)


def case_opencode_tool(ctx):
    home, env = opencode_setup(ctx, "opencode-tool", with_mcp=True)
    # opencode offers an MCP tool as `<server>_<tool>`; its tools run without asking in `opencode run`.
    prompt = "[[tool:probe_probe_nonce]] Call the probe_nonce tool and tell me the nonce"
    result = ctx.agent("opencode-tool", ["opencode", "run", prompt], env, home / "work")
    expect(result, ctx.nonce)


def continue_setup(ctx, name, with_mcp):
    home = ctx.home(name)
    env, _ = configure(ctx, "continue", home)
    if with_mcp:
        server = mcp_server(ctx, name)
        server_env = "".join(f"      {k}: {v}\n" for k, v in server["env"].items())
        with open(home / ".continue" / "config.yaml", "a") as f:
            f.write(f"mcpServers:\n  - name: probe\n    command: {server['command']}\n"
                    f"    args: [{server['args'][0]}]\n    env:\n{server_env}")
    return home, env


def case_continue_text(ctx):
    home, env = continue_setup(ctx, "continue-text", with_mcp=False)
    result = ctx.agent("continue-text", ["cn", "-p", f"Say hello {TEXT_MARKER}"], env, home / "work")
    expect(result, "Echo:", TEXT_MARKER)


def case_continue_tool(ctx):
    home, env = continue_setup(ctx, "continue-tool", with_mcp=True)
    # Continue offers an MCP tool under its own name; headless (`-p`) runs it without asking.
    prompt = "[[tool:probe_nonce]] Call the probe_nonce tool and tell me the nonce"
    result = ctx.agent("continue-tool", ["cn", "-p", prompt], env, home / "work")
    expect(result, ctx.nonce)


CASES = {
    "claude": [("claude-text", case_claude_text), ("claude-tool", case_claude_tool),
               claude_model_case("claude-model", "ANTHROPIC_MODEL", "claude-sonnet-4-6"),
               # Claude Code's default model is its `opus`, so this variable alone changes what it asks for.
               claude_model_case("claude-opus-model", "ANTHROPIC_DEFAULT_OPUS_MODEL", "claude-opus-4-6")],
    "codex": [("codex-text", case_codex_text), ("codex-tool", case_codex_tool)],
    "aider": [("aider-edit", case_aider_edit)],
    "opencode": [("opencode-text", case_opencode_text), ("opencode-tool", case_opencode_tool)],
    "continue": [("continue-text", case_continue_text), ("continue-tool", case_continue_tool)],
}
