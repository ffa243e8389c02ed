"""Code identity of the caller, ACLs and partition lists (security-cli.md section 3)."""
from __future__ import annotations

import json
import os

SECURITY = {"path": "/usr/bin/security", "identifier": "com.apple.security", "signing": "apple-tool",
            "team": "", "cdhash": "5ecf0a1ddee7fa1f5ee4a5d1c7f3e3b1a1d0c0de"}


def caller() -> dict:
    """Who is asking: KEYCHAIN_SIM_CALLER (JSON) or the security tool itself."""
    raw = os.environ.get("KEYCHAIN_SIM_CALLER")
    if not raw:
        return SECURITY
    who = dict(SECURITY)
    who.update(json.loads(raw))
    return who


def requirement(who: dict) -> str | None:
    """The designated requirement securityd stores for an Always Allow."""
    signing, ident = who.get("signing"), who.get("identifier", "")
    if signing == "apple-tool" or signing == "apple":
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
    """-T <path>: the security tool is known; other programs are trusted by path [INF]."""
    if path == SECURITY["path"]:
        return app_entry(SECURITY)
    return {"path": path, "requirement": None, "hash": ""}


def matches(app: dict, who: dict) -> bool:
    if app.get("requirement"):
        return app["requirement"] == requirement(who)
    if app.get("hash"):
        return app["hash"] == who.get("cdhash")
    return app.get("path") == who.get("path")


def default_acl(who: dict, label: str, trusted: list[dict] | None, any_app: bool) -> list[dict]:
    """Item.cpp / Access.cpp makeStandard [SRC]: owner, encrypt (any app), decrypt… (trusted)."""
    apps = [app_entry(who)] if trusted is None else trusted
    return [
        {"auth": ["change_acl"], "desc": label, "apps": [app_entry(who)]},
        {"auth": ["encrypt"], "desc": label, "apps": None},
        {"auth": ["decrypt", "derive", "export_clear", "export_wrapped", "mac", "sign"], "desc": label,
         "apps": None if any_app else apps},
    ]


def may_decrypt(item: dict, who: dict, version: int) -> bool:
    """Both checks of a secret read [SRC]: the ACL's trusted apps, then (v512) the partition list."""
    entry = next((e for e in item["acl"] if "decrypt" in e["auth"]), None)
    if entry is None:
        return False
    acl_ok = entry["apps"] is None or any(matches(app, who) for app in entry["apps"])
    if not acl_ok:
        return False
    if version != 512 or item.get("partition") is None:
        return True
    return partition_id(who) in item["partition"]


def always_allow(item: dict, who: dict, version: int) -> None:
    """Put the caller's code-signature subject at the front and append its partition ID [SRC]."""
    entry = next((e for e in item["acl"] if "decrypt" in e["auth"]), None)
    if entry is not None and entry["apps"] is not None and not any(matches(a, who) for a in entry["apps"]):
        entry["apps"].insert(0, app_entry(who))
    if version == 512 and item.get("partition") is not None and partition_id(who) not in item["partition"]:
        item["partition"].append(partition_id(who))
