#!/usr/bin/env python3
"""The `agents` test group: real coding agents, as their users run them, through `jbproxy serve` on the fake upstream.

Not run by `cargo test`. It installs pinned agent versions into a cache folder outside the repo (npm:
@anthropic-ai/claude-code, @openai/codex; pip: aider-chat in a venv), builds and starts the in-repo fake upstream
(`examples/fake_upstream.rs`) and `jbproxy serve` in front of it, then runs each agent non-interactively with its
defaults (no model chosen), telemetry and update checks off, and checks what a user sees: the fake's answer in the
agent's output, and a tool round trip (an MCP tool of this group's own, `mcp_probe.py`, whose result is a nonce
made up per run) or, for aider, a file edit.

Every case prints PASS or FAIL with the reason; the run ends with `N passed, M failed` and exits non-zero if any
case failed or anything could not be installed (a registry that cannot be reached fails loudly; nothing is
skipped). See tests/agents/README.md for the expected failures and how CI runs it.

Usage: tests/agents/run.sh [--only claude,codex,aider] [--cache DIR] [--keep]
Standard library only.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# Pinned versions: the ones issue 18 was written against. Bump them together with tests/fixtures/agents/.
CLAUDE_CODE = "2.1.197"
CODEX = "0.171.0"
AIDER = "0.86.2"
# aider is installed with uv: the same wheels from PyPI, resolved and fetched in ~10 s where pip took 4-8 minutes.
UV = "0.13.9"

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CASE_TIMEOUT = 150  # seconds; an agent in a retry loop is stopped and the case fails
INSTALL_TIMEOUT = 1200

# The user text each case sends. The fake upstream echoes the last user message ("Echo: …"), so the marker coming
# back in the agent's output proves the answer travelled fake → jbproxy → agent. The fake answers text even when
# tools are offered (agents offer theirs on every turn); it calls a tool only when the last user message carries its
# directive, `[[tool:NAME]]`, and then passes the rest of the message as {"input": …} (src/fake_upstream/mod.rs).
TEXT_MARKER = "agents-probe-7f3a"


class Fail(Exception):
    """A case failed: the message says what the user would have seen."""


class SetupError(Exception):
    """The group could not run at all (install, build or start failed)."""


def log(msg):
    print(msg, flush=True)


def run(cmd, *, env=None, cwd=None, timeout=INSTALL_TIMEOUT, what):
    try:
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SetupError(f"{what}: `{cmd[0]}` is not installed")
    except subprocess.TimeoutExpired:
        raise SetupError(f"{what}: no result after {timeout} s")
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise SetupError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


# --- install ---------------------------------------------------------------------------------------------------------


def npm_version(prefix, package):
    try:
        return json.loads((prefix / "node_modules" / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def install_npm(cache):
    prefix = cache / "npm"
    wanted = {"@anthropic-ai/claude-code": CLAUDE_CODE, "@openai/codex": CODEX}
    if all(npm_version(prefix, p) == v for p, v in wanted.items()) and (prefix / "node_modules/.bin/claude").exists():
        return prefix / "node_modules" / ".bin", "cached"
    prefix.mkdir(parents=True, exist_ok=True)
    specs = [f"{p}@{v}" for p, v in wanted.items()]
    # Claude Code's postinstall copies its native binary into place; it must run.
    run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--no-save", *specs],
        what=f"npm install {' '.join(specs)} (is the npm registry reachable?)")
    for p, v in wanted.items():
        if npm_version(prefix, p) != v:
            raise SetupError(f"npm install left {p} at {npm_version(prefix, p)}, not {v}")
    return prefix / "node_modules" / ".bin", "installed"


def install_aider(cache):
    venv = cache / f"aider-{AIDER}"
    aider = venv / "bin" / "aider"
    if aider.exists():
        try:
            if AIDER in subprocess.run([str(aider), "--version"], capture_output=True, text=True, timeout=60).stdout:
                return aider, "cached"
        except (OSError, subprocess.TimeoutExpired):
            pass
    tools = cache / f"uv-{UV}"
    uv = tools / "bin" / "uv"
    if not uv.exists():
        shutil.rmtree(tools, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(tools)], what="python3 -m venv")
        run([str(tools / "bin" / "pip"), "install", "-q", f"uv=={UV}"], what=f"pip install uv=={UV} (is PyPI reachable?)")
    shutil.rmtree(venv, ignore_errors=True)
    # Never let uv fetch a Python build: only registries are reachable, and the machine's python3 is the one to use.
    uv_env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], env=uv_env, what="uv venv")
    run([str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), f"aider-chat=={AIDER}"],
        env=uv_env, what=f"uv pip install aider-chat=={AIDER} (is PyPI reachable?)")
    return aider, "installed"


# --- jbproxy and the fake --------------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SetupError(f"{what}: not ready after {timeout} s")


class Stack:
    """The fake upstream and `jbproxy serve` in front of it, each a child process ended by its own handle."""

    def __init__(self, work, key, aliases):
        self.work, self.key, self.procs, self.files, self.aliases = work, key, [], [], aliases

    def start(self):
        run(["cargo", "build", "--quiet", "--bin", "jbproxy", "--example", "fake_upstream"], cwd=REPO,
            what="cargo build --bin jbproxy --example fake_upstream")
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug"
        config = self.work / "jbproxy.json"
        self.port = free_port()
        fake_log = self.open("fake_upstream.log")
        fake = subprocess.Popen(
            [str(target / "examples" / "fake_upstream"), "--write-config", str(config), "--bearer", self.key,
             "--proxy-port", str(self.port)], stdout=fake_log, stderr=subprocess.STDOUT)
        self.procs.append(fake)
        wait_for(lambda: config.exists() or fake.poll() is not None, 30, "fake upstream")
        if fake.poll() is not None:
            raise SetupError(f"fake upstream exited: {(self.work / 'fake_upstream.log').read_text()[-500:]}")
        if self.aliases:
            settings = json.loads(config.read_text())
            settings["models"] = self.aliases
            config.write_text(json.dumps(settings))
        self.log_path = self.work / "jbproxy.log"
        env = dict(os.environ, RUST_LOG="info")
        proxy = subprocess.Popen([str(target / "jbproxy"), "serve", "--config", str(config)], env=env,
                                 stdout=self.open("jbproxy.stdout"), stderr=self.open("jbproxy.log"))
        self.procs.append(proxy)

        def healthy():
            if proxy.poll() is not None:
                raise SetupError(f"jbproxy serve exited: {self.log_path.read_text()[-800:]}")
            try:
                return urllib.request.urlopen(f"{self.url}/health", timeout=2).status == 200
            except OSError:
                return False

        wait_for(healthy, 30, "jbproxy serve")

    def open(self, name):
        f = open(self.work / name, "w")
        self.files.append(f)
        return f

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log_mark(self):
        return self.log_path.stat().st_size

    def log_since(self, mark):
        """jbproxy's log lines since `mark` that say a request failed, without colour codes."""
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            f.seek(mark)
            text = re.sub(r"\x1b\[[0-9;]*m", "", f.read())
        return [line.split(": ", 1)[-1] for line in text.splitlines()
                if " failed" in line or "WARN" in line or "ERROR" in line]

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for f in self.files:
            f.close()


# --- the cases -------------------------------------------------------------------------------------------------------


class Ctx:
    def __init__(self, stack, work, npm_bin, aider):
        self.stack, self.work, self.npm_bin, self.aider = stack, work, npm_bin, aider
        self.nonce = "nonce-" + secrets.token_hex(6)

    def home(self, name):
        home = self.work / "homes" / name
        (home / "work").mkdir(parents=True, exist_ok=True)
        return home

    def base_env(self, home):
        # A clean environment: nothing of the user's or CI's agent config may leak in.
        path = os.pathsep.join([str(self.npm_bin), str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin",
                                "/bin"])
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


def claude_env(ctx, home):
    return dict(ctx.base_env(home), ANTHROPIC_BASE_URL=ctx.stack.url, ANTHROPIC_API_KEY=ctx.stack.key,
                DISABLE_TELEMETRY="1", DISABLE_AUTOUPDATER="1", DISABLE_ERROR_REPORTING="1",
                CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
                # -p mode otherwise sends the first request before MCP servers have connected.
                MCP_CONNECTION_NONBLOCKING="false")


def mcp_server(ctx, name):
    return {"command": sys.executable, "args": [str(HERE / "mcp_probe.py")],
            "env": {"AGENTS_PROBE_NONCE": ctx.nonce, "AGENTS_PROBE_CALLS": str(ctx.mcp_calls(name))}}


def case_claude_text(ctx):
    home = ctx.home("claude-text")
    result = ctx.agent("claude-text", ["claude", "-p", f"Say hello {TEXT_MARKER}"], claude_env(ctx, home),
                       home / "work")
    expect(result, "Echo:", TEXT_MARKER)


def case_claude_tool(ctx):
    home = ctx.home("claude-tool")
    config = home / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"probe": dict(mcp_server(ctx, "claude-tool"), type="stdio")}}))
    # The directive names the MCP tool as Claude Code offers it. Built-in tools off: the case is about the MCP round
    # trip, and they would only make the request larger. The model is still Claude Code's default.
    prompt = "[[tool:mcp__probe__probe_nonce]] Call the probe_nonce tool and tell me the nonce"
    cmd = ["claude", "-p", prompt, "--tools", "",
           "--mcp-config", str(config), "--strict-mcp-config", "--allowedTools", "mcp__probe__probe_nonce"]
    result = ctx.agent("claude-tool", cmd, claude_env(ctx, home), home / "work")
    expect(result, ctx.nonce)


def codex_setup(ctx, name, with_mcp):
    home = ctx.home(name)
    codex_home = home / ".codex"
    codex_home.mkdir(exist_ok=True)
    config = f"""model_provider = "jbproxy"
check_for_update_on_startup = false

[model_providers.jbproxy]
name = "jbproxy"
base_url = "{ctx.stack.url}/v1"
env_key = "JBPROXY_API_KEY"
wire_api = "responses"

[analytics]
enabled = false
"""
    if with_mcp:
        server = mcp_server(ctx, name)
        env = ", ".join(f'{k} = "{v}"' for k, v in server["env"].items())
        config += f"""
[mcp_servers.probe]
command = "{server['command']}"
args = ["{server['args'][0]}"]
default_tools_approval_mode = "approve"
env = {{ {env} }}
"""
    (codex_home / "config.toml").write_text(config)
    env = dict(ctx.base_env(home), CODEX_HOME=str(codex_home), JBPROXY_API_KEY=ctx.stack.key)
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
    env = dict(ctx.base_env(home), OPENAI_API_BASE=f"{ctx.stack.url}/v1", OPENAI_API_KEY=ctx.stack.key,
               LITELLM_LOCAL_MODEL_COST_MAP="True")
    cmd = [str(ctx.aider), "--no-git", "--analytics-disable", "--no-check-update", "--no-show-release-notes",
           "--yes-always", "--no-pretty", "hello.py", "--message", message]
    result = ctx.agent("aider-edit", cmd, env, work)
    expect(result, "Echo:", "Applied edit to hello.py")
    if edited not in target.read_text():
        raise Fail(f"aider reported the edit but hello.py does not contain {edited!r}")


CASES = {
    "claude": [("claude-text", case_claude_text), ("claude-tool", case_claude_tool)],
    "codex": [("codex-text", case_codex_text), ("codex-tool", case_codex_tool)],
    "aider": [("aider-edit", case_aider_edit)],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="claude,codex,aider", help="comma-separated agents to run")
    parser.add_argument("--cache", default=os.environ.get("JBPROXY_AGENTS_CACHE",
                                                          str(Path.home() / ".cache" / "jbproxy-agents")))
    parser.add_argument("--alias", action="append", default=[], metavar="ID=PROFILE",
                        help="add a `models` entry to jbproxy's config (to see which failures only the model "
                             "table causes); repeatable")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (outputs, logs) and print it")
    args = parser.parse_args()
    agents = [a.strip() for a in args.only.split(",") if a.strip()]
    unknown = [a for a in agents if a not in CASES]
    if unknown:
        parser.error(f"unknown agent(s) {unknown}; choose from {sorted(CASES)}")
    cache = Path(args.cache).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=cache))
    aliases = {}
    for alias in args.alias:
        model, sep, profile = alias.partition("=")
        if not sep or not model or not profile:
            parser.error(f"--alias {alias!r}: write it as ID=PROFILE, e.g. claude-opus-4-8=anthropic-claude-4-6-opus")
        aliases[model] = profile
    stack = Stack(work, "sk-agents-" + secrets.token_hex(12), aliases)
    results = []
    try:
        started = time.monotonic()
        npm_bin, aider = None, None
        if "claude" in agents or "codex" in agents:
            npm_bin, how = install_npm(cache)
            log(f"npm agents: Claude Code {CLAUDE_CODE}, Codex {CODEX} ({how}, {time.monotonic() - started:.0f} s)")
        if "aider" in agents:
            t = time.monotonic()
            aider, how = install_aider(cache)
            log(f"aider {AIDER} ({how}, {time.monotonic() - t:.0f} s)")
        t = time.monotonic()
        stack.start()
        log(f"jbproxy serve on {stack.url} over the fake upstream ({time.monotonic() - t:.0f} s to build and start)")
        ctx = Ctx(stack, work, npm_bin or Path("/nonexistent"), aider)
        for agent in agents:
            for name, case in CASES[agent]:
                t = time.monotonic()
                try:
                    case(ctx)
                    results.append((name, True, ""))
                    log(f"PASS {name} ({time.monotonic() - t:.1f} s)")
                except Fail as e:
                    results.append((name, False, str(e)))
                    log(f"FAIL {name} ({time.monotonic() - t:.1f} s): {e}")
        log(f"agents group took {time.monotonic() - started:.0f} s")
    except SetupError as e:
        log(f"FAIL agents group setup: {e}")
        log("0 passed, 1 failed")
        return 2
    finally:
        stack.stop()
        if args.keep:
            log(f"outputs and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    passed = sum(1 for _, ok, _ in results if ok)
    log(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
