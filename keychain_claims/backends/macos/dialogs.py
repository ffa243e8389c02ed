"""Where a Mac run learns that a keychain operation needs someone's consent.

By default (no `--real-dialogs`) no dialog is ever drawn: the sandbox's `security` and the test
callers run in a security session of their own without window-server access (sessions.py), where
securityd answers "consent needed" at once with errSecInteractionNotAllowed (exit 36) instead of
asking SecurityAgent.  A typed command line's `security` (which the harness does not run itself)
leaves a *consent record* for its 36 in the sandbox (shim.py) and waits, within its own deadline,
for the harness's decision; `ConsentWatch` lists those records as the dialogs they stand for and
answers them.  Nothing is killed and nothing is guessed from timing.

Why not watch and kill SecurityAgent (what this module did before issue 21):
* securityd/src/agentquery.cpp: when the XPC connection to SecurityAgent is interrupted (the agent
  killed), the query's result is left unset, so the blocked caller gets an internal error
  (most likely errAuthorizationInternal) -- not errSecUserCanceled, so a kill is never "Cancel";
* launchd respawns an on-demand agent at most every ThrottleInterval seconds (launchd.plist(5):
  default 10 s), so a second dialog inside 10 s is late and a watch that keys on "a new
  SecurityAgent process" is racing launchd;
* "a call still running after 3 s is a dialog" invented dialogs for any slow call.

`--real-dialogs` (a person at the Mac answers): `SecurityAgentWatch` only *records* that a new
SecurityAgent process appeared (and its window text, when System Events may read it); it never
kills one and never answers.  The call's own deadline still ends a dialog nobody answers, as a
harness error.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from keychain_claims import atomic

CONSENT_DIR = "consent"          # under the sandbox root: one <id>.json per 36, <id>.answer when decided


def _agents() -> set[int]:
    try:
        proc = subprocess.run(["pgrep", "-x", "SecurityAgent"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {int(p) for p in proc.stdout.split()}


def _window_text() -> str:
    script = ('tell application "System Events" to get value of static texts of window 1 of '
              'process "SecurityAgent"')
    try:
        proc = subprocess.run(["osascript", "-e", script], capture_output=True, text=True, timeout=3)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


class SecurityAgentWatch:
    """`--real-dialogs` only: reports each SecurityAgent process that appeared after the watch
    began, once; never kills it (a person answers on screen)."""

    def __init__(self, sandbox, locked):
        self.sandbox = sandbox
        self.locked = locked
        self.before = _agents()
        self.reported: set[int] = set()

    def open(self) -> list[dict]:
        new = _agents() - self.before - self.reported
        if not new:
            return []
        kind = "unlock" if self.locked() else "item"
        return [{"kind": kind, "pid": pid, "text": _window_text(), "keychain": self.sandbox.keychain.name,
                 "source": "SecurityAgent (answered on screen by a person)"} for pid in sorted(new)]

    def dismiss(self) -> int:
        """Nothing is dismissed: the windows just reported are not reported again."""
        new = _agents() - self.before - self.reported
        self.reported |= new
        return 0


def consent_folder(sandbox_root: str | os.PathLike) -> Path:
    return Path(sandbox_root) / CONSENT_DIR


def write_record(folder: Path, record: dict) -> Path:
    """The shim's side: one consent record, written atomically; returns its answer file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{os.getpid()}-{len(list(folder.glob('*.json')))}"
    atomic.write_text(folder / f"{name}.json", json.dumps(record), durable=False)
    return folder / f"{name}.answer"


class ConsentWatch:
    """The harness's side: consent records of typed command lines, listed as the dialogs they
    stand for (kind from the keychain's lock state, asked without a dialog) and answered on
    dismiss(): every record gets "cancel" -- the documented effect of Deny/Cancel, or the end of a
    dialog nobody could answer (the driver then reports it as unanswered)."""

    def __init__(self, sandbox, locked):
        self.sandbox = sandbox
        self.locked = locked
        self.folder = consent_folder(sandbox.root)

    def _pending(self) -> list[Path]:
        if not self.folder.exists():
            return []
        return sorted(p for p in self.folder.glob("*.json") if not p.with_suffix(".answer").exists())

    def open(self) -> list[dict]:
        pending = self._pending()
        if not pending:
            return []
        kind = "unlock" if self.locked() else "item"
        windows = []
        for path in pending:
            record = json.loads(path.read_text())
            windows.append({"kind": kind, "app": record.get("app", "security"), "item": record.get("item", ""),
                            "keychain": self.sandbox.keychain.name, "text": "", "record": path.name,
                            "source": "errSecInteractionNotAllowed in a session without window-server access"})
        return windows

    def dismiss(self) -> int:
        pending = self._pending()
        for path in pending:
            path.with_suffix(".answer").write_text("cancel\n")
        return len(pending)
