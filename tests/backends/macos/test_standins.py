"""Issue 21: a first Mac run that cannot hang, never touches the keybag and guesses no evidence.
Each test fails on the code before the fix (named in its docstring)."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from keychain_claims.backends import MacOSBackend, RehearsalBackend, SimBackend
from keychain_claims.backends.base import BackendError
from keychain_claims.backends.macos import callers as mac_callers
from keychain_claims.backends.macos.dialogs import SecurityAgentWatch
from keychain_claims.fakes import Fakes
from keychain_claims.harness import callers
from keychain_claims.harness.driver import CallDeadline
from keychain_claims.harness.sandbox import Sandbox
from keychain_claims.harness.world import World


def _world(backend) -> World:
    fakes = Fakes()
    box = Sandbox(backend, fakes)
    box.prepare()
    box.backend.set_session(box, gui=True)
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
    assert [a[-1] for a in world.backend.call_log(world.sandbox) if a[:1] == ["show-keychain-info"]][-1] \
        .endswith("login.keychain-db")            # logged as typed, run on the scratch file


# --------------------------------------------------------------------------- 4. exit 51 from a test caller
def test_a_test_caller_that_gets_errSecAuthFailed_is_recognised_as_needing_consent(monkeypatch):
    """Before: only 36 was recognised; a Mac's 51 made the read fail as if it were evidence."""
    monkeypatch.setenv("KEYCHAIN_CLAIMS_FAULTS", "exit51")
    w = _world(RehearsalBackend())
    try:
        app = callers.app("Helper", "adhoc")
        call = w.claude_read(caller=app, choices=("Always Allow",))
        assert call.status == 0 and "emulated" in call.context
        assert [p.answer for p in w.dialogs("item")] == ["Always Allow"]
        assert "exit 51" in w.backend.prompt_events(w.sandbox)[0]["source"]
    finally:
        w.sandbox.close()


# --------------------------------------------------------------------------- 5. CDHash, no half-changed ACL
def test_the_cdhash_comes_from_codesign_dvvv(world):
    """Before: `codesign -d -v`, which prints no CDHash=."""
    app = callers.app("Helper", "adhoc")
    assert mac_callers.partition_id(world.sandbox, app) == f"cdhash:{app.cdhash}"


def test_without_a_cdhash_the_grant_fails_before_the_acl_is_touched(monkeypatch):
    """Before: the ACL was edited first, then the missing CDHash raised: a half-changed item."""
    monkeypatch.setenv("KEYCHAIN_CLAIMS_FAULTS", "cdhash")
    w = _world(RehearsalBackend())
    try:
        before = w.security("dump-keychain", "-a", str(w.sandbox.keychain.path)).stdout
        with pytest.raises(BackendError, match="CDHash"):      # signed with an identity: no cdhash in its requirement
            w.claude_read(caller=callers.app("Team App", "developer-id", team="TEAM000001"), choices=("Always Allow",))
        assert w.security("dump-keychain", "-a", str(w.sandbox.keychain.path)).stdout == before
    finally:
        w.sandbox.close()


# --------------------------------------------------------------------------- 6. LibreSSL, partition list
def test_a_team_identity_is_made_with_libressl_and_its_key_is_usable_by_codesign(world):
    """Before: `openssl pkcs12 -legacy` (LibreSSL refuses it) and no set-key-partition-list after
    `import` (codesign would ask for the key in a dialog)."""
    app = callers.app("Team App", "developer-id", team="TEAM000001")
    path = mac_callers.build(world.sandbox, app)
    sig = json.loads(Path(str(path) + ".sig.json").read_text())
    assert sig["authority"] == "keychain-claims test team TEAM000001"
    log = [a for a in world.backend.call_log(world.sandbox)]          # the scratch keychain was not used
    assert not any(a[:1] == ["import"] for a in log)


# --------------------------------------------------------------------------- 8. harness errors are not evidence
def _report(wasxfail: bool):
    report = SimpleNamespace(outcome="skipped" if wasxfail else "failed", skipped=wasxfail, longrepr="x")
    if wasxfail:
        report.wasxfail = "recorded contradiction of CAU-X on backend any"
    return report


@pytest.mark.parametrize("chosen, prefix", [(RehearsalBackend(), "Skipped: not on the rehearsal backend: harness error"),
                                            (SimBackend(), "Skipped: not checkable: harness error")])
def test_a_finding_for_any_backend_does_not_turn_a_harness_error_into_contradicted(chosen, prefix):
    """Before: a `backend: any` finding made an AssertionError from a harness artefact read
    "contradicted -- finding still holds" on the Mac.  The rule holds on every backend."""
    from keychain_claims.plugins.outcomes import only_evidence
    chosen.harness_events = lambda: ["a security call (find-generic-password) did not finish within its 6 s deadline"]
    item = SimpleNamespace(path="f.feature", location=("f", 1, "t"), stash={})
    call = SimpleNamespace(when="call", excinfo=SimpleNamespace(value=AssertionError("2 item dialogs shown, expected 1")))
    report = _report(wasxfail=True)
    only_evidence(chosen, item, call, report)
    assert not hasattr(report, "wasxfail")
    assert report.outcome == "skipped" and report.longrepr[2].startswith(prefix)


def test_a_harness_exception_is_a_backend_skip_not_a_failure():
    from keychain_claims.plugins.outcomes import only_evidence
    backend = RehearsalBackend()
    backend.harness_events = lambda: []
    item = SimpleNamespace(path="f.feature", location=("f", 1, "t"), stash={})
    report = _report(wasxfail=False)
    only_evidence(backend, item, SimpleNamespace(when="call", excinfo=SimpleNamespace(value=CallDeadline("harness: x"))),
                  report)
    assert report.outcome == "skipped"


# --------------------------------------------------------------------------- 9. the app rewrites the item itself
def test_another_application_rewrites_the_item_as_itself(world):
    """Before: the write went to `security` (the shim sent only reads to the test caller), so the
    item's partition list stayed apple-tool:."""
    writer = callers.app("Writer", "developer-id", team="W1RITER000")
    call = world.claude_write(Fakes().credential(), caller=writer, default="Always Allow")
    assert call.status == 0, call.transcript()
    dump = world.security("dump-keychain", "-a", str(world.sandbox.keychain.path)).stdout
    assert "teamid:W1RITER000" in dump                       # -U: the modifier's partition ID (sim model)
    assert not any(a[:1] == ["add-generic-password"] and "W1RITER000" in json.dumps(a)
                   for a in world.backend.call_log(world.sandbox))


# --------------------------------------------------------------------------- 10. the team identity signs
def test_keychain_claims_team_identity_really_signs(world, monkeypatch):
    """Before: the variable only removed the skip; the throwaway identity still signed."""
    monkeypatch.setenv("KEYCHAIN_CLAIMS_TEAM_IDENTITY", "Developer ID Application: Example (TEAM000002)")
    path = mac_callers.build(world.sandbox, callers.app("Signed", "developer-id", team="TEAM000002"))
    assert json.loads(Path(str(path) + ".sig.json").read_text())["authority"] == \
        "Developer ID Application: Example (TEAM000002)"


# --------------------------------------------------------------------------- 11. plain skips count
def test_a_plain_skip_that_names_the_backend_counts_against_the_90_percent_gate():
    """Before: only BackendSkipped reasons ("not on the X backend") counted; release_steps.py's plain
    pytest.skip("... the macos backend keeps no log ...") escaped the gate."""
    from keychain_claims.claims.outcomes import Outcome
    from keychain_claims.plugins.publish import coverage_alarm
    outs = [Outcome("n", "s", "macos", [], "passed") for _ in range(8)]
    outs += [Outcome("n", "s", "macos", [], "skipped", "needs a second keychain; the macos backend keeps every call "
                     "on the scratch one") for _ in range(2)]
    outs += [Outcome("n", "s", "macos", [], "skipped", "no --claude-code given") for _ in range(5)]
    alarm = coverage_alarm(outs, MacOSBackend())
    assert alarm and alarm.startswith("COVERAGE: only 8 of 10")


# --------------------------------------------------------------------------- capability for SYM-DIALOG
def test_dialog_text_is_visible_only_where_a_dialog_is_drawn():
    assert SimBackend().dialog_text_visible is True
    assert MacOSBackend(real_dialogs=False).dialog_text_visible is False
    assert MacOSBackend(real_dialogs=True).dialog_text_visible is True
    assert RehearsalBackend().dialog_text_visible is False


# --------------------------------------------------------------------------- 6 (assumptions)
@pytest.mark.corpus
def test_every_assumption_has_a_probe_and_all_settle_on_the_simulator(tmp_path):
    """Every assumption is settled -- held -- by the simulator or by the rehearsal (the macOS code
    path against the simulator); the only ones neither settles are refused for safety."""
    from keychain_claims.assumptions import settle as assumptions
    assert assumptions.REGISTRY and all(callable(a.probe) for a in assumptions.REGISTRY.values())
    sim = assumptions.settle(SimBackend(), tmp_path / "sim")
    rehearsal = assumptions.settle(RehearsalBackend(), tmp_path / "rehearsal")
    for aid in assumptions.REGISTRY:
        states = {sim[aid]["status"], rehearsal[aid]["status"]}
        assert "did-not-hold" not in states, (aid, sim[aid]["observed"], rehearsal[aid]["observed"])
        assert "held" in states, (aid, sim[aid]["observed"], rehearsal[aid]["observed"])
    assert all(t["calls"] for t in rehearsal.values() if t["status"] == "held" and t["id"] not in
               ("CODESIGN-CDHASH", "SIGNING-IDENTITY"))          # a transcript of what the host answered
    from keychain_claims.sim import fidelity
    rows = fidelity.settled(tmp_path / "rehearsal")
    assert rows and all(r["state"] in ("agrees", "not-comparable") for r in rows)


# --------------------------------------------------------------------------- 13. workflows
def test_macos_yml_keeps_mergeable_results_settles_assumptions_first_and_runs_release_free_scenarios_once():
    """Before: no allure-results/outcomes.json upload (its runs could not be merged) and every
    release cell ran every scenario again."""
    import yaml
    from keychain_claims import PROJECT_ROOT
    flow = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "macos.yml").read_text())
    jobs = flow["jobs"]
    once, cells = jobs["scenarios"], jobs["releases"]
    assert "claude-code" not in once["strategy"]["matrix"]
    runs = [s.get("run", "") for s in once["steps"]]
    settle = next(i for i, r in enumerate(runs) if "assumptions --settle" in r)
    suite = next(i for i, r in enumerate(runs) if ".venv/bin/pytest" in r)
    assert settle < suite and "--claude-code none" in runs[suite]
    assert all("-m release" in s["run"] for s in cells["steps"] if ".venv/bin/pytest" in s.get("run", ""))
    for job in (once, cells):
        uploaded = " ".join(s.get("with", {}).get("path", "") for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
        assert "reports/allure-results" in uploaded and "reports/outcomes.json" in uploaded
        assert all("timeout-minutes" in s for s in job["steps"] if ".venv/bin/pytest" in s.get("run", ""))
    assert any("reports/assumptions" in s.get("with", {}).get("path", "") for s in once["steps"])


def test_watch_yml_cannot_repeat_a_hang_every_day():
    """Before: a hanging macOS job ran to its 60 min limit and, cancelled, kept the report job (and the
    `watch-checked-<version>` cache) from running: the next day started it again."""
    import yaml
    from keychain_claims import PROJECT_ROOT
    jobs = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "watch.yml").read_text())["jobs"]
    suite = [s for s in jobs["macos"]["steps"] if ".venv/bin/pytest" in s.get("run", "")]
    assert suite and all(s["timeout-minutes"] < jobs["macos"]["timeout-minutes"] for s in suite)
    assert "needs.macos.result" not in jobs["report"]["if"]
    assert any("watch-checked-" in str(s.get("with", {}).get("key", "")) for s in jobs["report"]["steps"])
