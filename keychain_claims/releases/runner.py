"""Run a release in the sandbox: temp HOME, our `security` first on PATH, the autoupdater and
nonessential traffic off, the Messages and OAuth stand-ins on loopback (standin.py), and one of
two isolations:

    netns     `unshare -n`: no network but loopback (Linux; netns.py starts the stand-ins inside)
    loopback  no namespace: the release is pointed at the loopback stand-ins and the HTTPS proxy;
              on macOS also `sandbox-exec` with a profile that denies the network except loopback

The backend chooses with `release_isolation` ("auto" = netns when it works here, else loopback)."""
from __future__ import annotations

import functools
import os
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from keychain_claims import PROJECT_ROOT
from keychain_claims.redact import redact
from keychain_claims.releases import standin
from keychain_claims.releases.registry import Release

PRELOAD = Path(__file__).with_name("darwin-preload.cjs")
STANDIN_DIR = "release-standin"          # in the sandbox root: CA, certificate, requests seen
SPAWNED = "security-processes"           # in it: the first argument of every `security` the release started
LOOPBACK_ONLY = """(version 1)
(allow default)
(deny network-outbound)
(allow network-outbound (remote ip "localhost:*"))
(allow network-outbound (remote unix-socket))
"""


class RunError(Exception):
    """One line: why the release could not be run (the stand-in did not start, ...)."""


@functools.lru_cache(maxsize=1)
def netns_unavailable() -> str | None:
    """None when `unshare -n` works here, else the reason it does not."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip is not installed"
    proc = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"unshare -n is not allowed here ({proc.stderr.strip()[:80]})"
    return None


def isolation_for(backend) -> str:
    """netns or loopback, as the backend asks (`release_isolation`: auto, netns, loopback)."""
    wanted = getattr(backend, "release_isolation", "auto")
    if wanted == "auto":
        return "loopback" if netns_unavailable() else "netns"
    return wanted


def isolation(backend=None) -> str | None:
    """None when a release can be isolated here with the backend's choice, else why not."""
    if isolation_for(backend) == "netns":
        why = netns_unavailable()
        return f"{why}: the release cannot be cut off from the network; choose the loopback isolation" if why else None
    return None


@dataclass
class Run:
    argv: list[str]
    status: int
    stdout: str
    stderr: str
    isolation: str = ""
    standin: Path | None = None          # the stand-in's folder: requests.jsonl, connects.jsonl

    def __repr__(self) -> str:
        return redact(f"Run({self.argv!r}, status={self.status})")


def command(release: Release) -> tuple[list[str], dict[str, str]]:
    """argv and environment that start the release on its macOS code path on this host: a
    JavaScript release under node with the darwin preload; a native release's darwin graph on the
    runtime its cache entry chose -- the public `bun` runs the entry file itself, an Anthropic
    runtime starts it in place of its own through BUN_OPTIONS=--preload (no binary is modified)."""
    if release.form == "js":
        node = shutil.which("node") or "node"
        return [node, "-r", str(PRELOAD), str(release.bundle)], {}
    if release.form == "native" and release.runtime_kind == "bun" and release.entry is not None:
        return [str(release.host_binary), str(release.entry)], {}
    if release.form == "native" and release.preload is not None:
        return [str(release.host_binary)], {"BUN_OPTIONS": f"--preload={release.preload}"}
    return [str(release.host_binary)], {}


def _path(sandbox_env: dict[str, str]) -> str:
    """The sandbox PATH, with the directory of the `node` in use at its end (a CI's node lives
    outside /usr/local/bin:/usr/bin:/bin); the sandbox's `security` stays first."""
    path = sandbox_env["PATH"]
    node = shutil.which("node")
    if node and str(Path(node).parent) not in path.split(":"):
        path += ":" + str(Path(node).parent)
    return path


def _spawn_log(sandbox, folder: Path) -> Path:
    """A directory whose `security` notes the first argument of each process the release starts
    (`-i`, or the command's name: no secret) and runs the sandbox's `security` -- so a write on
    the stdin of `security -i` can be told from one in argv."""
    wrapper = folder / "bin" / "security"
    if not wrapper.exists():
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(f'#!/bin/sh\necho "${{1:-}}" >> {shlex.quote(str(folder / SPAWNED))}\n'
                           f'exec {shlex.quote(str(Path(sandbox.bin) / "security"))} "$@"\n')
        wrapper.chmod(0o755)
    return wrapper.parent


def spawned(run: "Run") -> list[str]:
    """The first argument of every `security` process the run started, in order."""
    path = run.standin / SPAWNED if run.standin else None
    return path.read_text().splitlines() if path and path.exists() else []


def standin_folder(sandbox) -> Path:
    return Path(sandbox.root) / STANDIN_DIR


def run(release: Release, sandbox, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    cmd, release_env = command(release)
    cmd = [*cmd, *args]
    folder = standin_folder(sandbox)
    try:
        ca = standin.make_ca(folder)
    except standin.StandInError as exc:
        raise RunError(f"stand-in: {exc}") from None
    (folder / standin.ERROR_FILE).unlink(missing_ok=True)
    (folder / SPAWNED).unlink(missing_ok=True)
    full_env = {**sandbox.env, "PATH": f"{_spawn_log(sandbox, folder)}:{_path(sandbox.env)}",
                "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "CLAUDE_CODE_MAX_RETRIES": "0", "NODE_EXTRA_CA_CERTS": str(ca), **release_env, **(env or {})}
    mode = isolation_for(sandbox.backend)
    stop = None
    if mode == "netns":
        full_env["PYTHONPATH"] = str(PROJECT_ROOT)
        wrapped = ["unshare", "-n", sys.executable, "-m", "keychain_claims.releases.netns", str(folder), "--", *cmd]
    else:
        try:
            served, stop = standin.start(folder)
        except standin.StandInError as exc:
            raise RunError(f"stand-in: {exc}") from None
        full_env.update(served)
        wrapped = cmd
        if sys.platform == "darwin" and shutil.which("sandbox-exec"):
            wrapped = ["sandbox-exec", "-p", LOOPBACK_ONLY, *cmd]
    try:
        # a session of its own: no controlling terminal (a prompt fails, never waits), one group to stop
        proc = subprocess.Popen(wrapped, env=full_env, cwd=sandbox.home, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        if stop:
            stop()
        raise RunError(f"cannot start {wrapped[0]}: {exc.strerror or exc}") from None
    try:
        sandbox.track_pid(proc.pid)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RunError(f"claude {' '.join(args)} did not finish within {timeout:.0f} s") from None
    finally:
        if stop:
            stop()
    error = folder / standin.ERROR_FILE
    if error.exists():
        raise RunError(f"stand-in: {error.read_text().strip()}")
    return Run(list(args), proc.returncode, stdout, stderr, mode, folder)
