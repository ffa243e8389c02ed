"""Whether a release is in a ledger entry's `releases` (a finding's or an omission's): read by
the plugins (which findings are strict xfails for a release), the verdict fold and the release
matrix alike, so it lives below all of them."""
from __future__ import annotations

from keychain_claims.releases.registry import _vtuple


def in_range(version: str, releases: str) -> bool:
    """Whether `version` is in a ledger finding's `releases`: comparators joined by commas or
    spaces (`>=2.1.331`, `>=2.1.113 <2.2`), or an exact version."""
    ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
           "<": lambda a, b: a < b, "==": lambda a, b: a == b, "=": lambda a, b: a == b, "": lambda a, b: a == b}
    have = _vtuple(version)
    for term in releases.replace(",", " ").split():
        op = next(o for o in (">=", "<=", "==", ">", "<", "=", "") if term.startswith(o))
        if not have or not ops[op](have, _vtuple(term[len(op):])):
            return False
    return bool(releases.split())
