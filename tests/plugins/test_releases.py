"""A ledger finding with `releases` is a strict xfail only for those releases (keychain_claims/plugins/ledger.py, releases.py)."""
from __future__ import annotations

import pytest

from keychain_claims.claims.release_order import in_releases as in_range


@pytest.mark.parametrize("version, releases, inside", [
    ("2.1.331", ">=2.1.331", True),
    ("2.1.81", ">=2.1.331", False),
    ("2.1.200", ">=2.1.113 <2.2", True),
    ("2.2.0", ">=2.1.113,<2.2", False),
    ("2.1.81", "2.1.81", True),
    ("2.1.82", "==2.1.81", False),
    ("2.1.81", "", False),
    ("installed", ">=2.1.0", False),
])
def test_a_version_is_in_a_findings_range(version, releases, inside):
    assert in_range(version, releases) is inside
