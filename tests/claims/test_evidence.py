"""A verdict only from evidence (issue 29): a scenario's outcome counts only when the harness proved
its preconditions held, and a recorded contradiction's strict xfail passes only on the finding's
own assertion, matched by the finding's ID.

The faults are injected into the real suite by a probe plugin (loaded with -p) that makes one step
raise before its function runs -- pytest-bdd's `pytest_bdd_before_step_call` is inside the step's
error handling, so the suite sees exactly what a failing step would give it."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests import ROOT, child


PROBE = '''
import os

def pytest_bdd_before_step_call(request, step):
    if " ".join(step.name.split()) == os.environ["PROBE_STEP"]:
        kind = os.environ["PROBE_RAISES"]
        if kind == "assert":
            raise AssertionError("probe: an assertion the scenario does not record")
        if kind == "noexec":                  # the sandbox's security can no longer be started
            request.getfixturevalue("world").sandbox.bin.joinpath("security").chmod(0)
            return
        raise KeyError("probe: a crash of the harness")
'''

UPDATE = "A Claude Code update invalidates the grant held by security"          # finding CAU-UPDATE/…
RESET_DELETE = "The delete removes the item and costs exactly one login"     # @supports:FIX-RESET-DELETE, sim
REFRESH = "A token refresh updates the item in place and keeps the grant held by security"   # @refutes:CAU-REFRESH


def probed(tmp_path: Path, keyword: str, step: str, raises: str, *extra: str) -> tuple[dict, subprocess.CompletedProcess]:
    (tmp_path / "kc_probe.py").write_text(PROBE)
    reports = tmp_path / "reports"
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "PROBE_STEP": step, "PROBE_RAISES": raises}
    proc = child.run("-p", "kc_probe", "--backend=sim", "--claude-code=none", f"--reports-dir={reports}",
                     f"--alluredir={tmp_path / 'allure'}", "-n", "0", "-k", keyword, *extra, env=env)
    table = reports / "claims.partial.json"
    assert table.exists(), proc.stdout[-3000:] + proc.stderr[-2000:]
    return {c["claim"]: c for c in json.loads(table.read_text())["claims"]}, proc


def _scenario(claim: dict, name: str) -> dict:
    return next(s for s in claim["scenarios"] if s["scenario"].startswith(name))


@pytest.mark.suite
def test_a_failed_set_up_step_of_a_finding_is_not_checkable_not_contradicted(tmp_path):
    """Before: the strict xfail took any AssertionError -- a Given step that could not set the
    scenario up made CAU-UPDATE "contradicted" (as the Mac shim's refusal of the scenario's own
    set-up did on 2.1.332)."""
    claims, proc = probed(tmp_path, "update_invalidates", "Claude Code has stored a credential for the current user",
                          "assert")
    update = claims["CAU-UPDATE"]
    assert update["verdict"] == "not-checkable", update
    assert "set-up step" in _scenario(update, UPDATE)["reason"], update


@pytest.mark.suite
def test_a_findings_scenario_failing_on_another_assertion_fails(tmp_path):
    """Before: an assertion of another step than the finding's own counted as the finding holding."""
    claims, proc = probed(tmp_path, "update_invalidates", "Claude Code is updated to a newly signed build", "assert")
    update = claims["CAU-UPDATE"]
    assert update["verdict"] == "fails", update
    assert proc.returncode == 1


@pytest.mark.suite
def test_a_crash_is_never_evidence_not_even_in_a_refuting_scenario(tmp_path):
    """Before: a crash (KeyError) in a @refutes scenario made the claim "no-longer-contradicted"."""
    claims, proc = probed(tmp_path, "updates_the_item_in_place_and_keeps", "1 item dialog was shown in all", "crash")
    refresh = claims["CAU-REFRESH"]
    assert refresh["verdict"] == "not-checkable", refresh
    assert "harness error: KeyError" in _scenario(refresh, REFRESH)["reason"]


@pytest.mark.suite
def test_a_security_the_harness_cannot_start_is_no_answer(tmp_path):
    """Held-out (H3): the sandbox's `security` made non-executable before a check -- the shell's exit
    126 was read as security's answer ("the item is not there"), so the claim "fails" (and with a
    check for absence, a finding "stopped holding")."""
    # A check for absence on the simulator: the sandbox's security run after the article's delete
    # (CAV-REWRITE's scenario, which did this with "the item exists again", is now a release one).
    claims, proc = probed(tmp_path, "delete_removes_the_item", "the item no longer exists", "noexec")
    delete = claims["FIX-RESET-DELETE"]
    assert delete["verdict"] == "not-checkable", delete
    assert "could not be started (exit 126" in _scenario(delete, RESET_DELETE)["reason"], delete


@pytest.mark.suite
def test_the_finding_that_held_is_named_by_its_id(tmp_path):
    """Unprobed (a step that no scenario has): the finding holds on its own assertion, and the
    result carries its ID and quotes its evidence."""
    claims, proc = probed(tmp_path, "update_invalidates", "no such step", "assert")
    update = claims["CAU-UPDATE"]
    assert update["verdict"] == "contradicted", update
    from keychain_claims.claims.ledger import Ledger
    finding = Ledger().finding("CAU-UPDATE/no-prompt-after-update")
    assert _scenario(update, UPDATE)["evidence"].endswith(finding.evidence)


@pytest.mark.release
@pytest.mark.parametrize("version, verdict, finding", [
    ("2.1.332", "contradicted", "FIX-FILE-FALLBACK/refused-write-lost"),   # its own assertion: no file written
    ("2.1.81", "holds", None),                                             # writes the file at mode 600
])
def test_the_rehearsal_sets_up_a_second_keychain_and_judges_the_release_on_its_own_assertion(
        tmp_path, version, verdict, finding):
    """Before: the Mac shim refused the scenario's own Given step (create-keychain …/other.keychain-db,
    "not the scratch keychain"); the strict xfail took that AssertionError, so on 2.1.332 the claim was
    "contradicted" quoting the 1.0.68–2.0.31 finding (findings looked up by scenario name), and on
    2.1.81 it "fails".  Now the sandbox's second keychain is set up, the release runs, and the verdict
    comes from the release's own behaviour, quoting the finding that held, by its ID."""
    from keychain_claims.claims.ledger import Ledger
    from keychain_claims.releases import registry
    if version not in registry.cached_versions():
        pytest.skip(f"Claude Code {version} is not cached here")
    reports = tmp_path / "reports"
    proc = child.run("--backend=rehearsal", f"--claude-code={version}", f"--reports-dir={reports}",
                     f"--alluredir={tmp_path / 'a'}", "-n", "0", "-k", "refuses_to_take", timeout=900)
    table = json.loads((reports / "claims.partial.json").read_text())
    claim = next(c for c in table["claims"] if c["claim"] == "FIX-FILE-FALLBACK")
    scenario = claim["scenarios"][0]
    if claim["verdict"] == "not-checkable" and re.search(r"did not (finish|get going) within|deadline", scenario["reason"]):
        pytest.skip(f"this host was too slow for the release: {scenario['reason'][:200]}")    # never a verdict
    assert claim["verdict"] == verdict, (claim, proc.stdout[-2000:])
    assert "not the scratch keychain" not in scenario["reason"] and "shim refused" not in scenario["reason"]
    if finding:
        assert scenario["evidence"].endswith(" ".join(Ledger().finding(finding).evidence.split())[:200]) or \
            Ledger().finding(finding).evidence[:120] in scenario["evidence"], scenario["evidence"]


# ---------------------------------------------------------------- point 5: what a table leaves out
UNTAGGED = """Feature: A scenario nobody tagged
  Scenario: An untagged scenario that fails
    Given a scratch login keychain with no timeout
    Then 7 item dialogs were shown in all
"""


@pytest.mark.suite
def test_an_untagged_failure_is_reported_and_runxfail_is_not_a_complete_run(tmp_path):
    """Before: a failing scenario without a claim tag left the complete table saying "0 fails", and
    a run with --runxfail (the findings' xfails switched off) replaced the complete table, turning
    the recorded contradictions into fails."""
    import shutil
    features = tmp_path / "features"
    shutil.copytree(ROOT / "features", features)
    (features / "zz_untagged.feature").write_text(UNTAGGED)
    reports = tmp_path / "reports"
    base = ["--backend=sim", "--claude-code=none", f"--reports-dir={reports}", f"--alluredir={tmp_path / 'allure'}",
            "-n", "2"]
    proc = child.run(*base, "-o", f"bdd_features_base_dir={features}", timeout=900)
    table = json.loads((reports / "claims.json").read_text())
    assert [f["scenario"] for f in table["suite_failures"]] == ["An untagged scenario that fails"], proc.stdout[-2000:]
    assert "SUITE FAILURE: 1 scenario failed without a claim" in (reports / "claims.md").read_text()
    assert "SUITE FAILURE" in proc.stdout and proc.returncode == 1
    before = (reports / "claims.json").read_bytes()
    proc = child.run(*base, "--runxfail", timeout=900)
    assert (reports / "claims.json").read_bytes() == before, proc.stdout[-2000:]
    partial = json.loads((reports / "claims.partial.json").read_text())
    assert "--runxfail" in partial["partial"]
