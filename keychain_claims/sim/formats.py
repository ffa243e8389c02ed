"""What `security` prints (keychain_utilities.c print_keychain_item_attributes,
print_buffer; keychain_show_info.c; access_utils.c) [SRC unless noted]."""
from __future__ import annotations

import time

# attribute tag -> (printed type, item key); label and the unnamed 8 print as numbers
TAGS = [
    (0x00000007, "blob", "labl"), (0x00000008, "blob", "alis"),
    (0x61636374, "blob", "acct"), (0x63646174, "timedate", "cdat"), (0x63727472, "uint32", "crtr"),
    (0x63757369, "sint32", "cusi"), (0x64657363, "blob", "desc"), (0x67656e61, "blob", "gena"),
    (0x69636d74, "blob", "icmt"), (0x696e7669, "sint32", "invi"), (0x6d646174, "timedate", "mdat"),
    (0x6e656761, "sint32", "nega"), (0x70726f74, "blob", "prot"), (0x73637270, "sint32", "scrp"),
    (0x73766365, "blob", "svce"), (0x74797065, "uint32", "type"),
]
NAMED = {0x00000007, 0x00000008}


def _tag(code: str) -> int:
    return int.from_bytes(code.encode(), "big")


# internet passwords: the same print_keychain_item_attributes walk over the inet record's attributes, in
# tag order.  Attribute types (atyp a blob, port and ptcl uint32) are unverified.INET_ATTRIBUTE_TYPES.
INET_TAGS = [(0x00000007, "blob", "labl"), (0x00000008, "blob", "alis")] + [
    (_tag(code), kind, code) for code, kind in (
        ("acct", "blob"), ("atyp", "blob"), ("cdat", "timedate"), ("crtr", "uint32"), ("cusi", "sint32"),
        ("desc", "blob"), ("icmt", "blob"), ("invi", "sint32"), ("mdat", "timedate"), ("nega", "sint32"),
        ("path", "blob"), ("port", "uint32"), ("prot", "blob"), ("ptcl", "uint32"), ("scrp", "sint32"),
        ("sdmn", "blob"), ("srvr", "blob"), ("type", "uint32"))]


def _printable(b: int) -> bool:
    return 0x20 <= b <= 0x7E


def print_buffer(data: bytes) -> str:
    if all(_printable(b) and b != 0x5C for b in data):
        return '"' + data.decode("ascii") + '"'
    out = "0x" + data.hex().upper()
    if any(_printable(b) for b in data):
        return out + '  "' + "".join(chr(b) if _printable(b) and b != 0x5C else f"\\{b:03o}" for b in data) + '"'
    return out + " "


def timedate(epoch: float) -> bytes:
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(epoch)).encode() + b"\0"


def tag_text(tag: int) -> str:
    if tag in NAMED:
        return f"0x{tag:08X} "
    return '"' + tag.to_bytes(4, "big").decode("latin-1") + '"'


def attribute_lines(path: str, version: int, item: dict) -> list[str]:
    attrs = item["attrs"]
    kind_of_item = item.get("class", "genp")
    lines = [f'keychain: "{path}"', f"version: {version}", f'class: "{kind_of_item}"', "attributes:"]
    for tag, kind, key in (INET_TAGS if kind_of_item == "inet" else TAGS):
        value = attrs.get(key)
        if kind == "timedate" and value is not None:
            raw = timedate(value)
        elif kind in ("uint32", "sint32") and value is not None:
            raw = value.encode("latin-1") if isinstance(value, str) else int(value).to_bytes(4, "big")
        elif value is not None:
            raw = value.encode("utf-8", "surrogateescape")
        else:
            raw = None
        lines.append(f"    {tag_text(tag)}<{kind}>=" + ("<NULL>" if raw is None else print_buffer(raw)))
    return lines


def _kind(entry: dict) -> str:
    auth = entry["auth"]
    return "decrypt" if "decrypt" in auth else "encrypt" if "encrypt" in auth else "owner"


def _integrity(item: dict) -> str:
    from keychain_claims.sim.crypto import sha256
    attrs = item["attrs"]
    seed = "\0".join((item.get("class", "genp"), attrs.get("svce") or attrs.get("srvr") or "", attrs.get("labl") or ""))   # see unverified.INTEGRITY_ENTRY
    return sha256(seed.encode("utf-8", "surrogateescape")).hexdigest().upper()


def acl_lines(item: dict) -> list[str]:
    """`dump-keychain -a` access view [SRC access_utils.c]; entry order, count and the integrity
    entry's description are unverified.ACL_ENTRY_ORDER / INTEGRITY_ENTRY."""
    from keychain_claims.sim import unverified
    by_kind: dict[str, list[dict]] = {}
    for entry in item["acl"]:
        by_kind.setdefault(_kind(entry), []).append(entry)
    if item.get("partition") is not None:
        by_kind["partition"] = [{"auth": ["partition_id"], "desc": ", ".join(item["partition"]), "apps": None}]
    if item.get("integrity"):
        by_kind["integrity"] = [{"auth": ["integrity"], "desc": _integrity(item), "apps": None}]
    entries = [e for kind in unverified.ACL_ENTRY_ORDER for e in by_kind.get(kind, [])]
    if not entries:
        return ["no access control for this item"]
    lines = [f"access: {len(entries)} entries"]
    for n, entry in enumerate(entries):
        lines += [f"    entry {n}:", f"        authorizations ({len(entry['auth'])}): {' '.join(entry['auth'])}",
                  "        require-password" if entry.get("require_password") else "        don't-require-password",
                  f"        description: {entry['desc']}"]
        if entry["apps"] is None:
            lines.append("        applications: <null>")
            continue
        lines.append(f"        applications ({len(entry['apps'])}):")
        for i, app in enumerate(entry["apps"]):
            lines.append(f"            {i}: {app['path']} (OK)")
            lines.append(f"                requirement: {app['requirement'] or 'none'}")
    return lines


def secret_for_w(data: bytes) -> str:
    """`-w`: the secret as is, or all of it as lowercase hex if any byte fails isprint (C locale)."""
    if all(_printable(b) for b in data):
        return data.decode("ascii")
    return data.hex()


def keychain_info(kc_as_typed: str | None, settings: dict) -> str:
    out = f'Keychain "{kc_as_typed if kc_as_typed is not None else "<NULL>"}"'
    if settings.get("lock_on_sleep"):
        out += " lock-on-sleep"
    timeout = settings.get("timeout")
    out += " no-timeout" if timeout is None else f" timeout={timeout}s"
    return out
