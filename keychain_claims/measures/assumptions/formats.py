"""Probes: what `security` prints (access-list dumps, partition IDs, error texts, getopt) and the
field's states of issue 22 (partition dialogs, search order, usage text by macOS version)."""
from __future__ import annotations

import platform
import re
import sys

from keychain_claims.measures.assumptions.probe import Held, Host, Unsettled, assumption, status
from keychain_claims.sim import unverified
from keychain_claims.security import dialogs


# ----------------------------------------------------------------------------- formats, partition IDs
def _entries(dump: str) -> list[str]:
    return re.findall(r"authorizations \(\d+\): (\w+)", dump)


@assumption("ACL-ENTRY-ORDER", "dump-keychain -a lists an item's entries encrypt, decrypt, integrity, "
            "partition_id, change_acl", "objectacl.h EntryMap; ACL.h ownerHandle [UNV encrypt/decrypt]",
            "sim/unverified.py ACL_ENTRY_ORDER")
def _acl_order(host: Host):
    host.item(trusted=None)
    call = host.security("dump-keychain", "-a", host.keychain)
    order = _entries(call.stdout)
    return Held(order == ["encrypt", "decrypt", "integrity", "partition_id", "change_acl"], " ".join(order) or
                status(call))


@assumption("INTEGRITY-ENTRY", "a version-512 item carries an integrity entry with a 64-hex-digit description",
            "security-cli.md §3 [display INF]", "sim/unverified.py INTEGRITY_ENTRY")
def _integrity(host: Host):
    host.item(trusted=None)
    call = host.security("dump-keychain", "-a", host.keychain)
    found = re.search(r"authorizations \(1\): integrity\n(?:.*\n)*?\s+description: ([0-9A-F]{64})\n", call.stdout)
    return Held(bool(found), found[1][:16] + "…" if found else status(call))


# the partition_id entry's own description line (its value may hold ", ")
PARTITION_ENTRY = r"authorizations \(1\): partition_id\n(?:[ \t]+don't-require-password\n)?[ \t]+description: (.+)\n"


@assumption("PARTITION-SECURITY", "an item `security` adds has the partition list apple-tool:",
            "security-cli.md §3", "sim acl.partition_id; backends/macos/callers.py partition_id")
def _partition(host: Host):
    host.item(trusted=None)
    call = host.security("dump-keychain", "-a", host.keychain)
    found = re.search(PARTITION_ENTRY, call.stdout)
    return Held(found is not None and found[1] == "apple-tool:", found[1] if found else status(call))


@assumption("SYSTEM-KEYCHAIN", "`list-keychains` (no -d) ends with /Library/Keychains/System.keychain",
            "security-cli.md §2 [INF]", "sim/unverified.py SYSTEM_KEYCHAIN")
def _system(host: Host):
    call = host.security("list-keychains")
    return Held(call.status == 0 and "/Library/Keychains/System.keychain" in call.stdout, status(call) if
                call.status else call.stdout.strip().splitlines()[-1:] and call.stdout.strip().splitlines()[-1])


@assumption("ERROR-TEXT-UNKNOWN", "`security error 12345` prints `OSStatus 12345` for a code without text",
            "SecCopyErrorMessageString fallback (not in the source tree)", "sim/unverified.py ERROR_TEXT_UNKNOWN")
def _error_text(host: Host):
    call = host.security("error", "12345")
    return Held("OSStatus 12345" in call.stdout + call.stderr, (call.stdout + call.stderr).strip()[:120])


@assumption("GETOPT-PROGRAM-NAME", "a bad option to a subcommand is reported as `<subcommand>: illegal option`",
            "Libc getopt.c PROGNAME", "sim/unverified.py PROGRAM_NAME")
def _program_name(host: Host):
    call = host.security("find-generic-password", "-Z")
    first = (call.stderr.strip().splitlines() or [""])[0]
    return Held(first.endswith("illegal option -- Z") and first.startswith("find-generic-password"), first)


@assumption("INET-ATTRIBUTES", "find-internet-password shows \"atyp\" as a blob and \"port\"/\"ptcl\" as uint32",
            "securityd KeychainCore schema (not in this tree)", "sim/unverified.py INET_ATTRIBUTE_TYPES")
def _inet(host: Host):
    add = host.security("add-internet-password", "-a", "probe", "-s", "kc-probe.example", "-w", "KCCANARY-3",
                        "-P", "443", "-r", "htps", host.keychain)
    if add.status != 0:
        return Held(False, status(add))
    call = host.security("find-internet-password", "-a", "probe", "-s", "kc-probe.example", host.keychain)
    ok = all(s in call.stdout for s in ('"atyp"<blob>', '"port"<uint32>', '"ptcl"<uint32>'))
    return Held(ok, " ".join(re.findall(r'"(?:atyp|port|ptcl)"<\w+>', call.stdout)) or status(call))


@assumption("DELETE-KEYCHAIN-NO-ARGS", "`security delete-keychain` with no keychain exits 49",
            "keychain_delete.c [INF]", "sim/unverified.py DELETE_KEYCHAIN_NO_ARGS_STATUS")
def _delete_keychain(host: Host):
    if host.mac_tools:
        return Unsettled("refused for safety: on a Mac it would name the default keychain; the shim refuses "
                         "delete-keychain without the scratch keychain")
    call = host.security("delete-keychain")
    return Held(call.status == 49, status(call))


# ----------------------------------------------------------------------------- the field's states (issue 22)
def _partition_list(host: Host, ids: str) -> None:
    call = host.security("set-generic-password-partition-list", "-S", ids, "-a", "probe", "-s", "kc-probe",
                         host.keychain)
    if call.status != 0:
        raise RuntimeError(f"could not set the partition list: {status(call)}")


def _read_with_partition_missing(host: Host, choice: str):
    """An item `security` trusts whose partition list is another team's only, read by `security -w`
    in a GUI session, the dialog answered `choice`; returns the responder (what it saw)."""
    host.item(trusted=None)
    _partition_list(host, "teamid:KCPROBE01")
    host.sandbox.session.set_gui(gui=True)
    responder = host.sandbox.responder(default_choice=choice)
    host.sandbox.security.run("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain,
                              responder=responder, timeout=host.backend.call_limit)
    return responder


def host_macos() -> str:
    """The macOS version a probe's answer is for: the Mac's own major version, else the one the simulator models."""
    if sys.platform == "darwin":
        return platform.mac_ver()[0].split(".")[0]
    return unverified.macos()


def dialog_says(responder, state: str, item: str, marks: bool = False):
    """Held when the last item dialog the responder saw says the dialog corpus's sentence for `state` on this
    host's macOS version (security/dialogs.json), for its own app and keychain and `item`; quote marks compared
    only with `marks` (DIALOG-QUOTES), else folded as a retyped report's are."""
    seen = [p for p in responder.seen if p.kind == "item-dialog"]
    if not seen:
        return Held(False, "no dialog text seen")
    dialog, version = seen[-1], host_macos()
    if version not in dialogs.MODELLED:
        return Unsettled(f"macOS {version} is not a modelled version ({', '.join(dialogs.MODELLED)})")
    want = dialogs.text(state, version, app=dialog.app, item=item, keychain=dialog.keychain)
    ok = dialogs.fold(dialog.text, not marks) == dialogs.fold(want, not marks)
    return Held(ok and dialog.item == item, f"macOS {version}: {dialog.text[:200]}")


@assumption("DIALOG-PARTITION-WORDING", "a read by a caller the access list trusts whose partition ID is missing "
            "(securityd's extendPartition) draws “APP wants to access key “ITEM” in your keychain.” and “To allow "
            "this, enter the “KEYCHAIN” keychain password.”",
            "security/dialogs.json: 7 reports from 2024 on say “access key” (anthropics/claude-code#67315, #72862, "
            "#89985 …); against it 3 that leave out “key” (#81707's title, #87348, ericjypark/codex-island#54) "
            "[INF]; agentquery.cpp AGENT_HINT_ACL_TAG, acls.cpp extendPartition [SRC]",
            "security/dialogs.json wording (partition); sim/agent.py dialog_text")
def _dialog_partition_wording(host: Host):
    if not host.backend.dialog_text_visible:
        return Unsettled("needs a dialog whose words can be read: --real-dialogs on a Mac")
    return dialog_says(_read_with_partition_missing(host, "Deny"), "partition", "kc-probe")


@assumption("DIALOG-QUOTES", "SecurityAgent puts the item's and the keychain's names between typographic marks "
            "(“kc-probe”, “login”) and the application's name between none",
            "security/dialogs.json: 16 reports from 2024 on show straight or single marks around the item and none "
            "around the application; SeemSeam/claude_codex_bridge#350 shows typographic marks around both "
            "(“security” wants to use the “ccb-provider” keychain.); all were typed (no evidence of the window's "
            "marks either way): the simulator's marks are [INF]", "security/dialogs.json wording (the marks)")
def _dialog_quotes(host: Host):
    if not host.backend.dialog_text_visible:
        return Unsettled("needs a dialog whose words can be read: --real-dialogs on a Mac")
    return dialog_says(_read_with_partition_missing(host, "Deny"), "partition", "kc-probe", marks=True)


@assumption("ALWAYS-ALLOW-PARTITION", "Always Allow on a partition dialog adds the caller's partition ID "
            "(`apple-tool:` for security) to the item's partition list",
            "acl_keychain.cpp / acls.cpp \"adding XARA partition\"; github/copilot-cli#4273; against it "
            "anthropics/claude-code#62213", "sim/unverified.py ALWAYS_ALLOW_ADDS_PARTITION; sim/acl.py always_allow")
def _always_allow_partition(host: Host):
    if not host.backend.dialog_text_visible:
        return Unsettled("needs a dialog someone answers Always Allow: --real-dialogs on a Mac")
    _read_with_partition_missing(host, "Always Allow")
    call = host.security("dump-keychain", "-a", host.keychain)
    found = re.search(PARTITION_ENTRY, call.stdout)
    return Held(found is not None and "apple-tool:" in found[1], found[1] if found else status(call))


@assumption("SEARCH-ORDER", "with two items under one service, `find-generic-password -s S` (no -a) returns "
            "the one added first", "musistudio/claude-code-router#1601 (the `unknown` item came back) [UNV]",
            "sim/unverified.py SEARCH_ORDER")
def _search_order(host: Host):
    for account in ("kc-first", "kc-second"):
        call = host.security("add-generic-password", "-a", account, "-s", "kc-probe-shared", "-w",
                             "KCCANARY-order", host.keychain)
        if call.status != 0:
            return Held(False, status(call))
    call = host.security("find-generic-password", "-s", "kc-probe-shared", host.keychain)
    found = re.search(r'"acct"<blob>="([^"]*)"', call.stdout)
    return Held(found is not None and found[1] == "kc-first", found[1] if found else status(call))


@assumption("USAGE-H-BY-VERSION", "a subcommand's usage text shows `[-h]` on macOS 26 and not on 14 or 15",
            "SecurityTool/macOS security.c (newest source) vs modern transcripts [INF]",
            "sim/unverified.py USAGE_SHOWS_H; KEYCHAIN_SIM_MACOS")
def _usage_h(host: Host):
    if sys.platform == "darwin":
        version = platform.mac_ver()[0].split(".")[0]
    else:
        version = unverified.macos_version() if hasattr(unverified, "macos_version") else unverified.MACOS_DEFAULT
    if version not in unverified.USAGE_SHOWS_H:
        return Unsettled(f"macOS {version} is not a modelled version ({', '.join(unverified.USAGE_SHOWS_H)})")
    call = host.security("find-generic-password", "-Z")
    text = call.stdout + call.stderr
    usage = next((line for line in text.splitlines() if line.lstrip().startswith("Usage:")), "")
    return Held(bool(usage) and ("[-h]" in usage) == unverified.USAGE_SHOWS_H[version],
                f"macOS {version}: {usage.strip()[:120] or status(call)}")
