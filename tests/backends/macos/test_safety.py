"""The real-backend guards, driven by a fake `security` (no Mac needed)."""
from __future__ import annotations

import pytest

from keychain_claims.backends.macos.safety import SafetyError, Snapshot, check_pinned, compare, snapshot

SCRATCH = "/sandbox/home/Library/Keychains/login.keychain-db"


def fake(search='    "/Users/me/Library/Keychains/login.keychain-db"\n', default=None, info=None):
    def run(argv):
        if argv[0] == "list-keychains":
            return 0, search, ""
        if argv[0] == "default-keychain":
            return 0, default or search, ""
        if argv[0] == "show-keychain-info":
            return 0, "", info if info is not None else f'Keychain "{SCRATCH}" no-timeout\n'
        return 1, "", ""
    return run


def test_unchanged_preferences_pass():
    compare(snapshot(fake()), snapshot(fake()))


def test_a_changed_search_list_fails_with_the_restore_command():
    before = snapshot(fake())
    after = snapshot(fake(search=f'    "{SCRATCH}"\n'))
    with pytest.raises(SafetyError, match="changed the user's keychain search list: restore it with"):
        compare(before, after)


def test_a_changed_default_fails():
    with pytest.raises(SafetyError, match="changed the default keychain"):
        compare(Snapshot("a", "x"), Snapshot("a", "y"))


def test_pinned_shim_passes_and_fallthrough_refuses():
    check_pinned(fake(), SCRATCH)
    with pytest.raises(SafetyError, match="not pinned to the scratch keychain"):
        check_pinned(fake(info='Keychain "/Users/me/Library/Keychains/login.keychain-db" no-timeout\n'), SCRATCH)
