#!/usr/bin/env python3
"""The `agents` test group: real coding agents, as their users run them, through `jbproxy serve` on the fake upstream.

Run by `cargo test` when `JBPROXY_CI=1` or `JBPROXY_AGENTS=1` (tests/it/agents.rs, which hands over the binaries it
built through `JBPROXY_AGENTS_TARGET`), or by hand with tests/agents/run.sh. It installs pinned agent versions into a cache folder outside the
repo (npm: @anthropic-ai/claude-code, @openai/codex, opencode-ai, @continuedev/cli; PyPI: aider-chat in a venv made
with uv), all at once, builds and starts the in-repo fake upstream (`examples/fake_upstream.rs`) and `jbproxy serve`
in front of it, then runs the cases of `cases.py`: each agent non-interactively with the settings of `settings.py`
(the ones README shows), telemetry and update checks off, checking what a user sees: the fake's answer in the
agent's output, and a tool round trip (an MCP tool of this group's own, `mcp_probe.py`, whose result is a nonce made
up per run) or, for aider, a file edit.

Every case prints PASS or FAIL with the reason; the run ends with `N passed, M failed` and exits non-zero if any
case failed or anything could not be installed (a registry that cannot be reached fails loudly; nothing is
skipped). See tests/agents/README.md.

Usage: tests/agents/run.sh [--only claude,codex,aider,opencode,continue] [--cache DIR] [--keep]
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cases import CASES, Ctx, Fail

# Pinned versions: the ones issue 18 was written against. Bump them together with tests/fixtures/agents/.
CLAUDE_CODE = "2.1.197"
CODEX = "0.171.0"
OPENCODE = "1.18.33"
CONTINUE_CLI = "1.5.47"
AIDER = "0.86.2"
# aider is installed with uv: the same wheels from PyPI, resolved and fetched in ~10 s where pip took 4-8 minutes.
UV = "0.13.9"

# agent → (npm package, version, the command it installs)
NPM_AGENTS = {
    "claude": ("@anthropic-ai/claude-code", CLAUDE_CODE, "claude"),
    "codex": ("@openai/codex", CODEX, "codex"),
    "opencode": ("opencode-ai", OPENCODE, "opencode"),
    "continue": ("@continuedev/cli", CONTINUE_CLI, "cn"),
}

REPO = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 1200


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


def install_npm(cache, agent):
    """One agent's npm package in a prefix of its own (named by its version), so agents install in parallel and a
    version bump never disturbs the others."""
    package, version, command = NPM_AGENTS[agent]
    prefix = cache / f"npm-{agent}-{version}"
    bin_dir = prefix / "node_modules" / ".bin"
    if npm_version(prefix, package) == version and (bin_dir / command).exists():
        return bin_dir, "cached"
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    # --prefer-offline: a tarball or manifest already in npm's own cache is used without asking the registry again.
    # Install scripts must run: Claude Code's and opencode's postinstall put their native binary into place.
    run(["npm", "install", "--prefix", str(prefix), "--prefer-offline", "--no-audit", "--no-fund", "--no-save",
         "--no-update-notifier", "--loglevel=error", f"{package}@{version}"],
        what=f"npm install {package}@{version} (is the npm registry reachable?)")
    if npm_version(prefix, package) != version:
        raise SetupError(f"npm install left {package} at {npm_version(prefix, package)}, not {version}")
    if not (bin_dir / command).exists():
        raise SetupError(f"npm install {package}@{version} did not provide `{command}`")
    return bin_dir, "installed"


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

    def build(self):
        # Under `cargo test` the binaries are already built, and cargo holds the build lock until it exits.
        if os.environ.get("JBPROXY_AGENTS_TARGET"):
            return
        run(["cargo", "build", "--quiet", "--bin", "jbproxy", "--example", "fake_upstream"], cwd=REPO,
            what="cargo build --bin jbproxy --example fake_upstream")

    def start(self):
        target = Path(os.environ.get("JBPROXY_AGENTS_TARGET")
                      or Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug")
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

    def log_text(self, mark):
        """jbproxy's log since `mark`, without colour codes."""
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            f.seek(mark)
            return re.sub(r"\x1b\[[0-9;]*m", "", f.read())

    def log_since(self, mark):
        """jbproxy's log lines since `mark` that say a request failed."""
        return [line.split(": ", 1)[-1] for line in self.log_text(mark).splitlines()
                if " failed" in line or "WARN" in line or "ERROR" in line]

    def served_models(self, mark):
        """The model ids jbproxy logged as served since `mark` (src/api/relay.rs, "chat completion served")."""
        return set(re.findall(r"chat completion served model=(\S+)", self.log_text(mark)))

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


def install_all(cache, agents, stack):
    """Installs what `agents` need and builds jbproxy, all at once (each is mostly waiting on the network or on
    another process); returns (agent → npm bin folder, the aider command). Every failure is reported, not only the
    first."""
    jobs = {}
    with ThreadPoolExecutor(max_workers=len(agents) + 1) as pool:
        def timed(fn, *args):
            t = time.monotonic()
            out = fn(*args)
            return out, time.monotonic() - t
        jobs["jbproxy"] = pool.submit(timed, stack.build)
        for agent in agents:
            if agent in NPM_AGENTS:
                jobs[agent] = pool.submit(timed, install_npm, cache, agent)
            elif agent == "aider":
                jobs[agent] = pool.submit(timed, install_aider, cache)
        errors, bins, aider = [], {}, None
        for name, job in jobs.items():
            try:
                out, secs = job.result()
            except SetupError as e:
                errors.append(str(e))
                continue
            if name == "jbproxy":
                log(f"cargo build --bin jbproxy --example fake_upstream ({secs:.0f} s)")
                continue
            path, how = out
            version = NPM_AGENTS[name][1] if name in NPM_AGENTS else AIDER
            log(f"{name} {version} ({how}, {secs:.0f} s)")
            if name == "aider":
                aider = path
            else:
                bins[name] = path
    if errors:
        raise SetupError("\n".join(errors))
    return bins, aider


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(CASES), help="comma-separated agents to run")
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
        bins, aider = install_all(cache, agents, stack)
        t = time.monotonic()
        stack.start()
        log(f"jbproxy serve on {stack.url} over the fake upstream ({time.monotonic() - t:.0f} s to start)")
        ctx = Ctx(stack, work, bins, aider)
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
