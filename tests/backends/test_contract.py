"""The backend contract (jaraco/keyring's BackendBasicTests): one class of behaviour tests of the
session interface, run on every backend this host has -- sim and rehearsal everywhere, macos on a
Mac.  A backend that cannot run here is skipped with its own one-line reason (counted as skipped,
never as passed).

What every backend's session must do, through the sandbox's `security` shim:
* prepare a scratch keychain in the sandbox, unlocked; close it with the sandbox;
* add, read, update and delete a generic password;
* lock state: a restart locks the keychain, a read in a session without a GUI then fails, an unlock
  with the keychain password makes it readable again;
* another app's read: refused at once without a GUI (errSecInteractionNotAllowed, 36); in a GUI,
  Deny cancels (128), Allow reads once (the access is restored after), Always Allow grants for
  good -- the grant the item keeps;
* the call log and the prompt record where the backend's capabilities say it keeps them;
* a call naming a keychain other than the scratch one (the host user's login keychain) never
  reads it, and where the backend reaches the user's keychain domain the refusal is recorded as a
  harness event (the scenario is then not checkable).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from keychain_claims.backends import select
from keychain_claims.fakes import Fakes
from keychain_claims.harness.sandbox import Sandbox
from keychain_claims.security.callers import app

NO_UI, CANCELED = 36, 128
SECRET, NEWER = "KCCANARY-contract-1", "KCCANARY-contract-2"


@pytest.fixture(params=["sim", "rehearsal", "macos"])
def each_backend(request):
    chosen = select(request.param) if request.param != "rehearsal" else _rehearsal()
    why = chosen.unavailable()
    if why:
        pytest.skip(f"backend {chosen.name} unavailable here: {why}")
    return chosen


def _rehearsal():
    from keychain_claims.backends.rehearsal.backend import RehearsalBackend
    return RehearsalBackend(faults="")        # the contract is the fault-free one


@pytest.fixture
def session(each_backend):
    backend = each_backend
    box = Sandbox(backend, Fakes(seed=7))
    try:
        box.prepare()
        backend.harness_events()            # drained: what follows is this test's
        yield box.session
    finally:
        box.close()


def sec(session, *argv: str, choices: tuple[str, ...] = (), default: str = "Deny", caller=None):
    responder = session.sandbox.responder(choices=list(choices), default_choice=default)
    return session.run(list(argv), responder, caller=caller)


def keychain(session) -> str:
    return str(session.sandbox.keychain.path)


def add(session, secret: str = SECRET, *trusted: str):
    trust = [a for path in trusted for a in ("-T", path)]
    return sec(session, "add-generic-password", "-U", "-a", "acct", "-s", "contract", "-w", secret, *trust,
               keychain(session))


def read(session, **kw):
    return sec(session, "find-generic-password", "-a", "acct", "-s", "contract", "-w", keychain(session), **kw)


READER = app("Contract Reader", "developer-id", team="CONTRACT01")


def answered(session, choice: str):
    """The item added, then read by READER in a GUI session whose dialog is answered `choice`: it reads."""
    assert add(session).status == 0
    session.set_gui(True)
    got = read(session, caller=READER, choices=(choice,))
    assert (got.status, got.stdout.strip()) == (0, SECRET)


class TestSessionContract:
    # --- the scratch keychain's life -----------------------------------------------------------
    def test_prepare_makes_an_unlocked_scratch_keychain_in_the_sandbox(self, session):
        path = session.sandbox.keychain.path
        assert path.exists() and session.sandbox.root in path.parents
        info = sec(session, "show-keychain-info", keychain(session))
        assert info.status == 0, info.stderr

    def test_close_removes_the_sandbox_and_what_the_session_opened(self, each_backend):
        box = Sandbox(each_backend, Fakes(seed=8)).prepare()
        root = box.root
        box.close()
        assert not root.exists()

    # --- items through the shim -------------------------------------------------------------
    def test_add_read_update_delete(self, session):
        assert add(session).status == 0
        got = read(session)
        assert (got.status, got.stdout.strip()) == (0, SECRET)
        assert add(session, NEWER).status == 0               # -U: the same item, updated
        assert read(session).stdout.strip() == NEWER
        gone = sec(session, "delete-generic-password", "-a", "acct", "-s", "contract", keychain(session))
        assert gone.status == 0
        after = read(session)
        assert after.status == 44 and NEWER not in after.stdout          # errSecItemNotFound

    # --- lock state ------------------------------------------------------------------------
    def test_a_restart_locks_and_the_password_unlocks(self, session):
        assert add(session).status == 0
        session.set_gui(False)
        session.restart()
        locked = read(session)
        assert locked.status != 0 and SECRET not in locked.stdout
        unlocked = sec(session, "unlock-keychain", keychain(session))          # the password typed at its prompt
        assert unlocked.status == 0, unlocked.stderr
        assert read(session).stdout.strip() == SECRET

    # --- another app's read: consent ------------------------------------------------------------
    def test_without_a_gui_another_apps_read_is_refused_at_once(self, session):
        assert add(session).status == 0
        session.set_gui(False)
        got = read(session, caller=READER)
        assert got.status == NO_UI and SECRET not in got.stdout

    def test_deny_cancels_another_apps_read(self, session):
        assert add(session).status == 0
        session.set_gui(True)
        got = read(session, caller=READER, default="Deny")
        assert got.status == CANCELED and SECRET not in got.stdout

    def test_allow_reads_once_and_the_access_is_restored(self, session):
        answered(session, "Allow")
        again = read(session, caller=READER, default="Deny")                 # asked again: refused
        assert again.status == CANCELED and SECRET not in again.stdout

    def test_always_allow_grants_for_later_reads(self, session):
        answered(session, "Always Allow")
        session.set_gui(False)                                # no dialog could be answered now
        later = read(session, caller=READER)
        assert (later.status, later.stdout.strip()) == (0, SECRET)
        stranger = read(session, caller=app("Contract Stranger", "developer-id", team="CONTRACT02"))
        assert stranger.status == NO_UI                        # the grant is the reader's alone

    # --- what the session records -------------------------------------------------------------
    def test_the_call_log_is_kept_where_the_backend_says_so(self, session, each_backend):
        assert add(session).status == 0 and read(session).status == 0
        log = session.call_log()
        if not each_backend.keeps_call_log:
            assert log is None
            return
        assert log is not None
        reads = [argv for argv in log if argv[:1] == ["find-generic-password"]]
        assert reads and reads[-1][-1].endswith(session.sandbox.keychain.path.name)
        assert session.call_count() == len(log) >= 2

    def test_prompts_are_recorded_where_the_backend_says_so(self, session, each_backend):
        assert add(session).status == 0
        session.set_gui(True)
        read(session, caller=READER, default="Deny")
        events = session.prompt_events()
        if not each_backend.records_prompts:
            assert events is None
            return
        assert events, "a dialog was answered but no prompt was recorded"

    # --- the host's keychain is never reached --------------------------------------------------
    def test_a_call_naming_the_hosts_login_keychain_never_reads_it(self, session, each_backend):
        host_login = str(Path(os.path.expanduser("~")) / "Library" / "Keychains" / "login.keychain-db")
        assert add(session).status == 0
        got = sec(session, "find-generic-password", "-a", "acct", "-s", "contract", "-w", host_login)
        assert got.status != 0 and SECRET not in got.stdout
        if each_backend.user_keychain_guard is not None:          # it could reach the user's domain: refused, said
            events = each_backend.harness_events()
            assert any("refused" in e and host_login in e for e in events), events
