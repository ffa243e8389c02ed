"""How Claude Code talks to `security`, as releases do it.

Source: shared/reference/claude-code-credentials.md (read from published releases);
the release fingerprints (keychain_claims.releases) check these against every release
the suite is given, so a release that changes them shows up there.
  read : find-generic-password -a "<acct>" -w -s "<service>"          (2.1.330)
  write: `add-generic-password -U -a "<acct>" -s "<service>" -X "<hex>"` on stdin of `security -i` (>= 2.0.76),
         in argv when the line would exceed 4032 characters; up to 2.0.31 a shell command line
         `security add-generic-password -U -a $USER -s "<service>" -w "<json>"` (the secret in argv)
         run by a helper that never reports a failure (steps/refresh_steps.py names each form seen)
  login/logout: delete-generic-password -a "<acct>" -s "<service>"
"""
from __future__ import annotations

import hashlib

SERVICE = "Claude Code-credentials"


def service(config_dir: str | None = None, oauth_suffix: str = "") -> str:
    """`Claude Code${suffix}-credentials${hash}`; the hash only with CLAUDE_CONFIG_DIR set."""
    tail = f"-{hashlib.sha256(config_dir.encode()).hexdigest()[:8]}" if config_dir else ""
    return f"Claude Code{oauth_suffix}-credentials{tail}"


def read_argv(account: str, svc: str = SERVICE) -> list[str]:
    return ["find-generic-password", "-a", account, "-w", "-s", svc]


def write_line(account: str, payload: str, svc: str = SERVICE) -> str:
    """One `security -i` line, the secret as hex so it never appears in argv."""
    return f'add-generic-password -U -a "{account}" -s "{svc}" -X "{payload.encode().hex()}"\n'


STDIN_LIMIT = 4032     # longer lines go in argv (2.0.76+: "exceeds security -i stdin limit; using argv")


def write_argv(account: str, payload: str, svc: str = SERVICE) -> list[str]:
    return ["add-generic-password", "-U", "-a", account, "-s", svc, "-X", payload.encode().hex()]


def delete_argv(account: str, svc: str = SERVICE) -> list[str]:
    return ["delete-generic-password", "-a", account, "-s", svc]
