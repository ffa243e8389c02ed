"""A hosted runner's session (`gui-unattended`): a dialog opens a window nobody answers, the
caller waits until the window is dismissed, then fails as a cancelled dialog does; and a process
that turned user interaction off (KEYCHAIN_SIM_INTERACTION=0) fails at once with 36."""
from __future__ import annotations

import subprocess
import time

import pytest

from keychain_claims.sim import control
from tests.sim.conftest import SIM

SVC = "Claude Code-credentials"


@pytest.fixture
def guarded(login):
    """The login keychain with an item no app is trusted for: every secret read needs a dialog."""
    assert login("add-generic-password", "-a", "me", "-s", SVC, "-w", "s3cret", "-T", "").status == 0
    return login


def _session(sim, kind: str) -> None:
    sim.state.mkdir(parents=True, exist_ok=True)
    (sim.state / "session").write_text(kind)


def _start(sim, *argv: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(SIM + list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**sim.env, **(env or {})})


def _first_window(sim, proc: subprocess.Popen) -> list[dict]:
    """Wait (without asserting any timing) until the caller's window is open or it exited."""
    for _ in range(2000):
        open_windows = control.windows(sim.state)
        if open_windows or proc.poll() is not None:
            return open_windows
        time.sleep(0.01)
    return control.windows(sim.state)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_unattended_item_dialog_waits_as_a_window_until_dismissed(guarded):
    _session(guarded, "gui-unattended")
    proc = _start(guarded, "find-generic-password", "-s", SVC, "-w")
    try:
        opened = _first_window(guarded, proc)
        assert proc.poll() is None, "the caller must wait while its dialog is up"
        assert [(w["pid"], w["kind"], w["app"], w["item"]) for w in opened] == [(proc.pid, "item", "security", SVC)]
        assert "security" in opened[0]["text"] and SVC in opened[0]["text"]
        assert opened[0]["keychain"] and opened[0]["keychain"] in opened[0]["text"]
        assert control.dismiss(guarded.state) == 1
        status, out, err = _finish(proc)
    finally:
        proc.kill()
        proc.wait()
    assert (status, out, err) == (128, "", "")        # errSecUserCanceled; find prints nothing on a failed read
    assert control.windows(guarded.state) == []
    assert not list((guarded.state / "windows").glob("*"))           # the window file went with it
    prompt = control.prompts(guarded.state)[-1]
    assert (prompt["kind"], prompt["ui"], prompt["outcome"]) == ("item-access", "gui-unattended", "unanswered")


def test_unattended_unlock_dialog_is_a_window_of_kind_unlock(guarded):
    assert guarded("lock-keychain", guarded.login).status == 0
    _session(guarded, "gui-unattended")
    proc = _start(guarded, "find-generic-password", "-s", SVC, "-w")
    try:
        opened = _first_window(guarded, proc)
        assert [(w["pid"], w["kind"], w["item"]) for w in opened] == [(proc.pid, "unlock", "")]
        assert control.dismiss(guarded.state) == 1
        status, out, err = _finish(proc)
    finally:
        proc.kill()
        proc.wait()
    assert (status, out, err) == (128, "", "")
    assert control.windows(guarded.state) == []


def test_windows_drop_records_of_processes_that_are_gone(guarded):
    _session(guarded, "gui-unattended")
    proc = _start(guarded, "find-generic-password", "-s", SVC, "-w")
    try:
        assert [w["pid"] for w in _first_window(guarded, proc)] == [proc.pid]
    finally:
        proc.kill()                         # SIGKILL: no chance to remove its own window file
        proc.wait()
    assert (guarded.state / "windows" / f"{proc.pid}.json").exists()
    assert control.windows(guarded.state) == []
    assert control.dismiss(guarded.state) == 0
    assert not (guarded.state / "windows" / f"{proc.pid}.json").exists()


def test_unattended_read_that_needs_no_dialog_opens_no_window(login):
    assert login("add-generic-password", "-a", "me", "-s", SVC, "-w", "s3cret").status == 0   # security trusted
    _session(login, "gui-unattended")
    r = login("find-generic-password", "-s", SVC, "-w")
    assert (r.status, r.out) == (0, "s3cret\n")
    assert control.windows(login.state) == [] and control.prompts(login.state) == []


@pytest.mark.parametrize("session", ["gui", "gui-unattended", "none"])
def test_interaction_off_fails_36_at_once_whatever_the_session(guarded, session):
    _session(guarded, session)
    r = guarded("find-generic-password", "-s", SVC, "-w", env={"KEYCHAIN_SIM_INTERACTION": "0"})
    assert (r.status, r.out) == (36, "")
    assert control.windows(guarded.state) == []
    prompt = control.prompts(guarded.state)[-1]
    assert (prompt["kind"], prompt["outcome"], prompt["ui"]) == ("item-access", "interaction-not-allowed", session)


def test_interaction_off_refuses_the_unlock_dialog_too(guarded):
    assert guarded("lock-keychain", guarded.login).status == 0
    _session(guarded, "gui")
    r = guarded("find-generic-password", "-s", SVC, "-w", env={"KEYCHAIN_SIM_INTERACTION": "0"})
    assert (r.status, r.out) == (36, "")
    prompt = control.prompts(guarded.state)[-1]
    assert (prompt["kind"], prompt["outcome"]) == ("unlock", "interaction-not-allowed")


def test_interaction_on_is_the_default(guarded):
    _session(guarded, "none")
    r = guarded("find-generic-password", "-s", SVC, "-w", env={"KEYCHAIN_SIM_INTERACTION": "1"})
    assert r.status == 36
    assert "outcome" not in control.prompts(guarded.state)[-1]          # refused for the session, not the process
