"""Verdicts are derived from outcomes, never written by hand; recorded contradictions
keep the run green only while they hold (issue 2/4)."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.verdicts import Outcome, compute, fold, render_markdown

LEDGER = Ledger()


@pytest.mark.parametrize("results, verdict", [
    (["passed", "passed"], "holds"),
    (["passed", "xfailed"], "contradicted"),
    (["xfailed", "xpassed"], "no-longer-contradicted"),
    (["passed", "failed", "xfailed"], "fails"),
    (["skipped"], "not-checkable"),
    (["skipped", "passed"], "holds"),
])
def test_fold(results, verdict):
    assert fold(results) == verdict


def test_compute_names_backend_and_evidence():
    outcomes = [Outcome("n1", "S1", "sim", ["SYM-DIALOG"], "passed"),
                Outcome("n2", "S2", "sim", ["CAU-UPDATE"], "xfailed", "recorded contradiction of CAU-UPDATE")]
    verdicts = {v.claim: v for v in compute(outcomes, LEDGER, Article(), {"sim": True})}
    assert verdicts["SYM-DIALOG"].verdict == "holds" and verdicts["SYM-DIALOG"].simulated
    assert verdicts["CAU-UPDATE"].verdict == "contradicted"
    assert verdicts["CAU-UPDATE"].scenarios[0]["reason"].startswith("recorded contradiction")
    assert verdicts["CAV-PLAINTEXT"].verdict == "not-checkable"
    assert "No scenario for this claim ran" in verdicts["CAV-PLAINTEXT"].note
    table = render_markdown(list(verdicts.values()), Article(), {"sim": "simulated security(1)"})
    assert "| SYM-DIALOG | 17 | symptom | sim (simulated) | holds |" in table




def test_recorded_contradiction_keeps_run_green_and_breaks_when_it_stops(run_suite, tmp_path):
    """pytest-examples style: a finding recorded against a scenario that passes makes the run
    fail (strict xfail); the real ledger's findings keep it green."""
    ledger = yaml.safe_load(LEDGER.path.read_text())
    for claim in ledger["claims"]:
        if claim["id"] == "SYM-LOGIN-WORKS":
            claim["findings"] = [{"scenario": "Once allowed, the credential is read intact", "backend": "any",
                                  "evidence": "made up to prove that a contradiction that stops holding is caught"}]
    broken = tmp_path / "claude-code-keychain-acl-invalidation.claims.yaml"
    broken.write_text(yaml.safe_dump(ledger, sort_keys=False))
    selection = ("-k", "once_allowed or a_claude_code_update_invalidates", "--backend=sim")
    green = run_suite(*selection)
    assert green.returncode == 0, green.stdout[-3000:]
    assert re.search(r"\b1 passed, \d+ deselected, 1 xfailed\b", green.stdout), green.stdout[-500:]
    red = run_suite(*selection, f"--ledger={broken}")
    assert red.returncode == 1, red.stdout[-3000:]
    assert "[XPASS(strict)] recorded contradiction of SYM-LOGIN-WORKS on backend sim" in red.stdout
    claims = json.loads((tmp_path / "reports" / "claims.json").read_text())
    verdict = {c["claim"]: c["verdict"] for c in claims["claims"]}
    assert verdict["SYM-LOGIN-WORKS"] == "no-longer-contradicted" and verdict["CAU-UPDATE"] == "contradicted"


def test_a_passing_refutation_contradicts_and_a_failing_one_no_longer_does():
    def outcome(result, refutes):
        return Outcome("n", "s", "sim", ["CAU-REFRESH"], result, refutes=refutes)
    for result, refutes, verdict in [("passed", [], "holds"), ("passed", ["CAU-REFRESH"], "contradicted"),
                                     ("failed", ["CAU-REFRESH"], "no-longer-contradicted"),
                                     ("skipped", ["CAU-REFRESH"], "not-checkable")]:
        got = {v.claim: v for v in compute([outcome(result, refutes)], LEDGER, Article(), {"sim": True})}
        assert got["CAU-REFRESH"].verdict == verdict, (result, refutes)
