"""The macOS backend's code path, rehearsed here with keychain-sim and documented stand-ins behind it:
no dialog is drawn; consent is read from a session without window-server access (exit 36) and the
scenario's answer emulated or reported as unanswerable; every call is logged and has one deadline;
a run that skipped its way through fails."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from keychain_claims.backends import RehearsalBackend
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.fakes import Fakes
from keychain_claims.harness import claude_code
from keychain_claims.security import callers
from keychain_claims.harness.driver import UnansweredDialog
from keychain_claims.harness.sandbox import Sandbox
from keychain_claims.harness.world import World
from keychain_claims.plugins.publish import coverage_alarm


@pytest.fixture
def world():
    fakes = Fakes()
    box = Sandbox(RehearsalBackend(), fakes)
    try:
        box.prepare()
        box.session.set_gui(gui=True)
        w = World(box)
        assert w.claude_write(fakes.credential()).status == 0
        yield w
    finally:
        box.close()


def distrust(world: World) -> None:
    """Re-create the item with `-T ""`: every reader must be asked."""
    world.security(*claude_code.delete_argv(world.account, world.service))
    payload = str(world.credential.payload).encode().hex()
    line = f'add-generic-password -a "{world.account}" -s "{world.service}" -X "{payload}" -T ""\n'
    assert world.security("-i", stdin=line).status == 0


@pytest.mark.mac_session
def test_a_typed_read_whose_dialog_needs_a_click_fails_at_once_and_the_shell_goes_on(world):
    distrust(world)
    started = time.monotonic()
    with pytest.raises(UnansweredDialog, match="a keychain dialog appeared and nobody answered it"):
        world.type('security find-generic-password -s "Claude Code-credentials" -w > /dev/null',
                   choices=("Always Allow",))
    assert time.monotonic() - started < world.backend.call_limit      # not the hard limit: at once
    from keychain_claims.sim import control
    assert control.windows(world.session.state_dir) == []   # dismissed
    assert world.type("echo still here").output.strip() == "still here"
    assert [e["outcome"] for e in world.session.prompt_events()] == ["unanswered"]


@pytest.mark.mac_session
def test_a_typed_read_answered_deny_is_the_dismissal(world):
    distrust(world)
    run = world.type('security find-generic-password -s "Claude Code-credentials" -w', choices=("Deny",))
    assert run.status != 0
    assert [(p.kind, p.answer, p.emulated) for p in run.prompts] == [("item-dialog", "Deny", True)]


@pytest.mark.mac_session
def test_always_allow_is_applied_to_the_access_and_the_read_runs_again(world):
    distrust(world)
    first = world.claude_read(choices=("Always Allow",))
    assert first.status == 0 and first.stdout == str(world.credential.payload) + "\n"
    assert "Always Allow" in first.context["emulated"]
    second = world.claude_read(default="Deny")             # the grant holds: no dialog at all
    assert second.status == 0
    assert [p.answer for p in world.dialogs("item")] == ["Always Allow"]


@pytest.mark.mac_session
def test_allow_reads_once_and_leaves_the_access_as_it_was(world):
    distrust(world)
    assert world.claude_read(choices=("Allow",)).status == 0
    assert world.claude_read(default="Deny").status != 0
    assert [p.answer for p in world.dialogs("item")] == ["Allow", "Deny"]


@pytest.mark.mac_session
def test_a_non_gui_session_gets_the_real_exit_36_and_no_dialog_is_counted(world):
    distrust(world)
    world.session.set_gui(gui=False)
    call = world.claude_read(default="Always Allow")
    assert call.status == 36 and "emulated" not in call.context
    assert world.dialogs("item") == []
    assert [e["outcome"] for e in world.session.prompt_events()] == [
        "no-ui (real: exit 36, no window-server access)"]


@pytest.mark.mac_session
def test_a_test_caller_reads_with_interaction_disabled_and_its_grant_follows_its_identity(world):
    app = callers.app("Helper", "adhoc")
    assert world.claude_read(caller=app, choices=("Always Allow",)).status == 0
    assert world.claude_read(caller=app, default="Deny").status == 0           # same build: granted
    assert world.claude_read(caller=app.updated(), default="Deny").status != 0   # rebuilt: asked again
    assert [p.answer for p in world.dialogs("item")] == ["Always Allow", "Deny"]
    sources = [e.get("source") for e in world.session.prompt_events()]
    assert sources == ["exit 36 in a session without window-server access"] * 2


@pytest.mark.mac_session
def test_the_shim_logs_every_call_with_secrets_masked(world):
    log = world.session.call_log()
    writes = [argv for argv in log if argv[:1] == ["add-generic-password"]]
    assert writes and all("<secret>" in argv for argv in writes)
    assert not any(str(world.credential.payload).encode().hex() in json.dumps(argv) for argv in log)
    assert all(str(world.sandbox.keychain.path) not in argv for argv in writes)  # as the caller asked, -i lines too


def outcomes(ran: int, skipped_here: int, other_skips: int, backend: str = "rehearsal") -> list[Outcome]:
    return ([Outcome("n", "s", backend, [], "passed") for _ in range(ran)]
            + [Outcome("n", "s", backend, [], "skipped", f"not on the {backend} backend: why") for _ in range(skipped_here)]
            + [Outcome("n", "s", backend, [], "skipped", "no --claude-code given") for _ in range(other_skips)])


def test_a_run_below_nine_in_ten_fails_and_says_why():
    backend = RehearsalBackend()
    assert coverage_alarm(outcomes(9, 1, 20), backend) is None
    alarm = coverage_alarm(outcomes(8, 2, 0), backend)
    assert alarm.startswith("COVERAGE: only 8 of 10 scenarios ran on the rehearsal backend (80% < 90%)")


@pytest.mark.suite
def test_backend_macos_off_a_mac_is_red_not_green(run_suite):
    if sys.platform == "darwin":
        pytest.skip("this host is a Mac: --backend macos runs for real here")
    proc = run_suite("--backend", "macos", "-q", "--claude-code", "none", "-p", "no:randomly")
    assert proc.returncode == 4, proc.stdout[-2000:]              # refused before anything ran or was written
    assert proc.stderr.strip().splitlines()[-1].startswith("ERROR: --backend macos cannot run here"), proc.stderr[-500:]


@pytest.mark.mac_session
def test_a_call_nobody_drives_gets_its_answer_from_the_session_at_once(tmp_path):
    """A release's `security` call is not made through the harness's driver: the shim runs it in the
    session without window-server access; in a GUI scenario its 36 stands for a dialog nobody on a
    runner answers (the dialog's cancel, 128); without a GUI the 36 is the answer.  No window is
    ever opened and nothing is left waiting."""
    box = Sandbox(RehearsalBackend(), Fakes())
    try:
        box.prepare()
        box.session.set_gui(gui=True)
        w = World(box)
        assert w.claude_write(Fakes().credential()).status == 0
        distrust(w)
        read = ["security", *claude_code.read_argv(w.account, w.service)]
        proc = subprocess.run(read, env=box.env, cwd=box.home, capture_output=True, text=True, timeout=30)
        assert (proc.returncode, proc.stderr) == (128, "security: SecKeychainItemCopyContent: User canceled the operation.\n")
        box.session.set_gui(gui=False)
        proc = subprocess.run(read, env=box.env, cwd=box.home, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 36
        from keychain_claims.sim import control
        assert control.windows(box.session.state_dir) == []
        assert [e["outcome"].split(" ")[0] for e in box.session.prompt_events()] == ["unanswered", "no-ui"]
    finally:
        box.close()
    assert subprocess.run(["pgrep", "-f", str(box.root)], capture_output=True).stdout == b""


@pytest.mark.stress
def test_a_slow_call_that_is_not_a_dialog_ends_at_its_deadline_and_invents_no_dialog(tmp_path):
    """Issue 21: a call still running after 3 s used to count as a dialog.  Now a slow call is just a
    call past its one deadline: a harness error, recorded as such, with no dialog in the log."""
    slow = tmp_path / "security"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    log = tmp_path / "dialogs.jsonl"
    proc = subprocess.run([sys.executable, "-m", "keychain_claims.backends.macos.shim", "--keychain",
                           "/k/keychain-claims-scratch.keychain-db", "--real", str(slow), "--dialog-log", str(log),
                           "--", "find-generic-password", "-s", "x", "-w"],
                          capture_output=True, text=True, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                                                               "KEYCHAIN_CLAIMS_CALL_LIMIT": "2"}, timeout=30)
    assert proc.returncode == 1 and "harness: security did not finish within its 2 s deadline" in proc.stderr
    assert not log.exists()
    assert "did not finish" in (tmp_path / "harness-events.jsonl").read_text()


def test_a_backend_skip_reads_as_its_reason_and_counts_against_the_backend():
    from types import SimpleNamespace
    from keychain_claims.claims.outcomes import outcome_from_report
    report = SimpleNamespace(
        user_properties=[("claims", ["SYM-DIALOG"]), ("backend", "rehearsal"), ("scenario", "s")],
        when="call", passed=False, failed=False, skipped=True, outcome="skipped", nodeid="n",
        longrepr=("f.py", 1, "keychain_claims.backends.base.BackendSkipped: not on the rehearsal backend: why"))
    outcome = outcome_from_report(report)
    assert outcome.reason == "not on the rehearsal backend: why"
    assert coverage_alarm([outcome] + outcomes(1, 0, 0), RehearsalBackend()).startswith("COVERAGE: only 1 of 2")
