"""Probes: exit codes and sessions without a window server, and which operations check an item's
access list or need the keychain unlocked."""
from __future__ import annotations

import time

from keychain_claims.measures.assumptions.probe import Held, Host, Unsettled, assumption, status
from keychain_claims.security.callers import app


# ----------------------------------------------------------------------------- exit codes, sessions
@assumption("SESSION-NO-UI", "a call in a security session without window-server access that needs consent "
            "fails at once (exit 36) instead of drawing a SecurityAgent dialog",
            "Security/AuthSession.h SessionCreate; securityd/src/session.h (sessionHasGraphicAccess); "
            "launchd.plist(5) SessionCreate", "backends/macos: the whole no-dialog design")
def _session_no_ui(host: Host):
    host.item(trusted=())
    started = time.monotonic()
    call = host.security("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain)
    took = time.monotonic() - started
    return Held(call.status == 36 and took < 5, f"{status(call)} after {took:.1f} s")


@assumption("EXIT-LOCKED-NO-UI", "a read of a locked keychain without window-server access fails with 36 "
            "(the unlock dialog's stand-in)", "security-cli.md §2/§5 [UNV]", "backend: unlock consent")
def _locked_no_ui(host: Host):
    host.item(trusted=None)
    host.security("lock-keychain", host.keychain)
    call = host.security("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain)
    return Held(call.status == 36, status(call))


@assumption("CALLER-NO-INTERACTION", "a program that called SecKeychainSetUserInteractionAllowed(false) gets "
            "errSecInteractionNotAllowed (36) for a read that needs consent (issue 21's review expects 51, "
            "errSecAuthFailed; the backend takes either)", "SecKeychain.h SecKeychainSetUserInteractionAllowed",
            "backends/macos/backend.py _dialog_needed; sim KEYCHAIN_SIM_INTERACTION")
def _caller_no_interaction(host: Host):
    if not host.mac_tools:
        return Unsettled("no test caller on this backend (the simulator models it with KEYCHAIN_SIM_INTERACTION)")
    host.item(trusted=())
    call = host.security("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain,
                         caller=app("Probe", "adhoc"))
    return Held(call.status == 36, status(call))


@assumption("DENY-STATUS", "Deny in an item dialog makes `find-generic-password -w` exit 128",
            "security-cli.md §2 [UNV; jaraco/keyring treats -128 as denied]", "sim/unverified.py DENY_STATUS")
def _denystatus(host: Host):
    if not host.backend.dialog_text_visible:
        return Unsettled("needs a dialog someone answers: --real-dialogs on a Mac")
    host.item(trusted=())
    host.sandbox.session.set_gui(gui=True)
    call = host.sandbox.security.run("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain,
                                     responder=host.sandbox.responder(default_choice="Deny"),
                                     timeout=host.backend.call_limit)
    return Held(call.status == 128, status(call))


@assumption("DIALOG-WORDING", "a read by a caller the item's access list does not trust draws “APP wants to use "
            "your confidential information stored in “ITEM” in your keychain.” and “To allow this, enter the "
            "“KEYCHAIN” keychain password.”",
            "security/dialogs.json: 7 reports from 2024 on (nicobailon/pi-web-access#9, steipete/CodexBar#1056, "
            "#924, #679, mfat/sshpilot#1070, Lcharvol/Claude-God#30, intiface/intiface-central#181); 4 paraphrases (3 leave words out; vinzdg/codenotch#98, in passing, says “access” for “use your”)",
            "security/dialogs.json wording (acl); sim/agent.py dialog_text")
def _dialog_wording(host: Host):
    from keychain_claims.measures.assumptions.formats import dialog_says
    if not host.backend.dialog_text_visible:
        return Unsettled("needs a dialog whose words can be read: --real-dialogs on a Mac")
    host.item(trusted=())
    host.sandbox.session.set_gui(gui=True)
    responder = host.sandbox.responder(default_choice="Deny")
    host.sandbox.security.run("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain,
                              responder=responder, timeout=host.backend.call_limit)
    return dialog_says(responder, "acl", "kc-probe")


# ----------------------------------------------------------------------------- which operations check what
@assumption("UPDATE-NO-ACL-CHECK", "`add-generic-password -U` by security on an item that trusts no app "
            "needs no consent", "security-cli.md §3 [UNV]", "sim/unverified.py UPDATE_CHECKS_ACL")
def _update_checks_acl(host: Host):
    host.item(trusted=())
    call = host.security("add-generic-password", "-U", "-a", "probe", "-s", "kc-probe", "-w", "KCCANARY-2",
                         host.keychain)
    return Held(call.status == 0, status(call))


@assumption("DELETE-NO-ACL-CHECK", "`delete-generic-password` of an item that trusts no app needs no consent",
            "security-cli.md §2 (not described)", "sim/unverified.py DELETE_CHECKS_ACL")
def _delete_checks_acl(host: Host):
    host.item(trusted=())
    call = host.security("delete-generic-password", "-a", "probe", "-s", "kc-probe", host.keychain)
    return Held(call.status == 0, status(call))


@assumption("DELETE-NEEDS-UNLOCK", "deleting from a locked keychain without a GUI fails with 36",
            "security-cli.md §2 [INF]", "sim/unverified.py DELETE_NEEDS_UNLOCK")
def _delete_needs_unlock(host: Host):
    host.item(trusted=None)
    host.security("lock-keychain", host.keychain)
    call = host.security("delete-generic-password", "-a", "probe", "-s", "kc-probe", host.keychain)
    return Held(call.status == 36, status(call))


@assumption("METADATA-NO-UNLOCK", "`find-generic-password` without -g/-w reads a locked keychain's attributes "
            "without an unlock", "security-cli.md §2 [INF]", "sim/unverified.py METADATA_NEEDS_UNLOCK")
def _metadata(host: Host):
    host.item(trusted=None)
    host.security("lock-keychain", host.keychain)
    call = host.security("find-generic-password", "-a", "probe", "-s", "kc-probe", host.keychain)
    return Held(call.status == 0 and "kc-probe" in call.stdout, status(call))


@assumption("ACL-DUMP-NEEDS-UNLOCK", "`dump-keychain -a` of a locked keychain without a GUI fails",
            "security-cli.md §5 [INF]", "sim/unverified.py ACL_DUMP_NEEDS_UNLOCK")
def _dump_needs_unlock(host: Host):
    host.item(trusted=None)
    host.security("lock-keychain", host.keychain)
    call = host.security("dump-keychain", "-a", host.keychain)
    return Held(call.status != 0, status(call))
