"""The real macOS backend: /usr/bin/security behind a shim that pins every call to the scratch
keychain (shim.py), with the safety checks of safety.py.

Its home is a hosted macOS runner: a GUI session in which nobody answers dialogs.  So no call
may wait on one, and every scenario says what it observed and how:

* A read by `security` (Claude Code's reader) that needs consent raises a real SecurityAgent
  dialog.  The dialog watch (dialogs.py) sees it, dismisses it at once, and the scenario's
  answer is *emulated* with its documented effect (security-cli.md section 3): "Always Allow"
  puts the reader in the item's ACL and its partition ID in the partition list, applied with
  the keychain password; "Allow" does that for one read and restores the access; "Deny" and
  "Cancel" are what the dismissal already was; "OK" to an unlock dialog unlocks the keychain
  with its password.  The call is then run again, for real.
* A read by another app is made by a test caller (callers.py): a small program built on the Mac,
  signed ad hoc or with a throwaway identity, that reads with user interaction disabled, so a
  read that needs consent returns errSecInteractionNotAllowed at once instead of a dialog.
* A scenario whose session has no GUI gets exit 36, as a session without window-server access
  does, wherever a dialog appeared: emulated as well.
* A dialog that cannot be answered that way fails its step with "a keychain dialog appeared and
  nobody answered it", is dismissed, and the run goes on; every call has a hard limit.

Each emulated answer is recorded on the prompt and the call, and the result's provenance says
"emulated".
"""
from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from keychain_claims.backends.base import Backend, BackendError, python_shim, skip_here

if TYPE_CHECKING:  # pragma: no cover
    from keychain_claims.harness.driver import Call
    from keychain_claims.harness.prompts import Responder
    from keychain_claims.harness.sandbox import Sandbox

SHIM = "keychain_claims.backends.macos.shim"
NO_UI_STATUS, CANCELED_STATUS = 36, 128      # errSecInteractionNotAllowed, errSecUserCanceled (low byte)
NO_UI_TEXT = "security: SecKeychainItemCopyContent: User interaction is not allowed.\n"
CANCELED_TEXT = "security: SecKeychainItemCopyContent: User canceled the operation.\n"
CLOCK_COMPRESSION = 2.0       # seconds of real time that stand in for a longer wait on a real keychain
TEAM_SIGNINGS = ("developer-id", "app-store")


def item_of(argv: list[str]) -> tuple[str | None, str | None]:
    """(account, service) of an item command's argv."""
    account = service = None
    for flag, value in zip(argv, argv[1:]):
        if flag == "-a":
            account = value
        elif flag == "-s":
            service = value
    return account, service


class MacOSBackend(Backend):
    name = "macos"
    simulated = False
    priority = 10
    label = "real macOS security(1)"
    path = "/usr/bin/security"
    release_isolation = "loopback"     # no unshare on macOS: loopback stand-ins, proxy, sandbox-exec
    call_limit = 20.0
    guards_user_keychains = True       # snapshot and compare the user's search list and default keychain

    def unavailable(self) -> str | None:
        if sys.platform != "darwin":
            return f"--backend macos needs macOS; this host is {platform.system()} (use --backend sim or rehearsal)"
        if not os.access(self.path, os.X_OK):
            return f"{self.path} is missing or not executable; reinstall macOS command line tools or use --backend sim"
        return None

    def security_command(self) -> list[str]:
        return [self.path]

    def system_security(self) -> tuple[list[str], dict[str, str]]:
        """How the run-level safety snapshot calls `security` outside any sandbox."""
        return [self.path], {}

    # --- what stands behind the sandbox's `security` ---------------------------------------
    def real_security(self, sandbox: "Sandbox") -> str:
        return self.path

    def log_path(self, sandbox: "Sandbox") -> Path:
        return sandbox.root / "security-calls.jsonl"

    def dialog_log(self, sandbox: "Sandbox") -> Path:
        return sandbox.root / "dialogs.jsonl"

    def shim(self, sandbox: "Sandbox") -> str:
        """Every call pinned to the scratch keychain and logged (shim.py)."""
        return python_shim(SHIM, "--keychain", str(sandbox.keychain.path), "--real", self.real_security(sandbox),
                           "--log", str(self.log_path(sandbox)), "--watch", self.shim_watch(sandbox),
                           "--dialog-log", str(self.dialog_log(sandbox)), "--")

    def shim_watch(self, sandbox: "Sandbox") -> str:
        """How the shim sees a dialog of a call the harness does not drive (a release's)."""
        return "securityagent"

    def prepare_keychain(self, sandbox: "Sandbox") -> None:
        super().prepare_keychain(sandbox)
        from keychain_claims.backends.macos import safety
        shim_run = lambda argv: (lambda c: (c.status, c.stdout, c.stderr))(sandbox.security.run(*argv))  # noqa: E731
        try:
            safety.check_pinned(shim_run, str(sandbox.keychain.path))
        except safety.SafetyError as exc:
            raise BackendError(str(exc)) from None

    # --- the session and time ----------------------------------------------------------------
    def set_session(self, sandbox: "Sandbox", gui: bool) -> None:
        """The runner's own session is a GUI one where nobody answers; a scenario's non-GUI session
        is emulated: a dialog that appears is dismissed and the call reports exit 36 (the shim
        does the same for calls the harness does not drive, told by KEYCHAIN_CLAIMS_UI)."""
        sandbox.ui = "gui" if gui else "none"
        sandbox.setenv(KEYCHAIN_CLAIMS_UI=sandbox.ui)

    def advance_clock(self, sandbox: "Sandbox", seconds: float) -> None:
        """Real time passes up to 30 s.  A longer wait is compressed: what it would do to the
        keychain is what its own settings say (real `show-keychain-info`): a keychain whose timeout
        is shorter than the wait is locked, as the timeout would; then CLOCK_COMPRESSION seconds pass."""
        if seconds <= 30:
            time.sleep(seconds)          # on a real Mac, time passing is the thing under test
            return
        info = sandbox.security.run("show-keychain-info", str(sandbox.keychain.path), timeout=self.call_limit,
                                    watch=self.dialog_watch(sandbox))
        timeout = re.search(r"timeout=(\d+)s", info.stderr)
        if info.status != 0 or info.dialogs:
            skip_here(self, "the keychain's settings could not be read without a dialog, so the wait "
                            "cannot be compressed honestly")
        if timeout and int(timeout[1]) < seconds:
            sandbox.security.run("lock-keychain", str(sandbox.keychain.path), timeout=self.call_limit)
        time.sleep(CLOCK_COMPRESSION)
        sandbox.emulated.append(f"{seconds:.0f} s compressed to {CLOCK_COMPRESSION:.0f} s of real time; the keychain's "
                                f"own settings ({'timeout=' + timeout[1] + 's' if timeout else 'no-timeout'}) "
                                "decided whether it relocks")

    def restart(self, sandbox: "Sandbox") -> None:
        """What a reboot does to the scratch keychain: it is locked."""
        sandbox.security.run("lock-keychain", str(sandbox.keychain.path), timeout=self.call_limit)

    # --- dialogs --------------------------------------------------------------------------------
    def dialog_watch(self, sandbox: "Sandbox"):
        from keychain_claims.backends.macos.dialogs import SecurityAgentWatch
        return SecurityAgentWatch(sandbox, locked=lambda: self.keychain_locked(sandbox))

    def keychain_locked(self, sandbox: "Sandbox") -> bool:
        """Whether the scratch keychain is locked, asked without raising a dialog."""
        from keychain_claims.backends.macos import callers
        return callers.keychain_locked(sandbox)

    def _record(self, sandbox: "Sandbox", window: dict, outcome: str) -> None:
        if "emulated" in outcome:
            sandbox.emulated.append(f"a {window.get('kind', 'item')} dialog ({window.get('source', 'SecurityAgent')}): "
                                    f"{outcome}")
        with open(self.dialog_log(sandbox), "a") as fh:
            fh.write(json.dumps({**window, "outcome": outcome, "ui": sandbox.ui}) + "\n")

    def shell_dialog(self, sandbox: "Sandbox"):
        def answer(window: dict, responder: "Responder") -> str | None:
            if sandbox.ui != "gui":
                self._record(sandbox, window, "no-ui (emulated by dismissal)")
                return None
            choice = responder.choose(window.get("kind", "item"))
            if choice in ("Deny", "Cancel"):
                responder.emulated(window, choice)
                self._record(sandbox, window, f"{choice} (emulated by dismissal)")
                return None
            self._record(sandbox, window, "unanswered")
            return (f"the scenario answers {choice!r} to a {window.get('kind', 'item')} dialog raised by a typed "
                    "command line, which only a person could click")
        return answer

    def run(self, sandbox: "Sandbox", argv: list[str], responder: "Responder", stdin: str | None = None,
            caller=None, unlocked: bool = False) -> "Call":
        call = self._once(sandbox, argv, responder, stdin, caller)
        window = self._dialog_needed(sandbox, argv, call, caller)
        if window is not None and window.get("kind") == "unlock" and unlocked:
            from keychain_claims.harness.driver import UnansweredDialog
            raise UnansweredDialog("the keychain asked to be unlocked again right after it was unlocked")
        return call if window is None else self._answer(sandbox, argv, responder, stdin, caller, call, window)

    def _once(self, sandbox, argv, responder, stdin, caller) -> "Call":
        env = self.as_caller(sandbox, caller) if caller is not None else None
        return sandbox.security.run(*argv, responder=responder, stdin=stdin, env=env, timeout=self.call_limit,
                                    watch=self.dialog_watch(sandbox))

    def _dialog_needed(self, sandbox, argv, call, caller) -> dict | None:
        if call.dialogs:
            return call.dialogs[0]
        if caller is not None and call.status == NO_UI_STATUS:   # a test caller reads with interaction disabled
            _, service = item_of(argv)
            return {"kind": "unlock" if self.keychain_locked(sandbox) else "item", "app": caller.name,
                    "item": service or "", "keychain": sandbox.keychain.name, "text": "",
                    "source": "errSecInteractionNotAllowed"}
        return None

    def _answer(self, sandbox, argv, responder, stdin, caller, call: "Call", window: dict) -> "Call":
        from keychain_claims.harness.driver import UnansweredDialog
        kind = window.get("kind", "item")
        if sandbox.ui != "gui":
            self._record(sandbox, window, "no-ui (emulated)")
            return replace(call, status=NO_UI_STATUS, stdout="", stderr=NO_UI_TEXT,
                           context={**call.context, "emulated": "a session without window-server access: exit 36"})
        choice = responder.choose(kind)
        responder.emulated(window, choice)
        self._record(sandbox, window, f"{choice} (emulated)")
        if choice in ("Deny", "Cancel"):
            return replace(call, status=CANCELED_STATUS, stdout="", stderr=CANCELED_TEXT,
                           context={**call.context, "emulated": f"{choice}: the dialog was dismissed"})
        if kind == "unlock":
            unlocked = sandbox.security.run("unlock-keychain", str(sandbox.keychain.path),
                                            responder=sandbox.responder(), timeout=self.call_limit)
            if unlocked.status != 0:
                raise BackendError(f"emulating OK to the unlock dialog: unlock-keychain exited {unlocked.status}")
            return self.run(sandbox, argv, responder, stdin, caller, unlocked=True)   # now perhaps an item dialog
        account, service = item_of(argv)
        restore = self.grant(sandbox, caller, account, service, once=choice == "Allow")
        try:
            again = self._once(sandbox, argv, responder, stdin, caller)
        finally:
            if restore is not None:
                restore()
        if self._dialog_needed(sandbox, argv, again, caller):
            raise UnansweredDialog(f"the read asked again after {choice!r} was applied to the item's access")
        again.context["emulated"] = f"{choice}: applied to the item's access with the keychain password"
        return again

    # --- who reads, and what Always Allow does ------------------------------------------------
    def _team_rebuild(self, sandbox: "Sandbox", identity) -> bool:
        """A Developer ID / App Store app rebuilt by the same team: only an Apple-issued identity
        keeps its `teamid:` partition across builds; a throwaway one gets `cdhash:`."""
        seen = sandbox.state.setdefault("callers", {})
        key = (identity.path, identity.team)
        builds = seen.setdefault(key, set())
        builds.add(identity.build)
        return identity.signing in TEAM_SIGNINGS and len(builds) > 1 and not os.environ.get("KEYCHAIN_CLAIMS_TEAM_IDENTITY")

    def as_caller(self, sandbox: "Sandbox", identity) -> dict[str, str]:
        if self._team_rebuild(sandbox, identity):
            skip_here(self, f"{identity.signing} app {identity.name!r} rebuilt by the same team: a throwaway "
                            "signing identity gets a cdhash: partition where a real team gets teamid:; set "
                            "KEYCHAIN_CLAIMS_TEAM_IDENTITY to an Apple-issued identity to run it")
        from keychain_claims.backends.macos import callers
        return {"KEYCHAIN_CLAIMS_CALLER": str(callers.build(sandbox, identity))}

    def grant(self, sandbox: "Sandbox", identity, account: str | None, service: str | None, once: bool):
        """Always Allow's documented effect for `identity` (None: the security tool) on the item,
        applied with the keychain password; with `once`, returns a function that restores the
        access as it was (Allow), else None."""
        from keychain_claims.backends.macos import callers
        return callers.grant(sandbox, identity, account, service, once)

    # --- what the backend can tell about a sandbox ------------------------------------------------
    def _lines(self, path: Path) -> list[dict]:
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def call_log(self, sandbox: "Sandbox") -> list[list[str]] | None:
        return [entry["argv"] for entry in self._lines(self.log_path(sandbox))]

    def call_count(self, sandbox: "Sandbox") -> int:
        return len(self.call_log(sandbox))

    def prompt_events(self, sandbox: "Sandbox") -> list[dict] | None:
        return self._lines(self.dialog_log(sandbox))
