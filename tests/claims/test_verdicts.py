"""Verdicts are derived from outcomes, never written by hand; recorded contradictions
keep the run green only while they hold (issue 2/4)."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.files import ClaimsTable
from keychain_claims.claims.verdicts import compute, fold
from keychain_claims.reports.markdown import render_markdown

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
    row = next(line for line in table.splitlines() if "[SYM-DIALOG](#sym-dialog)" in line)
    assert row.startswith(f"| {LEDGER['SYM-DIALOG'].statement} | holds | 1 scenario stating it passed")   # its sentence first
    assert row.endswith("| [SYM-DIALOG](#sym-dialog) | sim (simulated) | — | 1 of 1 ran | 1 simulated |")
    assert "Article line 17 (symptom)" in table




@pytest.mark.suite
def test_recorded_contradiction_keeps_run_green_and_breaks_when_it_stops(run_suite, tmp_path):
    """pytest-examples style: a finding recorded against a scenario that passes makes the run
    fail (strict xfail); the real ledger's findings keep it green."""
    ledger = yaml.safe_load(LEDGER.path.read_text())
    for claim in ledger["claims"]:
        if claim["id"] == "SYM-LOGIN-WORKS":
            claim["findings"] = [{"id": "SYM-LOGIN-WORKS/made-up", "scenario": "Once allowed, the credential is read intact",
                                  "step": "the read returned the stored credential byte for byte", "backend": "any",
                                  "evidence": "made up to prove that a contradiction that stops holding is caught"}]
    broken = tmp_path / "claude-code-keychain-acl-invalidation.claims.yaml"
    broken.write_text(yaml.safe_dump(ledger, sort_keys=False))
    selection = ("-k", "once_allowed or a_claude_code_update_invalidates", "--backend=sim")
    green = run_suite(*selection)
    assert green.returncode == 0, green.stdout[-3000:]
    assert re.search(r"\b1 passed, \d+ deselected, 1 xfailed\b", green.stdout), green.stdout[-500:]
    red = run_suite(*selection, f"--ledger={broken}")
    assert red.returncode == 1, red.stdout[-3000:]
    assert "[XPASS(strict)] recorded contradiction SYM-LOGIN-WORKS/made-up of SYM-LOGIN-WORKS on backend sim" in red.stdout
    claims = json.loads((tmp_path / "reports" / "claims.partial.json").read_text())
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


# ---------------------------------------------------------------- polarity, coverage, provenance (issue 16)

def _outcome(result, claims=("CAU-REFRESH",), refutes=(), release="", name="s", reason="", nodeid=None, **kw):
    return Outcome(nodeid or f"n-{name}-{release}", name, "sim", list(claims), result, reason, release,
                   list(refutes), **kw)


@pytest.mark.parametrize("result, polarity, verdict", [
    ("passed", "supports", "holds"), ("passed", "refutes", "contradicted"),
    ("xfailed", "supports", "contradicted"), ("xpassed", "supports", "no-longer-contradicted"),
    ("failed", "supports", "fails"), ("failed", "refutes", "no-longer-contradicted"),
    ("skipped", "supports", "not-checkable"), ("skipped", "refutes", "not-checkable"),
])
def test_each_polarity_turns_a_result_into_its_verdict_overall_and_per_release(result, polarity, verdict):
    from keychain_claims.reports.matrix import cells
    refutes = ["CAU-REFRESH"] if polarity == "refutes" else []
    plain = _outcome(result, refutes=refutes)
    released = _outcome(result, refutes=refutes, release="2.1.81")
    overall = {v.claim: v for v in compute([plain], LEDGER, Article(), {"sim": True})}["CAU-REFRESH"]
    assert overall.verdict == verdict
    per_release = {v.claim: v for v in compute([released], LEDGER, Article(), {"sim": True})}["CAU-REFRESH"]
    assert per_release.releases == {"2.1.81": verdict}
    _, rows = cells([released], LEDGER)
    assert [(r["claim"], r["release"], r["verdict"]) for r in rows] == [("CAU-REFRESH", "2.1.81", verdict)]


def test_a_scenario_that_refutes_one_claim_and_supports_another_counts_for_each_the_right_way():
    from keychain_claims.claims.verdicts import scenario_verdict
    both = _outcome("passed", claims=["CAU-REFRESH", "CAV-REWRITE"], refutes=["CAU-REFRESH"], release="2.1.81")
    verdicts = {v.claim: v for v in compute([both], LEDGER, Article(), {"sim": True})}
    assert verdicts["CAU-REFRESH"].verdict == "contradicted" and verdicts["CAV-REWRITE"].verdict == "holds"
    assert verdicts["CAU-REFRESH"].scenarios[0]["polarity"] == "refutes"
    assert scenario_verdict(both) == "contradicted"


def test_one_pass_with_skipped_siblings_says_how_much_was_checked():
    seen = [_outcome("passed", claims=["CAU-ITEM"], name="a"),
            _outcome("skipped", claims=["CAU-ITEM"], name="b", reason="no --claude-code given: release scenarios need it"),
            _outcome("skipped", claims=["CAU-ITEM"], name="c", reason="no --claude-code given: release scenarios need it")]
    v = {v.claim: v for v in compute(seen, LEDGER, Article(), {"sim": True})}["CAU-ITEM"]
    assert v.verdict == "holds"
    assert v.coverage["ran"] == 1 and v.coverage["total"] == 3 and len(v.coverage["skipped"]) == 2
    assert v.summary == "holds — 1 of 3 scenarios ran; 2 skipped: no --claude-code given: release scenarios need it"
    table = render_markdown([v], Article(), {"sim": "simulated"})
    assert "| [CAU-ITEM](#cau-item) | sim (simulated) | — | 1 of 3 ran |" in table


class _Report:
    def __init__(self, props, outcome="passed"):
        self.user_properties, self.when, self.outcome = props, "call", outcome
        self.passed, self.failed, self.skipped = outcome == "passed", outcome == "failed", outcome == "skipped"
        self.nodeid, self.longrepr = "steps/test_features.py::test_x[sim]", None


@pytest.mark.parametrize("simulated, extra, provenance", [
    (True, [], ["simulated"]), (False, [], ["real"]),
    (True, [("provenance", ["fingerprint"])], ["fingerprint"]),
    (False, [("provenance", ["real"]), ("provenance", ["emulated", "predicted"])], ["real", "emulated", "predicted"]),
])
def test_provenance_defaults_to_the_backend_kind_and_takes_what_the_scenario_says(simulated, extra, provenance):
    from keychain_claims.claims.outcomes import outcome_from_report
    props = [("claims", ["CAU-ITEM"]), ("refutes", []), ("backend", "sim" if simulated else "macos"),
             ("simulated", simulated), ("scenario", "S <a>"), ("example", {"a": "1"}), *extra]
    outcome = outcome_from_report(_Report(props))
    assert outcome.provenance == provenance and outcome.name == "S 1"
    v = {v.claim: v for v in compute([outcome], LEDGER, Article(), {outcome.backend: simulated})}["CAU-ITEM"]
    assert v.provenance == {kind: 1 for kind in provenance}


def test_a_run_release_scenario_without_release_has_no_release_column():
    from keychain_claims.claims.outcomes import outcome_from_report
    props = [("claims", ["CAU-ITEM"]), ("backend", "sim"), ("simulated", True), ("scenario", "S"),
             ("release", "no-release")]
    assert outcome_from_report(_Report(props, "skipped")).release == ""


def test_claims_md_fills_in_example_values_and_has_one_row_per_claim(tmp_path):
    from keychain_claims.reports.markdown import write
    outline = _outcome("passed", claims=["CAU-BINDING"], name="A grant follows the signing identity (<change>)",
                       example={"change": "the app is rebuilt"})
    verdicts = compute([outline], LEDGER, Article(), {"sim": True})
    _, md = write(verdicts, tmp_path, Article(), {"sim": "simulated"})
    text = md.read_text()
    table = [line for line in text.splitlines() if re.search(r"\| \[[A-Z]+-[A-Z0-9-]+\]\(#", line)]
    assert len(table) == len(list(LEDGER))
    assert "A grant follows the signing identity (the app is rebuilt)" in text and "<change>" not in text
    doc = ClaimsTable.read(tmp_path / "claims.json")
    binding = next(c for c in doc.claims if c.claim == "CAU-BINDING")
    assert binding.summary == "holds — 1 of 1 scenario ran" and binding.provenance == {"simulated": 1}
    assert doc.counts["holds"] == 1 and doc.counts["not-checkable"] == len(list(LEDGER)) - 1


def test_allure_results_get_a_verdict_label_and_evidence(tmp_path):
    from keychain_claims.reports.allure import label_results
    xfail = _outcome("xfailed", claims=["CAU-UPDATE"], name="A Claude Code update invalidates the grant held by security",
                     reason="recorded contradiction of CAU-UPDATE on backend sim: …", nodeid="n1",
                     findings=["CAU-UPDATE/no-prompt-after-update"])
    refuting = _outcome("passed", claims=["CAU-REFRESH"], refutes=["CAU-REFRESH"], name="refresh in place", nodeid="n2")
    never = _outcome("skipped", claims=["REL-CONFIG"], name="config", reason="no --claude-code given", nodeid="n3",
                     release="", feature="Releases")
    for nodeid, status, message in [("n1", "skipped", "XFAIL recorded contradiction of CAU-UPDATE"), ("n2", "passed", "")]:
        (tmp_path / f"{nodeid}-result.json").write_text(json.dumps(
            {"uuid": nodeid, "name": nodeid, "status": status, "statusDetails": {"message": message},
             "labels": [{"name": "nodeid", "value": nodeid}]}))
    outcomes = [xfail, refuting, never]
    verdicts = compute(outcomes, LEDGER, Article(), {"sim": True})
    assert label_results(tmp_path, outcomes, verdicts, LEDGER) == 3
    results = {next(l["value"] for l in r["labels"] if l["name"] == "nodeid"): r
               for r in (json.loads(p.read_text()) for p in tmp_path.glob("*-result.json"))}
    label = lambda r, name: [l["value"] for l in r["labels"] if l["name"] == name]  # noqa: E731
    assert label(results["n1"], "verdict") == ["contradicted"] and results["n1"]["status"] == "skipped"
    # the finding's text once: in the description, not in the message Allure shows twice
    assert results["n1"]["statusDetails"]["message"] == ("CONTRADICTED — recorded finding still holds "
                                                         "(the description says why)")
    finding = " ".join(LEDGER["CAU-UPDATE"].findings[0].evidence.split())
    assert results["n1"]["description"].count(finding[:60]) == 1
    assert label(results["n2"], "verdict") == ["contradicted"] and label(results["n2"], "claim-verdict") == [
        "CAU-REFRESH — contradicted"]
    assert "this scenario states what contradicts the claim, and it passed" in results["n2"]["description"]
    assert label(results["n3"], "verdict") == ["not-checkable"] and label(results["n3"], "provenance") == ["simulated"]
    assert results["n3"]["statusDetails"]["message"].startswith("NOT CHECKABLE — no --claude-code given")


def test_matrix_marks_a_verdict_that_differs_from_the_previous_release(tmp_path):
    from keychain_claims.reports.matrix import write_matrix
    outcomes = [_outcome("xfailed", release="2.0.76", name="a"), _outcome("skipped", release="2.1.3", name="a"),
                _outcome("passed", release="2.1.81", name="a"), _outcome("passed", release="2.1.330", name="a")]
    write_matrix(outcomes, LEDGER, tmp_path)
    doc = json.loads((tmp_path / "release-matrix.json").read_text())
    assert doc["releases"] == ["2.0.76", "2.1.3", "2.1.81", "2.1.330"]        # by version, not by string
    assert [(c["release"], c["verdict"], c["changed"]) for c in doc["cells"]] == [       # a skip is no change
        ("2.0.76", "contradicted", False), ("2.1.3", "not-checkable", False), ("2.1.81", "holds", True),
        ("2.1.330", "holds", False)]
    svg = (tmp_path / "release-matrix.svg").read_text()
    assert svg.count('data-verdict="holds"') == 2 and svg.count('data-verdict="contradicted"') == 1
    assert svg.count('<path d="M') == 2          # one changed cell + the legend's mark
    assert "| CAU-REFRESH | contradicted — 1 of 1 scenario ran | not-checkable — 0 of 1 scenario ran; 1 not checkable: " \
           "no reason given | holds (changed) — 1 of 1 scenario ran |" in (
        tmp_path / "release-matrix.md").read_text()


@pytest.mark.suite
def test_parallel_run_gives_the_same_verdicts_as_serial(run_suite, tmp_path):
    serial = run_suite("--backend=sim", f"--reports-dir={tmp_path / 'serial'}")
    parallel = run_suite("--backend=sim", "-n", "2", f"--reports-dir={tmp_path / 'parallel'}")
    assert serial.returncode == parallel.returncode == 0
    verdicts = lambda d: {(c.claim, c.verdict) for c in ClaimsTable.read(d / "claims.json").claims}  # noqa: E731
    assert verdicts(tmp_path / "serial") == verdicts(tmp_path / "parallel")
