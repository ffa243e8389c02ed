"""Real-backend safety: on macOS the suite must leave the user's keychain search list and
default keychain exactly as it found them, and must never start if its shim could fall
through to the login keychain.  The logic takes a `run(argv) -> (status, stdout, stderr)`
so it is tested on any host with a fake `security`."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from collections.abc import Callable

from keychain_claims.errors import HarnessError

Run = Callable[[list[str]], tuple[int, str, str]]


class SafetyError(HarnessError):
    """One line: why the run must not start, or what it changed."""


def system_run(security: str | list[str] = "/usr/bin/security", env: dict[str, str] | None = None) -> Run:
    """`security` as the user runs it, outside any sandbox (`env` adds to the environment)."""
    command = [security] if isinstance(security, str) else list(security)

    def run(argv: list[str]) -> tuple[int, str, str]:
        proc = subprocess.run([*command, *argv], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              env={**os.environ, **env} if env else None)
        return proc.returncode, proc.stdout, proc.stderr
    return run


@dataclass(frozen=True)
class Snapshot:
    search_list: str
    default: str


def snapshot(run: Run) -> Snapshot:
    return Snapshot(run(["list-keychains", "-d", "user"])[1], run(["default-keychain"])[1])


def compare(before: Snapshot, after: Snapshot) -> None:
    if before.search_list != after.search_list:
        raise SafetyError("the run changed the user's keychain search list: restore it with "
                          f"`security list-keychains -d user -s {before.search_list.split()!r}`")
    if before.default != after.default:
        raise SafetyError(f"the run changed the default keychain: restore it with "
                          f"`security default-keychain -s {before.default.strip()}`")


def check_pinned(shim_run: Run, scratch: str) -> None:
    """`show-keychain-info` with no keychain through the shim must report the scratch keychain."""
    status, _, err = shim_run(["show-keychain-info"])
    if scratch not in err:
        raise SafetyError(f"the security shim is not pinned to the scratch keychain (show-keychain-info said "
                          f"{err.strip()[:120]!r}, exit {status}); refusing to touch the login keychain")
