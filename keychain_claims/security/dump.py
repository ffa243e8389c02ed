"""Parse what `security` prints about items: the attribute dump of
find-generic-password / delete-generic-password / dump-keychain, and the ACL view of
`dump-keychain -a` (formats in security-cli.md section 2)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_ATTR = re.compile(r'^ {4}(?:"(?P<tag>[^"]{4})"|(?P<num>0x[0-9A-Fa-f]{8}) )<(?P<type>\w+)>=(?P<value>.*)$')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"\s*$')


@dataclass
class AclEntry:
    authorizations: list[str] = field(default_factory=list)
    description: str = ""
    applications: list[str] | None = None       # None = <null> (any application)
    requirements: list[str] = field(default_factory=list)


@dataclass
class Item:
    keychain: str = ""
    version: str = ""
    cls: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    access: list[AclEntry] = field(default_factory=list)

    def get(self, tag: str) -> str | None:
        return self.attrs.get(tag)

    def partition_ids(self) -> list[str] | None:
        for entry in self.access:
            if "partition_id" in entry.authorizations:
                return [p.strip() for p in entry.description.split(",")]
        return None

    def trusted_apps(self) -> list[str] | None:
        """Applications of the entry that authorizes `decrypt` (None = any app)."""
        for entry in self.access:
            if "decrypt" in entry.authorizations:
                return entry.applications
        return []


def _value(raw: str) -> str:
    if raw == "<NULL>":
        return ""
    m = _QUOTED.search(raw)
    if m:
        text = m.group(1)
        return text[:-4] if text.endswith("\\000") else text
    return raw.strip()


def parse(text: str) -> list[Item]:
    items: list[Item] = []
    current: Item | None = None
    entry: AclEntry | None = None
    for line in text.splitlines():
        if line.startswith("keychain: "):
            current = Item(keychain=_value(line[len("keychain: "):]))
            items.append(current)
            entry = None
            continue
        if current is None:
            continue
        if line.startswith("version: "):
            current.version = line.split(":", 1)[1].strip()
        elif line.startswith("class: "):
            current.cls = _value(line[len("class: "):])
        elif (m := _ATTR.match(line)):
            current.attrs[m.group("tag") or m.group("num")] = _value(m.group("value"))
        elif re.match(r"^ {4}entry \d+:", line):
            entry = AclEntry()
            current.access.append(entry)
        elif entry is not None:
            body = line.strip()
            if body.startswith("authorizations"):
                entry.authorizations = body.split(":", 1)[1].split()
            elif body.startswith("description:"):
                entry.description = body.split(":", 1)[1].strip()
            elif body == "applications: <null>":
                entry.applications = None
            elif body.startswith("applications"):
                entry.applications = []
            elif re.match(r"^\d+: ", body) and entry.applications is not None:
                entry.applications.append(re.sub(r" \((OK|status -?\d+)\)$", "", body.split(": ", 1)[1]))
            elif body.startswith("requirement:"):
                entry.requirements.append(body.split(":", 1)[1].strip())
    return items


def find(text: str, service: str) -> Item | None:
    for item in parse(text):
        if item.get("svce") == service:
            return item
    return None
