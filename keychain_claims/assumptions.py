"""Every macOS behaviour the simulator and the macOS backend assume, as an executable probe.

    keychain-claims assumptions                 list them: id, what is assumed, source, status
    keychain-claims assumptions --json          the same as JSON
    keychain-claims assumptions --settle [--backend auto|macos|sim|rehearsal] [--out DIR]
                                                run every probe against a scratch keychain, record
                                                what the host answered (one transcript per probe,
                                                DIR/<id>.json, and DIR/assumptions.json), say which held

A probe gets a `Host`: a sandbox of the chosen backend (scratch keychain, the shim on a Mac) and
returns `Held(bool, observed)` or `Unsettled(reason)` when this host cannot answer it (a dialog's
words without --real-dialogs; a command the shim refuses for safety).  Its calls are recorded,
redacted, as its transcript; `keychain-claims fidelity --settled DIR` reads those transcripts and
compares each host's answer with the simulator's.

Adding one: a function decorated with `@assumption(id, assumed, source, settles)` that takes a
`Host` and returns Held/Unsettled.  Nothing else to register.
"""
from __future__ import annotations

import json
import platform
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

FORMAT = "keychain-claims/settle-transcript/1"


@dataclass
class Held:
    held: bool
    observed: str


@dataclass
class Unsettled:
    reason: str


@dataclass
class Assumption:
    id: str
    assumed: str          # what the simulator / the macOS backend takes for true
    source: str           # where it comes from: a spec line, an Apple source, "invented"
    settles: str          # which code it settles (a constant of sim/unverified.py, a backend behaviour)
    probe: Callable = field(repr=False, default=None)


REGISTRY: dict[str, Assumption] = {}


def assumption(id: str, assumed: str, source: str, settles: str):
    def register(probe: Callable) -> Callable:
        if id in REGISTRY:
            raise ValueError(f"assumption {id} registered twice")
        REGISTRY[id] = Assumption(id, assumed, source, settles, probe)
        return probe
    return register


class Host:
    """A scratch keychain on the chosen backend, and the calls a probe made."""

    def __init__(self, backend):
        from keychain_claims.harness.sandbox import Sandbox
        self.backend = backend
        self.sandbox = Sandbox(backend).prepare()
        self.keychain = str(self.sandbox.keychain.path)

    def security(self, *argv: str, stdin: str | None = None, gui: bool = False, caller=None):
        """One call; without `gui` in a session without window-server access (the probe reads
        the host's own answer; no dialog is answered or emulated)."""
        self.backend.set_session(self.sandbox, gui=gui)
        if caller is None:
            return self.sandbox.security.run(*argv, stdin=stdin, responder=self.sandbox.responder(),
                                             timeout=self.backend.call_limit)
        env = self.backend.as_caller(self.sandbox, caller)
        return self.sandbox.security.run(*argv, stdin=stdin, responder=self.sandbox.responder(), env=env,
                                         timeout=self.backend.call_limit)

    def item(self, service: str = "kc-probe", trusted: tuple[str, ...] | None = ()):
        """A generic password made by `security` that trusts `trusted` apps (() = none: every read
        needs consent; None = security's default, itself)."""
        argv = ["add-generic-password", "-a", "probe", "-s", service, "-w", "KCCANARY-probe-secret"]
        if trusted is not None:
            argv += [a for path in trusted for a in ("-T", path)] or ["-T", ""]
        call = self.security(*argv, self.keychain)
        if call.status != 0:
            raise RuntimeError(f"could not make the probe's item: exit {call.status}: {call.stderr.strip()[:120]}")
        return call

    @property
    def mac_tools(self) -> bool:
        return self.backend.caller_tools is not None

    def transcript(self) -> list[dict]:
        return [c.record() for c in self.sandbox.security.calls]

    def close(self) -> None:
        self.sandbox.close()


def _status(call) -> str:
    return f"exit {call.status}: {(call.stderr or call.stdout).strip()[:160]}"


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
    return Held(call.status == 36 and took < 5, f"{_status(call)} after {took:.1f} s")


@assumption("EXIT-LOCKED-NO-UI", "a read of a locked keychain without window-server access fails with 36 "
            "(the unlock dialog's stand-in)", "security-cli.md §2/§5 [UNV]", "backend: unlock consent")
def _locked_no_ui(host: Host):
    host.item(trusted=None)
    host.security("lock-keychain", host.keychain)
    call = host.security("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain)
    return Held(call.status == 36, _status(call))


@assumption("CALLER-NO-INTERACTION", "a program that called SecKeychainSetUserInteractionAllowed(false) gets "
            "errSecInteractionNotAllowed (36) for a read that needs consent (issue 21's review expects 51, "
            "errSecAuthFailed; the backend takes either)", "SecKeychain.h SecKeychainSetUserInteractionAllowed",
            "backends/macos/backend.py _dialog_needed; sim KEYCHAIN_SIM_INTERACTION")
def _caller_no_interaction(host: Host):
    if not host.mac_tools:
        return Unsettled("no test caller on this backend (the simulator models it with KEYCHAIN_SIM_INTERACTION)")
    from keychain_claims.harness.callers import app
    host.item(trusted=())
    call = host.security("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain,
                         caller=app("Probe", "adhoc"))
    return Held(call.status == 36, _status(call))


@assumption("DENY-STATUS", "Deny in an item dialog makes `find-generic-password -w` exit 128",
            "security-cli.md §2 [UNV; jaraco/keyring treats -128 as denied]", "sim/unverified.py DENY_STATUS")
def _deny_status(host: Host):
    if not host.backend.dialog_text_visible:
        return Unsettled("needs a dialog someone answers: --real-dialogs on a Mac")
    host.item(trusted=())
    host.backend.set_session(host.sandbox, gui=True)
    call = host.sandbox.security.run("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain,
                                     responder=host.sandbox.responder(default_choice="Deny"),
                                     timeout=host.backend.call_limit)
    return Held(call.status == 128, _status(call))


@assumption("DIALOG-WORDING", "the item dialog says “APP” wants to use your confidential information stored "
            "in “ITEM” in your keychain.", "public pastes (keychain-swift#117, aws-vault#219, Claude-God#30)",
            "sim/unverified.py DIALOG_WORDING; harness/prompts.py ITEM_DIALOG")
def _dialog_wording(host: Host):
    if not host.backend.dialog_text_visible:
        return Unsettled("needs a dialog whose words can be read: --real-dialogs on a Mac")
    host.item(trusted=())
    host.backend.set_session(host.sandbox, gui=True)
    responder = host.sandbox.responder(default_choice="Deny")
    host.sandbox.security.run("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain,
                              responder=responder, timeout=host.backend.call_limit)
    text = " ".join(p.text for p in responder.seen if p.kind == "item-dialog")
    return Held(bool(re.search(r"wants to use your confidential information stored in .kc-probe. in your keychain",
                               text)), text[:200] or "no dialog text seen")


# ----------------------------------------------------------------------------- which operations check what
@assumption("UPDATE-NO-ACL-CHECK", "`add-generic-password -U` by security on an item that trusts no app "
            "needs no consent", "security-cli.md §3 [UNV]", "sim/unverified.py UPDATE_CHECKS_ACL")
def _update_checks_acl(host: Host):
    host.item(trusted=())
    call = host.security("add-generic-password", "-U", "-a", "probe", "-s", "kc-probe", "-w", "KCCANARY-2",
                         host.keychain)
    return Held(call.status == 0, _status(call))


@assumption("DELETE-NO-ACL-CHECK", "`delete-generic-password` of an item that trusts no app needs no consent",
            "security-cli.md §2 (not described)", "sim/unverified.py DELETE_CHECKS_ACL")
def _delete_checks_acl(host: Host):
    host.item(trusted=())
    call = host.security("delete-generic-password", "-a", "probe", "-s", "kc-probe", host.keychain)
    return Held(call.status == 0, _status(call))


@assumption("DELETE-NEEDS-UNLOCK", "deleting from a locked keychain without a GUI fails with 36",
            "security-cli.md §2 [INF]", "sim/unverified.py DELETE_NEEDS_UNLOCK")
def _delete_needs_unlock(host: Host):
    host.item(trusted=None)
    host.security("lock-keychain", host.keychain)
    call = host.security("delete-generic-password", "-a", "probe", "-s", "kc-probe", host.keychain)
    return Held(call.status == 36, _status(call))


@assumption("METADATA-NO-UNLOCK", "`find-generic-password` without -g/-w reads a locked keychain's attributes "
            "without an unlock", "security-cli.md §2 [INF]", "sim/unverified.py METADATA_NEEDS_UNLOCK")
def _metadata(host: Host):
    host.item(trusted=None)
    host.security("lock-keychain", host.keychain)
    call = host.security("find-generic-password", "-a", "probe", "-s", "kc-probe", host.keychain)
    return Held(call.status == 0 and "kc-probe" in call.stdout, _status(call))


@assumption("ACL-DUMP-NEEDS-UNLOCK", "`dump-keychain -a` of a locked keychain without a GUI fails",
            "security-cli.md §5 [INF]", "sim/unverified.py ACL_DUMP_NEEDS_UNLOCK")
def _dump_needs_unlock(host: Host):
    host.item(trusted=None)
    host.security("lock-keychain", host.keychain)
    call = host.security("dump-keychain", "-a", host.keychain)
    return Held(call.status != 0, _status(call))


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
                _status(call))


@assumption("INTEGRITY-ENTRY", "a version-512 item carries an integrity entry with a 64-hex-digit description",
            "security-cli.md §3 [display INF]", "sim/unverified.py INTEGRITY_ENTRY")
def _integrity(host: Host):
    host.item(trusted=None)
    call = host.security("dump-keychain", "-a", host.keychain)
    found = re.search(r"authorizations \(1\): integrity\n(?:.*\n)*?\s+description: ([0-9A-F]{64})\n", call.stdout)
    return Held(bool(found), found[1][:16] + "…" if found else _status(call))


# the partition_id entry's own description line (its value may hold ", ")
PARTITION_ENTRY = r"authorizations \(1\): partition_id\n(?:[ \t]+don't-require-password\n)?[ \t]+description: (.+)\n"


@assumption("PARTITION-SECURITY", "an item `security` adds has the partition list apple-tool:",
            "security-cli.md §3", "sim acl.partition_id; backends/macos/callers.py partition_id")
def _partition(host: Host):
    host.item(trusted=None)
    call = host.security("dump-keychain", "-a", host.keychain)
    found = re.search(PARTITION_ENTRY, call.stdout)
    return Held(bool(found) and found[1] == "apple-tool:", found[1] if found else _status(call))


@assumption("SYSTEM-KEYCHAIN", "`list-keychains` (no -d) ends with /Library/Keychains/System.keychain",
            "security-cli.md §2 [INF]", "sim/unverified.py SYSTEM_KEYCHAIN")
def _system(host: Host):
    call = host.security("list-keychains")
    return Held(call.status == 0 and "/Library/Keychains/System.keychain" in call.stdout, _status(call) if
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
        return Held(False, _status(add))
    call = host.security("find-internet-password", "-a", "probe", "-s", "kc-probe.example", host.keychain)
    ok = all(s in call.stdout for s in ('"atyp"<blob>', '"port"<uint32>', '"ptcl"<uint32>'))
    return Held(ok, " ".join(re.findall(r'"(?:atyp|port|ptcl)"<\w+>', call.stdout)) or _status(call))


@assumption("DELETE-KEYCHAIN-NO-ARGS", "`security delete-keychain` with no keychain exits 49",
            "keychain_delete.c [INF]", "sim/unverified.py DELETE_KEYCHAIN_NO_ARGS_STATUS")
def _delete_keychain(host: Host):
    if host.mac_tools:
        return Unsettled("refused for safety: on a Mac it would name the default keychain; the shim refuses "
                         "delete-keychain without the scratch keychain")
    call = host.security("delete-keychain")
    return Held(call.status == 49, _status(call))


# ----------------------------------------------------------------------------- the field's states (issue 22)
def _partition_list(host: Host, ids: str) -> None:
    call = host.security("set-generic-password-partition-list", "-S", ids, "-a", "probe", "-s", "kc-probe",
                         host.keychain)
    if call.status != 0:
        raise RuntimeError(f"could not set the partition list: {_status(call)}")


def _read_with_partition_missing(host: Host, choice: str):
    """An item `security` trusts whose partition list is another team's only, read by `security -w`
    in a GUI session, the dialog answered `choice`; returns the responder (what it saw)."""
    host.item(trusted=None)
    _partition_list(host, "teamid:KCPROBE01")
    host.backend.set_session(host.sandbox, gui=True)
    responder = host.sandbox.responder(default_choice=choice)
    host.sandbox.security.run("find-generic-password", "-a", "probe", "-s", "kc-probe", "-w", host.keychain,
                              responder=responder, timeout=host.backend.call_limit)
    return responder


@assumption("DIALOG-PARTITION-WORDING", "a read by a caller the access list trusts whose partition ID is missing "
            "(securityd's extendPartition) draws “APP wants to access key “ITEM” in your keychain.”",
            "agentquery.cpp AGENT_HINT_ACL_TAG; acls.cpp extendPartition; anthropics/claude-code#72862, #81707 [INF]",
            "sim/unverified.py DIALOG_WORDING (tag -> sentence); sim/agent.py dialog_text")
def _dialog_partition_wording(host: Host):
    if not host.backend.dialog_text_visible:
        return Unsettled("needs a dialog whose words can be read: --real-dialogs on a Mac")
    responder = _read_with_partition_missing(host, "Deny")
    text = " ".join(p.text for p in responder.seen if p.kind == "item-dialog")
    return Held(bool(re.search(r"wants to access key .kc-probe. in your keychain", text)),
                text[:200] or "no dialog text seen")


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
    return Held(bool(found) and "apple-tool:" in found[1], found[1] if found else _status(call))


@assumption("SEARCH-ORDER", "with two items under one service, `find-generic-password -s S` (no -a) returns "
            "the one added first", "musistudio/claude-code-router#1601 (the `unknown` item came back) [UNV]",
            "sim/unverified.py SEARCH_ORDER")
def _search_order(host: Host):
    for account in ("kc-first", "kc-second"):
        call = host.security("add-generic-password", "-a", account, "-s", "kc-probe-shared", "-w",
                             "KCCANARY-order", host.keychain)
        if call.status != 0:
            return Held(False, _status(call))
    call = host.security("find-generic-password", "-s", "kc-probe-shared", host.keychain)
    found = re.search(r'"acct"<blob>="([^"]*)"', call.stdout)
    return Held(bool(found) and found[1] == "kc-first", found[1] if found else _status(call))


@assumption("USAGE-H-BY-VERSION", "a subcommand's usage text shows `[-h]` on macOS 26 and not on 14 or 15",
            "SecurityTool/macOS security.c (newest source) vs modern transcripts [INF]",
            "sim/unverified.py USAGE_SHOWS_H; KEYCHAIN_SIM_MACOS")
def _usage_h(host: Host):
    from keychain_claims.sim import unverified
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
                f"macOS {version}: {usage.strip()[:120] or _status(call)}")


# ----------------------------------------------------------------------------- the Mac's tools
@assumption("CODESIGN-CDHASH", "`codesign -d -vvv` prints CDHash= and TeamIdentifier= for a signed program",
            "codesign(1)", "backends/macos/callers.py signature")
def _codesign(host: Host):
    if not host.mac_tools:
        return Unsettled("no codesign on this backend")
    from keychain_claims.backends.macos import callers
    path = str(callers.helper(host.sandbox))
    try:
        fields = callers.signature(host.sandbox, path)
    except Exception as exc:     # noqa: BLE001 - the probe reports what the host said
        return Held(False, str(exc)[:200])
    return Held("TeamIdentifier" in fields, f"CDHash={fields['CDHash'][:12]}… TeamIdentifier={fields.get('TeamIdentifier')}")


@assumption("SIGNING-IDENTITY", "a throwaway identity made with `openssl pkcs12` (LibreSSL: no -legacy) and "
            "`security set-key-partition-list -S apple-tool:,apple:,codesign:` signs without a dialog",
            "LibreSSL openssl(1); SecurityTool/macOS/keychain_set.c set-key-partition-list",
            "backends/macos/callers.py _throwaway_identity")
def _signing(host: Host):
    if not host.mac_tools:
        return Unsettled("no codesign on this backend")
    from keychain_claims.backends.macos import callers
    from keychain_claims.harness.callers import app
    try:
        callers.build(host.sandbox, app("Probe Team", "developer-id", team="PROBE00000"))
    except Exception as exc:     # noqa: BLE001
        return Held(False, str(exc)[:200])
    return Held(True, "built and signed with a throwaway team identity")


# ----------------------------------------------------------------------------- running them
def listing(results: dict | None = None) -> list[dict]:
    results = results or {}
    rows = []
    for a in REGISTRY.values():
        row = {"id": a.id, "assumed": a.assumed, "source": a.source, "settles": a.settles,
               "status": results.get(a.id, {}).get("status", "unsettled")}
        if a.id in results:
            row["observed"] = results[a.id].get("observed", "")
            row["backend"] = results[a.id].get("backend", "")
        rows.append(row)
    return rows


def settle(backend, out: Path | None = None, only: list[str] | None = None) -> dict[str, dict]:
    """Run every probe (or `only`) on `backend`, each on a fresh scratch keychain; write one
    transcript per probe into `out` and the summary `assumptions.json`; return id -> result."""
    results = {}
    for a in REGISTRY.values():
        if only and a.id not in only:
            continue
        host = None
        started = time.monotonic()
        try:
            host = Host(backend)
            answer = a.probe(host)
        except Exception as exc:      # noqa: BLE001 - a probe that could not run is said, never a pass
            answer = Unsettled(f"probe could not run: {type(exc).__name__}: {str(exc)[:200]}")
        calls = host.transcript() if host else []
        if host:
            host.close()
        if isinstance(answer, Held):
            status, observed = ("held" if answer.held else "did-not-hold"), answer.observed
        else:
            status, observed = "not-settled-here", answer.reason
        from keychain_claims.redact import redact
        results[a.id] = {"format": FORMAT, "id": a.id, "assumed": a.assumed, "source": a.source,
                         "settles": a.settles, "status": status, "observed": redact(str(observed)),
                         "backend": backend.name, "simulated": backend.simulated,
                         "host": f"{platform.system()} {platform.release()} {platform.machine()}",
                         "seconds": round(time.monotonic() - started, 2), "calls": calls}
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{a.id}.json").write_text(json.dumps(results[a.id], indent=1))
    if out is not None:
        summary = {k: {f: v[f] for f in ("status", "observed", "backend", "host")} for k, v in results.items()}
        (out / "assumptions.json").write_text(json.dumps(summary, indent=1))
    return results


def load(directory: Path) -> dict[str, dict]:
    """Settle transcripts written by `settle`."""
    found = {}
    for path in sorted(Path(directory).glob("*.json")):
        doc = json.loads(path.read_text())
        if isinstance(doc, dict) and doc.get("format") == FORMAT:
            found[doc["id"]] = doc
    return found


def main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="keychain-claims assumptions",
                                     description="the macOS behaviours the simulator and the macOS backend assume")
    parser.add_argument("--json", action="store_true", help="print them as JSON")
    parser.add_argument("--settle", action="store_true", help="run every probe here and record what the host answered")
    parser.add_argument("--backend", default="auto", help="auto|macos|sim|rehearsal (with --settle)")
    parser.add_argument("--out", default="reports/assumptions", help="where settle transcripts go (with --settle)")
    parser.add_argument("--only", default="", help="comma list of assumption ids (with --settle)")
    args = parser.parse_args(argv)
    results = {}
    if args.settle:
        from keychain_claims.backends import BackendError, select
        try:
            backend = select(args.backend)
        except BackendError as exc:
            print(f"keychain-claims assumptions: {exc}", file=sys.stderr)
            return 2
        why = backend.unavailable()
        if why:
            print(f"keychain-claims assumptions: {why}", file=sys.stderr)
            return 2
        results = settle(backend, Path(args.out), [i for i in args.only.split(",") if i] or None)
    elif Path(args.out).exists():
        results = load(Path(args.out))
    rows = listing(results)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for row in rows:
            print(f"{row['id']:<24} {row['status']:<17} {row['assumed']}")
            observed = " ⏎ ".join(row.get("observed", "").splitlines())[:160]
            print(f"{'':<24} source: {row['source']}" + (f"; observed: {observed}" if observed else ""))
    if args.settle:
        held = sum(r["status"] == "held" for r in results.values())
        print(f"assumptions: {held} held, {sum(r['status'] == 'did-not-hold' for r in results.values())} did not hold, "
              f"{sum(r['status'] == 'not-settled-here' for r in results.values())} not settled here "
              f"({len(results)} probed on the {results and next(iter(results.values()))['backend']} backend); "
              f"transcripts in {args.out}")
    return 0
