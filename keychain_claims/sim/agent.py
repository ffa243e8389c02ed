"""SecurityAgent, drawn on the controlling terminal, and security's own getpass prompts.

The session's kind -- KEYCHAIN_SIM_UI, else the file `session` in the state directory (so
a running shell sees a change), else `none`: `none` is a session without graphic access
(every agent query fails with errSecInteractionNotAllowed, exit 36, nothing shown); `gui`
draws dialogs on /dev/tty with the words of the dialog corpus (keychain_claims/security/dialogs.json, for the
modelled macOS version) and the buttons of keychain_claims/security/prompts.py for pexpect to answer;
`gui-unattended` is a hosted runner's session: a dialog opens a window nobody answers (a record
`windows/<pid>.json` in the state directory) and the caller waits until the window is dismissed
(SIGTERM: control.dismiss), which reads as a cancelled dialog.

KEYCHAIN_SIM_INTERACTION=0 is a process that called SecKeychainSetUserInteractionAllowed(false):
any dialog it would need fails at once with errSecInteractionNotAllowed, whatever the session.
"""
from __future__ import annotations

import os
import termios

from keychain_claims import atomic
from keychain_claims.security import errors
from keychain_claims.sim import store, unverified


def ui() -> str:
    """The login session's kind: KEYCHAIN_SIM_UI, else the state's `session` file, else none."""
    mode = os.environ.get("KEYCHAIN_SIM_UI")
    if mode is None:
        try:
            with open(os.path.join(store.state_dir(), "session")) as fh:
                mode = fh.read().strip()
        except OSError:
            mode = "none"
    return mode


def gui() -> bool:
    """A session that can show a dialog (answered or not)."""
    return ui() in ("gui", UNATTENDED)


UNATTENDED = "gui-unattended"


def interaction_allowed() -> bool:
    """False for a process that turned user interaction off (KEYCHAIN_SIM_INTERACTION=0)."""
    return os.environ.get("KEYCHAIN_SIM_INTERACTION", "1") != "0"


class Tty:
    def __init__(self):
        try:
            self.fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            raise errors.SecError(errors.INTERACTION_NOT_ALLOWED) from None

    def write(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def readline(self, echo: bool = True, prompt: str = "") -> str | None:
        """Print `prompt` and read a line; with echo off, echo goes off *before* the prompt
        shows, as readpassphrase(3) does, so an answer typed at once is never echoed."""
        old = termios.tcgetattr(self.fd)
        if not echo:
            new = list(old)
            new[3] &= ~termios.ECHO
            termios.tcsetattr(self.fd, termios.TCSANOW, new)
        if prompt:
            self.write(prompt)
        try:
            chunks = b""
            while not chunks.endswith(b"\n"):
                ch = os.read(self.fd, 1)
                if not ch:
                    return None if not chunks else chunks.decode(errors="replace")
                chunks += ch
            return chunks.decode(errors="replace").rstrip("\r\n")
        finally:
            if not echo:
                termios.tcsetattr(self.fd, termios.TCSANOW, old)
                self.write("\n")

    def close(self) -> None:
        os.close(self.fd)


def getpass(prompt: str) -> str:
    """security's getpass: prompt on /dev/tty, no echo; EOF reads as empty."""
    tty = Tty()
    try:
        return tty.readline(echo=False, prompt=prompt) or ""
    finally:
        tty.close()


def getpass_visible(prompt: str) -> str:
    """`keychain to create: ` -- read from stdin, as security does."""
    import sys
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().strip()


def _event(kind: str, app: str, item: str, keychain: str, answer: str, **extra) -> None:
    store.log({"event": "prompt", "kind": kind, "app": app, "item": item, "keychain": keychain,
               "answer": answer, "ui": ui(), **extra, "t": store.now()})


def _refuse_without_ui(kind: str, app: str, item: str, keychain: str) -> None:
    """No dialog can be shown: the process turned interaction off, or the session has no GUI."""
    if not interaction_allowed():
        _event(kind, app, item, keychain, "interaction-not-allowed", outcome="interaction-not-allowed")
        raise errors.SecError(errors.INTERACTION_NOT_ALLOWED)
    if not gui():
        _event(kind, app, item, keychain, "no-ui")
        raise errors.SecError(errors.INTERACTION_NOT_ALLOWED)


class _Dismissed(Exception):
    pass


def _dismissed(signum, frame):
    raise _Dismissed


def _window(kind: str, app: str, item: str, keychain: str, text: str) -> None:
    """A dialog on a screen nobody watches: record the window, wait until SIGTERM dismisses it,
    then fail as the cancelled dialog does (errSecUserCanceled)."""
    import json
    import signal
    folder = os.path.join(store.state_dir(), "windows")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{os.getpid()}.json")
    previous = signal.signal(signal.SIGTERM, _dismissed)      # before the window exists: no unhandled kill
    try:
        # one prompt event per dialog, logged before the window exists (so no dismissal can precede it)
        _event("item-access" if kind == "item" else "unlock", app, item, keychain, "unanswered", outcome="unanswered")
        record = {"pid": os.getpid(), "kind": kind, "app": app, "item": item, "keychain": keychain, "text": text}
        atomic.write_text(path, json.dumps(record), durable=False)
        while True:
            signal.pause()
    except _Dismissed:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for leftover in (path, path + ".tmp"):
            try:
                os.unlink(leftover)
            except OSError:
                pass
    raise errors.SecError(errors.USER_CANCELED)


def _choose(tty: Tty, choices: tuple[str, ...], prompt: str, on_eof: str) -> str:
    """Ask until one of the buttons is named; EOF presses `on_eof`."""
    while True:
        answer = tty.readline(prompt=prompt)
        if answer is None:
            return on_eof
        answer = answer.strip()
        if answer in choices:
            return answer


def _password(tty: Tty, check) -> bool:
    from keychain_claims.security import prompts
    for _ in range(prompts.DIALOG_TRIES):
        if check(tty.readline(echo=False, prompt=prompts.DIALOG_PASSWORD) or ""):
            return True
        tty.write(prompts.DIALOG_WRONG_PASSWORD)
    return False


def dialog_text(check: str, app: str, item: str, keychain: str) -> str:
    """The sentence SecurityAgent draws, on the modelled macOS version, for `check`: "acl" (a read by a caller the
    item's trusted-application list does not trust: securityd asks about CSSM_ACL_AUTHORIZATION_DECRYPT),
    "partition" (trusted, but its partition ID is not in the item's partition list: extendPartition asks about
    CSSM_ACL_AUTHORIZATION_PARTITION_ID) or "locked" (the unlock dialog) [SRC acls.cpp, agentquery.cpp].  The
    words are the dialog corpus's (security/dialogs.json), fitted on public reports: SecurityAgent is not open
    source."""
    from keychain_claims.security import dialogs
    return dialogs.text(check, unverified.macos(), app=app, item=item, keychain=keychain) + "\n"


def item_access(app: str, item: str, keychain: str, check, refused_by: str = "acl") -> str:
    """The access dialog.  Returns "Always Allow" or "Allow"; raises SecError otherwise.
    `refused_by` ("acl" or "partition") is the check that failed: it decides the sentence."""
    _refuse_without_ui("item-access", app, item, keychain)
    from keychain_claims.security import prompts
    text = dialog_text(refused_by, app, item, keychain)
    if ui() == UNATTENDED:
        _window("item", app, item, keychain, text)
    tty = Tty()
    try:
        tty.write(text)
        choice = _choose(tty, prompts.ITEM_CHOICES, prompts.ITEM_CHOICE_PROMPT, unverified.ITEM_DIALOG_EOF_CHOICE)
        if choice != "Deny" and not _password(tty, check):
            choice = "gave-up"
    finally:
        tty.close()
    _event("item-access", app, item, keychain, choice)
    if choice == "Deny":
        raise errors.SecError(unverified.DENY_STATUS)
    if choice == "gave-up":
        raise errors.SecError(unverified.DIALOG_GAVE_UP_STATUS)
    return choice


def unlock(app: str, keychain: str, check) -> None:
    """The unlock dialog for a locked keychain; returns once the password was right."""
    _refuse_without_ui("unlock", app, "", keychain)
    from keychain_claims.security import prompts
    text = dialog_text("locked", app, "", keychain)
    if ui() == UNATTENDED:
        _window("unlock", app, "", keychain, text)
    tty = Tty()
    try:
        tty.write(text)
        choice = _choose(tty, prompts.UNLOCK_CHOICES, prompts.UNLOCK_CHOICE_PROMPT, unverified.UNLOCK_DIALOG_EOF_CHOICE)
        if choice == "OK" and not _password(tty, check):
            choice = "gave-up"
    finally:
        tty.close()
    _event("unlock", app, "", keychain, choice)
    if choice == "Cancel":
        raise errors.SecError(errors.USER_CANCELED)
    if choice == "gave-up":
        raise errors.SecError(unverified.UNLOCK_GAVE_UP_STATUS)
