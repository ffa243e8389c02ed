"""Run a release in the sandbox: temp HOME, our `security` first on PATH, the autoupdater
and nonessential traffic off, no network but loopback (unshare -n) with the API stand-in."""
from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from keychain_claims import PROJECT_ROOT
from keychain_claims.redact import redact
from keychain_claims.releases.registry import Release

PRELOAD = Path(__file__).with_name("darwin-preload.cjs")


@functools.lru_cache(maxsize=1)
def isolation() -> str | None:
    """None when `unshare -n` works here, else the reason it does not."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip is not installed, so the release cannot be cut off from the network"
    proc = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"unshare -n is not allowed here ({proc.stderr.strip()[:80]}); run as root or on a Mac"
    return None


@dataclass
class Run:
    argv: list[str]
    status: int
    stdout: str
    stderr: str

    def __repr__(self) -> str:
        return redact(f"Run({self.argv!r}, status={self.status})")


def run(release: Release, sandbox, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    if release.form == "js":
        cmd = ["node", "-r", str(PRELOAD), str(release.bundle), *args]
    else:
        cmd = [str(release.root / "bin" / "claude"), *args]
    full_env = {**sandbox.env, "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "CLAUDE_CODE_MAX_RETRIES": "0",
                "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    wrapped = ["unshare", "-n", sys.executable, "-m", "keychain_claims.releases.netns", "--", *cmd]
    proc = subprocess.run(wrapped, env=full_env, cwd=sandbox.home, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return Run(list(args), proc.returncode, proc.stdout, proc.stderr)
