"""The macOS backend's code path (keychain_claims/backends/macos/), rehearsed with its stand-ins: a
first Mac run that cannot hang, never touches the keybag and guesses no evidence (issue 21).  Each
test fails on the code before the fix (named in its docstring)."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from keychain_claims.backends import MacOSBackend, RehearsalBackend, SimBackend
from keychain_claims.backends.base import BackendError
from keychain_claims.backends.macos import callers as mac_callers
from keychain_claims.backends.macos.dialogs import SecurityAgentWatch
from keychain_claims.fakes import Fakes
from keychain_claims.security import callers
from keychain_claims.harness.driver import CallDeadline
from keychain_claims.harness.sandbox import Sandbox
from keychain_claims.harness.world import World


def _world(backend) -> World:
    fakes = Fakes()
    box = Sandbox(backend, fakes)
    box.prepare()
    box.session.set_gui(gui=True)
    w = World(box)
    assert w.claude_write(fakes.credential()).status == 0
    return w


@pytest.fixture
def world():
    w = _world(RehearsalBackend())
    yield w
    w.sandbox.close()


# --------------------------------------------------------------------------- 1. one deadline
@pytest.mark.stress
def test_sleep_600_typed_with_a_5_s_deadline_ends_as_a_harness_error_and_invents_no_dialog():
    """Before: the watch reported a dialog (pid 0) after 3 s, dismiss() reset its timer and Shell.run
    restarted the wait with a fresh timeout -- `sleep 600` was still running after 25 s."""
    box = Sandbox(SimBackend())
    try:
        shell = box.shell()
        watch = SecurityAgentWatch(box, locked=lambda: False)    # the Mac's watch; no SecurityAgent here
        invented, result = [], {}

        def type_it():
            try:
                shell.run("sleep 600", timeout=5, watch=watch,
                          on_dialog=lambda window, responder: invented.append(window) or "invented")
            except BaseException as exc:       # noqa: BLE001 - what ended it is the assertion
                result["exc"] = exc
        started = time.monotonic()
        worker = threading.Thread(target=type_it, daemon=True)
        worker.start()
        worker.join(60)                         # a hang detector, not a timing assertion
        took = time.monotonic() - started
        assert not worker.is_alive(), "the typed command outlived its deadline"
        assert isinstance(result.get("exc"), CallDeadline), result
        assert invented == []
        print(f"sleep 600 with a 5 s deadline ended after {took:.1f} s")
        assert shell.run("echo still here", timeout=5).output.strip() == "still here"    # the shell goes on
    finally:
        box.close()


# --------------------------------------------------------------------------- 2/3. no login.keychain name
@pytest.mark.mac_session
def test_the_scratch_keychain_is_never_named_like_a_login_keychain_and_the_typed_login_path_maps_to_it(world):
    """Before: the scratch keychain was ~/Library/Keychains/login.keychain-db, which securityd treats as
    a login keychain (KeychainDbCommon: strcasestr(dbName, "login.keychain"))."""
    for backend in (MacOSBackend(), RehearsalBackend()):
        assert "login.keychain" not in backend.scratch_keychain_file.lower()
    scratch = world.sandbox.keychain.path
    assert "login.keychain" not in str(scratch).lower()
    run = world.type("security show-keychain-info ~/Library/Keychains/login.keychain-db")
    assert run.status == 0, run.output
    assert f'Keychain "{scratch}"' in run.output
    keychains = world.sandbox.home / "Library" / "Keychains"
    assert [p.name for p in keychains.iterdir() if "login" in p.name.lower()] == []
    assert [a[-1] for a in world.session.call_log() if a[:1] == ["show-keychain-info"]][-1] \
        .endswith("login.keychain-db")            # logged as typed, run on the scratch file


# --------------------------------------------------------------------------- 4. exit 51 from a test caller
@pytest.mark.mac_session
def test_a_test_caller_that_gets_errSecAuthFailed_is_recognised_as_needing_consent():
    """Before: only 36 was recognised; a Mac's 51 made the read fail as if it were evidence."""
    w = _world(RehearsalBackend(faults="exit51"))
    try:
        app = callers.app("Helper", "adhoc")
        call = w.claude_read(caller=app, choices=("Always Allow",))
        assert call.status == 0 and "emulated" in call.context
        assert [p.answer for p in w.dialogs("item")] == ["Always Allow"]
        assert "exit 51" in w.session.prompt_events()[0]["source"]
    finally:
        w.sandbox.close()


# --------------------------------------------------------------------------- 5. CDHash, no half-changed ACL
@pytest.mark.mac_session
def test_the_cdhash_comes_from_codesign_dvvv(world):
    """Before: `codesign -d -v`, which prints no CDHash=."""
    app = callers.app("Helper", "adhoc")
    assert mac_callers.partition_id(world.session, app) == f"cdhash:{app.cdhash}"


@pytest.mark.mac_session
def test_without_a_cdhash_the_grant_fails_before_the_acl_is_touched():
    """Before: the ACL was edited first, then the missing CDHash raised: a half-changed item."""
    w = _world(RehearsalBackend(faults="cdhash"))
    try:
        before = w.security("dump-keychain", "-a", str(w.sandbox.keychain.path)).stdout
        with pytest.raises(BackendError, match="CDHash"):      # signed with an identity: no cdhash in its requirement
            w.claude_read(caller=callers.app("Team App", "developer-id", team="TEAM000001"), choices=("Always Allow",))
        assert w.security("dump-keychain", "-a", str(w.sandbox.keychain.path)).stdout == before
    finally:
        w.sandbox.close()


# --------------------------------------------------------------------------- 6. LibreSSL, partition list
@pytest.mark.mac_session
def test_a_team_identity_is_made_with_libressl_and_its_key_is_usable_by_codesign(world):
    """Before: `openssl pkcs12 -legacy` (LibreSSL refuses it) and no set-key-partition-list after
    `import` (codesign would ask for the key in a dialog)."""
    app = callers.app("Team App", "developer-id", team="TEAM000001")
    path = mac_callers.build(world.session, app)
    sig = json.loads(Path(str(path) + ".sig.json").read_text())
    assert sig["authority"] == "keychain-claims test team TEAM000001"
    log = [a for a in world.session.call_log()]          # the scratch keychain was not used
    assert not any(a[:1] == ["import"] for a in log)


# --------------------------------------------------------------------------- 9. the app rewrites the item itself
@pytest.mark.mac_session
def test_another_application_rewrites_the_item_as_itself(world):
    """Before: the write went to `security` (the shim sent only reads to the test caller), so the
    item's partition list stayed apple-tool:."""
    writer = callers.app("Writer", "developer-id", team="W1RITER000")
    call = world.claude_write(Fakes().credential(), caller=writer, default="Always Allow")
    assert call.status == 0, call.transcript()
    dump = world.security("dump-keychain", "-a", str(world.sandbox.keychain.path)).stdout
    assert "teamid:W1RITER000" in dump                       # -U: the modifier's partition ID (sim model)
    assert not any(a[:1] == ["add-generic-password"] and "W1RITER000" in json.dumps(a)
                   for a in world.session.call_log())


# --------------------------------------------------------------------------- 10. the team identity signs
@pytest.mark.mac_session
def test_keychain_claims_team_identity_really_signs(world, monkeypatch):
    """Before: the variable only removed the skip; the throwaway identity still signed."""
    monkeypatch.setenv("KEYCHAIN_CLAIMS_TEAM_IDENTITY", "Developer ID Application: Example (TEAM000002)")
    path = mac_callers.build(world.session, callers.app("Signed", "developer-id", team="TEAM000002"))
    assert json.loads(Path(str(path) + ".sig.json").read_text())["authority"] == \
        "Developer ID Application: Example (TEAM000002)"


# --------------------------------------------------------------------------- capability for SYM-DIALOG
def test_dialog_text_is_visible_only_where_a_dialog_is_drawn():
    assert SimBackend().dialog_text_visible is True
    assert MacOSBackend(real_dialogs=False).dialog_text_visible is False
    assert MacOSBackend(real_dialogs=True).dialog_text_visible is True
    assert RehearsalBackend().dialog_text_visible is False
