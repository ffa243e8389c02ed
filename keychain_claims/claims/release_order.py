"""Release version order, with packaging's `Version`: the one place releases are compared.

npm's versions of Claude Code (`1.0.22`, `2.1.113`) are PEP 440 versions too, and in the same
order (tests/releases/test_versions.py sorts the registry's whole list both ways).  A string that is no
version (`installed`, a path) sorts after every version, by its text, and is in no range."""
from __future__ import annotations

from packaging.version import InvalidVersion, Version

_EPOCH = Version("0")


def version_of(text: str) -> Version | None:
    """The Version a release string names, or None when it names none."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


def release_key(release: str) -> tuple[int, Version, str]:
    """Sort key for release strings: versions in version order, then anything else by its text."""
    version = version_of(release)
    return (0, version, "") if version is not None else (1, _EPOCH, release)


_OPS = {">=": Version.__ge__, "<=": Version.__le__, ">": Version.__gt__, "<": Version.__lt__,
        "==": Version.__eq__, "=": Version.__eq__, "": Version.__eq__}


def in_releases(version: str, releases: str) -> bool:
    """Whether `version` is in a ledger finding's `releases`: comparators joined by commas or
    spaces (`>=2.1.331`, `>=2.1.113 <2.2`), or an exact version.  The ledger's syntax is not
    PEP 440's (spaces, a bare version, `=`), so it is parsed here and compared with Version."""
    have = version_of(version)
    terms = releases.replace(",", " ").split()
    for term in terms:
        op = next(o for o in (">=", "<=", "==", ">", "<", "=", "") if term.startswith(o))
        bound = version_of(term[len(op):])
        if have is None or bound is None or not _OPS[op](have, bound):
            return False
    return bool(terms)
