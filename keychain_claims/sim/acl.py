"""Code identity of the caller, ACLs and partition lists (security-cli.md section 3)."""
from __future__ import annotations

import json
import os

from keychain_claims.sim import unverified

SECURITY = {"path": "/usr/bin/security", "identifier": "com.apple.security", "signing": "apple-tool",
            "team": "", "cdhash": "5ecf0a1ddee7fa1f5ee4a5d1c7f3e3b1a1d0c0de"}
SIGNINGS = ("apple-tool", "apple", "developer-id", "app-store", "adhoc", "unsigned")


def caller() -> dict:
    """Who is asking: KEYCHAIN_SIM_CALLER (JSON) or the security tool itself.  Fields the JSON
    leaves out are derived from its own path, never borrowed from the security tool."""
    raw = os.environ.get("KEYCHAIN_SIM_CALLER")
    if not raw:
        return SECURITY
    given = json.loads(raw)
    path = given.get("path") or SECURITY["path"]
    if path == SECURITY["path"] and "signing" not in given:
        return {**SECURITY, **given}
    who = {"path": path, "identifier": os.path.basename(path), "signing": "unsigned", "team": "",
           "cdhash": unverified.legacy_hash(path)}
    who.update({k: v for k, v in given.items() if v is not None})
    return who


def app_name(who: dict) -> str:
    """The name a dialog shows: the executable's file name."""
    return os.path.basename(who["path"])


def requirement(who: dict) -> str | None:
    """The designated requirement securityd stores for an Always Allow (spec section 3)."""
    signing, ident = who.get("signing"), who.get("identifier", "")
    if signing in ("apple-tool", "apple"):
        return f'identifier "{ident}" and anchor apple'
    if signing in ("developer-id", "app-store"):
        return (f'identifier "{ident}" and anchor apple generic and certificate leaf[subject.OU] = '
                f'"{who.get("team", "")}"')
    if signing == "adhoc":
        return f'cdhash H"{who.get("cdhash", "")}"'
    return None                        # unsigned: compared by legacy hash


def partition_id(who: dict) -> str:
    """securityd/src/clientid.cpp [SRC]."""
    signing = who.get("signing")
    if signing == "apple-tool":
        return "apple-tool:"
    if signing == "apple":
        return "apple:"
    if signing in ("developer-id", "app-store"):
        return f"teamid:{who.get('team', '')}"
    if signing == "adhoc":
        return f"cdhash:{who.get('cdhash', '')}"
    return "unsigned:"


def app_entry(who: dict) -> dict:
    return {"path": who["path"], "requirement": requirement(who), "hash": who.get("cdhash", "")}


def app_for_path(path: str) -> dict:
    """-T <path>: the security tool (or the caller itself) is known; other programs get the
    identity unverified.trusted_app_for_path gives them."""
    if path == SECURITY["path"]:
        return app_entry(SECURITY)
    who = caller()
    if path == who["path"]:
        return app_entry(who)
    return unverified.trusted_app_for_path(path)


def matches(app: dict, who: dict) -> bool:
    """The stored designated requirement is re-checked on every access [SRC codesigdb.cpp];
    without one (unsigned) the legacy hash decides."""
    if app.get("requirement"):
        return app["requirement"] == requirement(who)
    if app.get("hash"):
        return app["hash"] == who.get("cdhash")
    return app.get("path") == who.get("path")


def default_acl(who: dict, label: str, trusted: list[dict] | None, any_app: bool) -> list[dict]:
    """Item.cpp / Access.cpp makeStandard [SRC]: owner, encrypt (any app), decrypt… (trusted:
    the caller, the -T list, or <null> with -A).  Stored in the order dump-keychain -a prints."""
    apps = [app_entry(who)] if trusted is None else trusted
    entries: dict[str, dict] = {
        "owner": {"auth": ["change_acl"], "desc": label, "apps": [app_entry(who)]},
        "encrypt": {"auth": ["encrypt"], "desc": label, "apps": None},
        "decrypt": {"auth": ["decrypt", "derive", "export_clear", "export_wrapped", "mac", "sign"], "desc": label,
                    "apps": None if any_app else apps},
    }
    return [entries[name] for name in unverified.ACL_ENTRY_ORDER if name in entries]


def decrypt_entry(item: dict) -> dict | None:
    return next((e for e in item["acl"] if "decrypt" in e["auth"]), None)


def acl_allows(item: dict, who: dict) -> bool:
    entry = decrypt_entry(item)
    if entry is None:
        return False
    return entry["apps"] is None or any(matches(app, who) for app in entry["apps"])


def partition_allows(item: dict, who: dict, version: int) -> bool:
    """Partition lists exist and are enforced only for version 512 [SRC acls.cpp validatePartition]."""
    if version != 512 or item.get("partition") is None:
        return True
    return partition_id(who) in item["partition"]


def may_decrypt(item: dict, who: dict, version: int) -> bool:
    """Both checks of a secret read [SRC]: the ACL's trusted apps, then (v512) the partition list."""
    return refused_by(item, who, version) is None


def refused_by(item: dict, who: dict, version: int) -> str | None:
    """Which check of a secret read refuses `who`: "acl" (not a trusted application), "partition" (trusted,
    but its partition ID is missing: securityd's XARA check, acls.cpp validatePartition), or None."""
    if not acl_allows(item, who):
        return "acl"
    if not partition_allows(item, who, version):
        return "partition"
    return None


def securityd_log(check: str, item: dict, who: dict, choice: str | None) -> None:
    """The lines securityd writes to the unified log (subsystem com.apple.securityd) around a prompt, as the
    field quotes them (akitaonrails/ai-usagebar#148, steipete/CodexBar#2115, github/copilot-cli#4273); kept in
    the event log as {"event": "securityd", "line": ...}.  Wording of the format strings [SRC acls.cpp,
    acl_keychain.cpp]."""
    from keychain_claims.sim import store
    pid = partition_id(who)
    lines = []
    if check == "partition":
        current = ",".join(f'"{p}"' for p in item.get("partition") or [])
        lines += [f"ACL partition mismatch: client {pid} ACL ({current})",
                  f"asking user about XARA partition for '{pid}'"]
        if choice in ("Always Allow", "Allow"):
            lines.append(f"user approved XARA access for '{pid}'")
        if choice == "Always Allow":
            lines.append(f"adding XARA partition '{pid}' to list")
        if choice is None:
            lines.append(f"user rejected XARA access for '{pid}'")
    else:
        lines.append(f"displaying keychain prompt for {who['path']}")
        if choice == "Always Allow":
            lines.append(f"user approved 'always allow' for {who['path']}")
        elif choice == "Allow":
            lines.append(f"user approved 'allow' for {who['path']}")
        else:
            lines.append(f"user did not approve 'allow' for {who['path']}")
    for line in lines:
        store.log({"event": "securityd", "line": line, "t": store.now()})


def always_allow(item: dict, who: dict, version: int) -> None:
    """Put the caller's code-signature subject at the front and append its partition ID [SRC]."""
    entry = decrypt_entry(item)
    if entry is not None and entry["apps"] is not None and not any(matches(a, who) for a in entry["apps"]):
        entry["apps"].insert(0, app_entry(who))
    if version == 512 and item.get("partition") is not None and partition_id(who) not in item["partition"]:
        item["partition"].append(partition_id(who))
