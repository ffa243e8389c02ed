"""Keychain dialogs on a real Mac: SecurityAgent windows nobody on a hosted runner answers.

A call that needs consent makes securityd ask SecurityAgent, which shows a window and blocks
the call.  The watch sees a dialog as a SecurityAgent process that was not there when the watch
began (launchd starts it on demand), and dismisses it by ending that process, which cancels the
query: the blocked call returns errSecUserCanceled.  Which kind of dialog it was is told by the
scratch keychain's lock state (an unlock dialog while it is locked, else an item dialog); its
text is read through System Events when the runner grants the accessibility permission, and is
empty otherwise.  [UNV] until a Mac run's transcripts show it: whether SecurityAgent is a new
process per dialog on every macOS version; the other signal, a call still running after
SLOW_CALL seconds, is taken as a dialog too.
"""
from __future__ import annotations

import subprocess
import time

SLOW_CALL = 3.0        # a keychain call takes milliseconds; one still running this long waits on a dialog


def _agents() -> set[int]:
    proc = subprocess.run(["pgrep", "-x", "SecurityAgent"], capture_output=True, text=True)
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
    def __init__(self, sandbox, locked):
        self.sandbox = sandbox
        self.locked = locked
        self.started = time.monotonic()
        self.before = _agents()
        self.dismissed: set[int] = set()

    def open(self) -> list[dict]:
        new = _agents() - self.before - self.dismissed
        if not new and time.monotonic() - self.started < SLOW_CALL:
            return []
        kind = "unlock" if self.locked() else "item"
        return [{"kind": kind, "pid": pid, "text": _window_text(), "keychain": self.sandbox.keychain.name,
                 "source": "SecurityAgent"} for pid in (new or {0})]

    def dismiss(self) -> int:
        new = _agents() - self.before
        for pid in new:
            subprocess.run(["kill", str(pid)], capture_output=True)
        self.dismissed |= new
        self.started = time.monotonic()
        return len(new)
