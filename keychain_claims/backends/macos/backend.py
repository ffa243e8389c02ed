"""The real macOS backend: /usr/bin/security behind a shim that pins every call to the scratch
keychain (shim.py), with the safety checks of safety.py.

Its home is a hosted macOS runner: a GUI session in which nobody answers dialogs.  So, by default,
no dialog is ever drawn (issue 21), and a sandbox owns one security session (issue 28):

* Every `security` call, test caller, status probe and grant of a sandbox runs in one security
  session of its own without window-server access, opened when the sandbox is (session.py: a
  broker in a session launchd's SessionCreate made -- no root -- or, where sudo -n works, the
  helper's `nogui`).  securityd keeps a keychain's unlock per (session, keychain), so the scratch
  keychain stays unlocked there as a person's would.  There securityd answers "consent needed" at
  once with errSecInteractionNotAllowed (exit 36) instead of asking SecurityAgent -- what a read
  over SSH gets.
* In a scenario whose session has no GUI, that 36 *is* the answer: real evidence.
* In a scenario with a GUI, the 36 stands for the dialog the user would have seen; the scenario's
  answer is then applied with its documented effect (security-cli.md section 3), labelled
  *emulated*: "Always Allow" puts the reader in the item's ACL and its partition ID in the
  partition list, applied with the keychain password; "Allow" does that for one read and restores
  the access; "Deny" and "Cancel" give the item dialog's cancel (exit 128); "OK" to an unlock
  dialog unlocks the keychain with its password.  The call is then run again, for real.
* A read or write by another app is made by a test caller (callers.py) built and signed on the
  Mac, which reads with user interaction disabled as well.
* Every call has one deadline (call_limit), every retry included; a call past it is a harness
  error, never a verdict.
* The scratch keychain's file is never named like a login keychain (scratch_keychain_file); the
  shim maps the article's typed ~/Library/Keychains/login.keychain-db to it.

`--real-dialogs` (a person at the Mac): calls run in the runner's own session, SecurityAgent draws
its dialogs, the person answers them; the harness only records that one appeared and never kills
SecurityAgent (dialogs.py says why).
"""
from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
import weakref
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from keychain_claims import atomic
from keychain_claims.backends.base import (Backend, Box, Launcher, OwnSession, Session, UserKeychainGuard,
                                           python_shim, skip_here)
from keychain_claims.errors import BackendError, UnansweredDialog

if TYPE_CHECKING:  # pragma: no cover
    from keychain_claims.backends.macos.dialogs import ConsentWatch
    from keychain_claims.security.prompts import Responder

SHIM = "keychain_claims.backends.macos.shim"
NO_UI_STATUS, CANCELED_STATUS = 36, 128      # errSecInteractionNotAllowed, errSecUserCanceled (low byte)
AUTH_FAILED_STATUS = 51       # errSecAuthFailed: what a read with interaction disabled may get instead of 36
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
    scratch_keychain_file = "keychain-claims-scratch.keychain-db"    # never "login.keychain" (KeychainDbCommon)
    keeps_call_log = True              # the shim logs every call
    records_prompts = True             # every consent-needed answer and dialog, in dialogs.jsonl
    builds_test_callers = True         # compiled and signed with the Mac's own tools (callers.py)

    def __init__(self, real_dialogs: bool = False):
        self.real_dialogs = real_dialogs          # --real-dialogs
        self._sessions: weakref.WeakSet = weakref.WeakSet()      # whose harness events are drained

    @property
    def user_keychain_guard(self) -> UserKeychainGuard:           # type: ignore[override]
        """The real `security` reaches the user's search list and default keychain: snapshot and compare them."""
        return UserKeychainGuard(self.system_security)

    @property
    def dialog_text_visible(self) -> bool:                        # type: ignore[override]
        """Only with --real-dialogs is there a window whose words a step could read."""
        return self.real_dialogs

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

    def open_session(self, sandbox: Box) -> "MacOSSession":
        session = MacOSSession(self, sandbox)
        self._sessions.add(session)
        return session

    def harness_events(self) -> list[str]:
        """What the shim and the stand-ins recorded as not exercisable since the last call of this
        method, in every sandbox of this process (drained)."""
        events = []
        for session in list(self._sessions):
            path = session.sandbox.root / "harness-events.jsonl"
            events += [record["event"] for record in atomic.read_jsonl(path)]
            path.unlink(missing_ok=True)
        return events


class MacOSSession(Session):
    """A sandbox on a Mac: its security session (session.py's broker), its shim, the dialogs its
    calls stand for, and the test callers it built."""
    backend: MacOSBackend

    def __init__(self, backend: MacOSBackend, sandbox: Box):
        super().__init__(backend, sandbox)
        self.consent_watch: ConsentWatch | None = None           # typed command lines' consent records
        self.caller_builds: dict[tuple[str, str | None], set[str]] = {}   # (path, team) -> builds seen
        self.signing_password: str | None = None                 # the throwaway signing keychain's (callers.py)

    # --- the tools behind test callers and the session ------------------------------------------
    def tool(self, name: str) -> str:
        """The program behind a tool name (cc, codesign, openssl, security, launchctl, sudo): the
        Mac's own (stand-ins in the rehearsal)."""
        return {"security": self.backend.path}.get(name, name)

    def tool_env(self) -> dict[str, str]:
        """The environment the tools run with, on top of the harness's own."""
        return {}

    # --- what stands behind the sandbox's `security` ---------------------------------------
    def real_security(self) -> str:
        return self.backend.path

    @property
    def log_path(self) -> Path:
        return self.sandbox.root / "security-calls.jsonl"

    @property
    def dialog_log(self) -> Path:
        return self.sandbox.root / "dialogs.jsonl"

    @property
    def folder(self) -> Path:
        """The security session's broker folder."""
        return self.sandbox.root / "session"

    def open_launcher(self) -> Launcher:
        """The sandbox's own security session (session.py), or with --real-dialogs the runner's own
        (a person answers the dialogs there).  The helper is built first, outside it (ad hoc: no
        keychain); a host where no session can be made is refused in one line."""
        if self.backend.real_dialogs:
            return OwnSession()
        from keychain_claims.backends.macos import callers, session
        helper = callers.helper(self)
        try:
            opened = session.open_session(self.folder, helper, self.tool, self._tool_run_env())
        except session.SessionError as exc:
            raise BackendError(str(exc)) from None
        try:
            self.sandbox.track_pid(json.loads((opened.folder / session.READY).read_text())["pid"])
        except (OSError, ValueError, KeyError):
            pass
        return opened

    def _tool_run_env(self) -> dict[str, str]:
        return {**os.environ, "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", **self.tool_env()}

    def shim(self) -> str:
        """Every call pinned to the scratch keychain, logged, and (without --real-dialogs) run in
        the sandbox's session (shim.py)."""
        from keychain_claims.backends.macos import dialogs
        box = self.sandbox
        session = [] if self.backend.real_dialogs else ["--session", str(self.folder)]
        return python_shim(SHIM, "--keychain", str(box.keychain.path), "--real", self.real_security(),
                           "--log", str(self.log_path), *session,
                           "--consent", str(dialogs.consent_folder(box.root)),
                           "--dialog-log", str(self.dialog_log), "--")

    def env(self) -> dict[str, str]:
        from keychain_claims.backends.macos.shim import LIMIT_ENV
        return {LIMIT_ENV: str(self.backend.call_limit)}

    def prepare_keychain(self) -> None:
        box = self.sandbox
        (box.root / "ui").write_text(box.ui)
        super().prepare_keychain()
        from keychain_claims.backends.macos import safety
        shim_run = lambda argv: (lambda c: (c.status, c.stdout, c.stderr))(box.security.run(*argv))  # noqa: E731
        try:
            safety.check_pinned(shim_run, str(box.keychain.path))
        except safety.SafetyError as exc:
            raise BackendError(str(exc)) from None

    # --- the session and time ----------------------------------------------------------------
    def set_gui(self, gui: bool) -> None:
        """Every call already runs in the sandbox's session without window-server access (unless
        --real-dialogs); the scenario's session only decides what a consent-needed 36 means: the
        real answer (no GUI), or a dialog whose answer is emulated (GUI).  The shim is told by
        KEYCHAIN_CLAIMS_UI."""
        super().set_gui(gui)
        box = self.sandbox
        box.setenv(KEYCHAIN_CLAIMS_UI=box.ui)
        (box.root / "ui").write_text(box.ui)          # what the shim reads, also in a running shell

    def advance_clock(self, seconds: float) -> None:
        """Real time passes up to 30 s.  A longer wait is compressed: what it would do to the
        keychain is what its own settings say (real `show-keychain-info`): a keychain whose timeout
        is shorter than the wait is locked, as the timeout would; then CLOCK_COMPRESSION seconds pass."""
        if seconds <= 30:
            time.sleep(seconds)          # on a real Mac, time passing is the thing under test
            return
        box, limit = self.sandbox, self.backend.call_limit
        info = box.security.run("show-keychain-info", str(box.keychain.path), timeout=limit)
        timeout = re.search(r"timeout=(\d+)s", info.stderr)
        if info.status != 0:
            skip_here(self.backend, "the keychain's settings could not be read without a dialog, so the wait "
                                    "cannot be compressed honestly")
        if timeout and int(timeout[1]) < seconds:
            box.security.run("lock-keychain", str(box.keychain.path), timeout=limit)
        time.sleep(CLOCK_COMPRESSION)
        box.emulated.append(f"{seconds:.0f} s compressed to {CLOCK_COMPRESSION:.0f} s of real time; the keychain's "
                            f"own settings ({'timeout=' + timeout[1] + 's' if timeout else 'no-timeout'}) "
                            "decided whether it relocks")

    def restart(self) -> None:
        """What a reboot does to the scratch keychain: it is locked."""
        self.sandbox.security.run("lock-keychain", str(self.sandbox.keychain.path), timeout=self.backend.call_limit)

    # --- dialogs --------------------------------------------------------------------------------
    def dialog_watch(self):
        from keychain_claims.backends.macos import dialogs
        if self.backend.real_dialogs:
            return dialogs.SecurityAgentWatch(self.sandbox, self.keychain_locked)
        if self.consent_watch is None:
            self.consent_watch = dialogs.ConsentWatch(self.sandbox, self.keychain_locked)
        return self.consent_watch

    def keychain_locked(self) -> bool:
        """Whether the scratch keychain is locked, asked without raising a dialog."""
        from keychain_claims.backends.macos import callers
        return callers.keychain_locked(self)

    def _record(self, window: dict, outcome: str) -> None:
        box = self.sandbox
        if "emulated" in outcome:
            box.emulated.append(f"a {window.get('kind', 'item')} dialog ({window.get('source', 'SecurityAgent')}): "
                                f"{outcome}")
        with open(self.dialog_log, "a") as fh:
            fh.write(json.dumps({**window, "outcome": outcome, "ui": box.ui}) + "\n")

    def shell_dialog(self):
        def answer(window: dict, responder: "Responder") -> str | None:
            if self.backend.real_dialogs:
                self._record(window, "answered on screen by a person (real)")
                return None
            choice = responder.choose(window.get("kind", "item"))
            if choice in ("Deny", "Cancel"):
                responder.emulated(window, choice)
                self._record(window, f"{choice} (emulated: the dialog's cancel, exit 128)")
                return None
            self._record(window, "unanswered")
            return (f"the scenario answers {choice!r} to a {window.get('kind', 'item')} dialog raised by a typed "
                    "command line, which only a person could click")
        return answer

    def run(self, argv: list[str], responder: "Responder", stdin: str | None = None, caller=None,
            unlocked: bool = False):
        call = self._once(argv, responder, stdin, caller)
        window = self._dialog_needed(argv, call, caller)
        if window is None:
            return call
        if self.sandbox.ui != "gui":         # no GUI: the 36 is the real answer; the prompt is still counted
            self._record(window, "no-ui (real: exit 36, no window-server access)")
            return call
        if window.get("kind") == "unlock" and unlocked:
            raise UnansweredDialog("the keychain asked to be unlocked again right after it was unlocked")
        return self._answer(argv, responder, stdin, caller, call, window)

    def _once(self, argv, responder, stdin, caller):
        env = self.as_caller(caller) if caller is not None else None
        watch = self.dialog_watch() if self.backend.real_dialogs else None
        return self.sandbox.security.run(*argv, responder=responder, stdin=stdin, env=env,
                                         timeout=self.backend.call_limit, watch=watch)

    def _dialog_needed(self, argv, call, caller) -> dict | None:
        """The dialog a call stands for: none with --real-dialogs (a person answered it on screen);
        else a consent-needed answer -- exit 36, or from a test caller's read with interaction
        disabled also errSecAuthFailed (51), which is what the review of issue 21 expects a Mac to
        return there (no password is involved in such a read, so 51 cannot mean a wrong one)."""
        if self.backend.real_dialogs:
            for window in call.dialogs:
                self._record(window, "answered on screen by a person (real)")
            return None
        consent = call.status == NO_UI_STATUS or (caller is not None and call.status == AUTH_FAILED_STATUS
                                                   and argv and argv[0].startswith("find-"))
        if not consent:
            return None
        _, service = item_of(argv)
        return {"kind": "unlock" if self.keychain_locked() else "item",
                "app": caller.name if caller is not None else "security", "item": service or "",
                "keychain": self.sandbox.keychain.name, "text": "",
                "source": f"exit {call.status} in a session without window-server access"}

    def _answer(self, argv, responder, stdin, caller, call, window: dict):
        box = self.sandbox
        kind = window.get("kind", "item")
        choice = responder.choose(kind)
        responder.emulated(window, choice)
        self._record(window, f"{choice} (emulated)")
        if choice in ("Deny", "Cancel"):
            return replace(call, status=CANCELED_STATUS, stdout="", stderr=CANCELED_TEXT,
                           context={**call.context, "emulated": f"{choice}: the dialog's cancel"})
        if kind == "unlock":
            unlocked = box.security.run("unlock-keychain", str(box.keychain.path),
                                        responder=box.responder(), timeout=self.backend.call_limit)
            if unlocked.status != 0:
                raise BackendError(f"emulating OK to the unlock dialog: unlock-keychain exited {unlocked.status}")
            return self.run(argv, responder, stdin, caller, unlocked=True)   # now perhaps an item dialog
        account, service = item_of(argv)
        restore = self.grant(caller, account, service, once=choice == "Allow")
        try:
            again = self._once(argv, responder, stdin, caller)
        finally:
            if restore is not None:
                restore()
        if self._dialog_needed(argv, again, caller):
            raise UnansweredDialog(f"the read asked again after {choice!r} was applied to the item's access")
        again.context["emulated"] = f"{choice}: applied to the item's access with the keychain password"
        return again

    # --- who reads, and what Always Allow does ------------------------------------------------
    def _team_rebuild(self, identity) -> bool:
        """A Developer ID / App Store app rebuilt by the same team: only an Apple-issued identity
        keeps its `teamid:` partition across builds; a throwaway one gets `cdhash:`."""
        builds = self.caller_builds.setdefault((identity.path, identity.team), set())
        builds.add(identity.build)
        return identity.signing in TEAM_SIGNINGS and len(builds) > 1 and not os.environ.get("KEYCHAIN_CLAIMS_TEAM_IDENTITY")

    def as_caller(self, identity) -> dict[str, str]:
        if self._team_rebuild(identity):
            skip_here(self.backend, f"{identity.signing} app {identity.name!r} rebuilt by the same team: a throwaway "
                                    "signing identity gets a cdhash: partition where a real team gets teamid:; set "
                                    "KEYCHAIN_CLAIMS_TEAM_IDENTITY to an Apple-issued identity to run it")
        from keychain_claims.backends.macos import callers
        return {"KEYCHAIN_CLAIMS_CALLER": str(callers.build(self, identity))}

    def grant(self, identity, account: str | None, service: str | None, once: bool):
        """Always Allow's documented effect for `identity` (None: the security tool) on the item,
        applied with the keychain password; with `once`, returns a function that restores the
        access as it was (Allow), else None."""
        from keychain_claims.backends.macos import callers
        return callers.grant(self, identity, account, service, once)

    # --- what the backend can tell about a sandbox ------------------------------------------------
    def call_log(self) -> list[list[str]] | None:
        return [entry["argv"] for entry in atomic.read_jsonl(self.log_path)]

    def prompt_events(self) -> list[dict] | None:
        return atomic.read_jsonl(self.dialog_log)
