"""`--claude-code SPEC` parsed once: what each item of a spec is, decided in one place.

A spec is a comma list of items; each item is
  last:N      the N newest published releases               (Kind.LAST)
  A..B        every published release from A to B inclusive  (Kind.RANGE; B may be a tag, `latest`)
  a path      of an installed claude executable or package: it has a `/` or exists (Kind.PATH)
  a version   an exact version, 2.1.81                       (Kind.VERSION)
  a tag       anything else: `latest`, `next` ... (the registry says whether it is one; Kind.TAG)
`latest` is the registry's tag even where a file of that name exists (write ./latest for the file).

Only the syntax is decided here (a bad last:N or A..B is one line now); releases/versions.py expands
ranges against the registry's list and checks each release, releases/registry.py loads one."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from keychain_claims.releases.cache import ReleaseError

EXACT = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?")     # a version, not a tag or a range
LAST = re.compile(r"last:(?P<n>\S*)")
LATEST = "latest"


def is_version(text: str) -> bool:
    """Whether `text` is an exact version (2.1.81, 2.0.0-beta.1): not a tag, a range or a path."""
    return EXACT.fullmatch(text) is not None


class Kind(Enum):
    LAST = "last"
    RANGE = "range"
    PATH = "path"
    VERSION = "version"
    TAG = "tag"


@dataclass(frozen=True)
class SpecItem:
    """One item of a spec, classified (`of`)."""
    text: str
    kind: Kind
    start: str = ""         # a range's A
    end: str = ""           # a range's B
    count: int = 0          # last:N's N

    @classmethod
    def of(cls, text: str) -> "SpecItem":
        """What `text` names; ReleaseError (one line) for a malformed last:N or A..B."""
        text = text.strip()
        last = LAST.fullmatch(text)
        if last:
            n = last["n"]
            if not n.isdigit() or int(n) < 1:
                raise ReleaseError(f"{text!r}: last:N needs a whole number of releases N >= 1, e.g. last:3")
            return cls(text, Kind.LAST, count=int(n))
        if ".." in text and "/" not in text:
            parts = text.split("..")
            if len(parts) != 2 or not all(p.strip() for p in parts):
                raise ReleaseError(f"{text!r} is not a range; write A..B with two versions (B may be `latest`), "
                                   "e.g. 2.0.30..2.0.76, or last:N")
            return cls(text, Kind.RANGE, start=parts[0].strip(), end=parts[1].strip())
        if text != LATEST and ("/" in text or Path(text).expanduser().exists()):
            return cls(text, Kind.PATH)
        return cls(text, Kind.VERSION if is_version(text) else Kind.TAG)

    @property
    def path(self) -> Path:
        return Path(self.text).expanduser()


@dataclass(frozen=True)
class ReleaseSpec:
    """A whole `--claude-code` SPEC: its items in the order given."""
    text: str
    items: tuple[SpecItem, ...]

    @classmethod
    def parse(cls, text: str) -> "ReleaseSpec":
        """The items of `text`; ReleaseError (one line) when it names none or one is malformed."""
        items = [s for s in text.split(",") if s.strip()]
        if not items:
            raise ReleaseError("--claude-code needs a version, `latest`, a comma list, or a path")
        return cls(text, tuple(SpecItem.of(s) for s in items))
