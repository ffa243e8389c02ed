"""What the article misses (issue 22): omissions get verdicts of their own, kept apart from the
article's claims in the fold, claims.json and claims.md."""
from __future__ import annotations

import json

import pytest

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.verdict import OMISSION_VERDICTS
from keychain_claims.claims.verdicts import (compute, compute_omissions, counts,
                                             fold_omission, omission_result, scenario_verdict)
from keychain_claims.reports.markdown import write

LEDGER = Ledger()


def _omissions(outcomes, ledger=LEDGER):
    return {v.omission: v for v in compute_omissions(outcomes, ledger, Article(), {"sim": True})}


@pytest.mark.parametrize("result, refutes, expected", [
    ("passed", False, "reproduced"),
    ("failed", False, "not reproduced"),
    ("xfailed", False, "not reproduced"),       # a strict xfail of a claim's finding on the same scenario: steps failed
    ("xpassed", False, "reproduced"),
    ("passed", True, "not reproduced"),         # it states the cause absent, and that passed
    ("failed", True, "reproduced"),
    ("skipped", False, None),
])
def test_one_scenario_as_evidence_about_an_omission(result, refutes, expected):
    outcome = Outcome("n", "S", "sim", ["OMI-CONCURRENT"], result, refutes=["OMI-CONCURRENT"] if refutes else [])
    assert omission_result(outcome, "OMI-CONCURRENT") == expected
    verdict = _omissions([outcome])["OMI-CONCURRENT"].verdict
    assert verdict == (expected or "not-checkable") and verdict in OMISSION_VERDICTS


@pytest.mark.parametrize("results, verdict", [
    (["reproduced", "reproduced"], "reproduced"),
    (["reproduced", "not reproduced"], "not reproduced"),
    ([None, "reproduced"], "reproduced"),
    ([None], "not-checkable"),
    ([], "not-checkable"),
])
def test_fold_omission(results, verdict):
    assert fold_omission(results) == verdict


def test_an_omission_without_scenarios_is_not_checkable_and_says_no_scenario_yet():
    found = _omissions([])
    assert set(found) == set(LEDGER.omissions)
    for v in found.values():
        assert v.verdict == "not-checkable" and v.why.startswith("no scenario yet")
        assert v.evidence and all(e["address"].startswith("https://") for e in v.evidence)
    assert found["OMI-CONCURRENT"].line == Article().locate("producing a *burst* of prompts")


def test_a_release_outside_the_omissions_range_is_shown_but_not_counted():
    old = Outcome("n1", "S [2.1.81]", "sim", ["OMI-SEVERAL-ITEMS"], "failed", "no unknown item", release="2.1.81")
    new = Outcome("n2", "S [2.1.331]", "sim", ["OMI-SEVERAL-ITEMS"], "passed", release="2.1.331")
    v = _omissions([old, new])["OMI-SEVERAL-ITEMS"]
    assert v.release_range == ">=2.1.199"
    assert v.verdict == "reproduced" and v.releases == {"2.1.81": "not reproduced", "2.1.331": "reproduced"}
    assert v.coverage["total"] == 1 and [s["counted"] for s in v.scenarios] == [False, True]
    only_old = _omissions([old])["OMI-SEVERAL-ITEMS"]
    assert only_old.verdict == "not-checkable" and "outside >=2.1.199" in only_old.why


def test_omissions_leave_the_claims_and_their_counts_alone(tmp_path):
    shared = Outcome("n1", "S1", "sim", ["CAU-REFRESH", "OMI-PARTITION-RESET"], "passed",
                     refutes=["CAU-REFRESH"])
    plain = Outcome("n1", "S1", "sim", ["CAU-REFRESH"], "passed", refutes=["CAU-REFRESH"])
    with_omission = compute([shared], LEDGER, Article(), {"sim": True})
    without = compute([plain], LEDGER, Article(), {"sim": True})
    assert counts(with_omission) == counts(without)
    assert {v.claim for v in with_omission} == {c.id for c in LEDGER}
    assert scenario_verdict(shared) == scenario_verdict(plain) == "contradicted"
    omissions = compute_omissions([shared], LEDGER, Article(), {"sim": True})
    json_path, md_path = write(with_omission, tmp_path, Article(), {"sim": "simulated"}, omissions)
    doc = json.loads(json_path.read_text())
    assert doc["counts"] == counts(without) and len(doc["claims"]) == len(LEDGER.claims)
    assert [o["omission"] for o in doc["omissions"]] == list(LEDGER.omissions)
    assert doc["omission_verdicts"] == OMISSION_VERDICTS
    assert doc["omission_counts"] == {"reproduced": 1, "not reproduced": 0, "not-checkable": 4}
    assert doc["article_title"] == "Claude Code Keychain Prompt Keeps Reappearing on macOS (ACL Invalidation)"
    reset = next(o for o in doc["omissions"] if o["omission"] == "OMI-PARTITION-RESET")
    assert reset["verdict"] == "reproduced" and reset["evidence"][0]["address"].endswith("CodexBar/issues/367")
    md = md_path.read_text()
    table, rest = md.split("## What the article misses (omissions)", 1)
    assert "OMI-" not in table                               # the claims' table names no omission
    assert "**5 omissions: 1 reproduced, 4 not-checkable**" in rest
    assert "| [OMI-PARTITION-RESET](#omi-partition-reset) | **REPRODUCED** | sim (simulated) |" in rest
    assert "<https://github.com/steipete/CodexBar/issues/367>" in rest
    assert all(f"- *{k}*: " in rest for k in OMISSION_VERDICTS)


def test_a_scenario_that_links_only_an_omission_gets_its_omission_verdict_in_the_report(tmp_path):
    from keychain_claims.reports import allure as allure_files
    from keychain_claims.reports.allure import CATEGORIES, OMISSION_LABEL, OMISSION_VERDICT_LABEL, VERDICT_LABEL
    both = Outcome("n1", "Refresh resets the partition", "sim", ["CAU-REFRESH", "OMI-PARTITION-RESET"], "passed",
                   refutes=["CAU-REFRESH"], feature="cause.feature")
    only = Outcome("n2", "Two readers, two dialogs", "sim", ["OMI-CONCURRENT"], "failed", "one dialog",
                   feature="cause.feature")
    verdicts = compute([both, only], LEDGER, Article(), {"sim": True})
    omissions = compute_omissions([both, only], LEDGER, Article(), {"sim": True})
    assert allure_files.label_results(tmp_path, [both, only], verdicts, LEDGER, omissions) == 2
    results = {r["name"]: r for r in (json.loads(p.read_text()) for p in tmp_path.glob("*-result.json"))}

    def labels(result, name):
        return [label["value"] for label in result["labels"] if label["name"] == name]
    shared, alone = results["Refresh resets the partition"], results["Two readers, two dialogs"]
    assert labels(shared, VERDICT_LABEL) == ["contradicted"]            # its claims decide its verdict
    assert labels(shared, OMISSION_LABEL) == ["OMI-PARTITION-RESET"] and labels(shared, OMISSION_VERDICT_LABEL) == ["reproduced"]
    assert "OMI-PARTITION-RESET — reproduced (omission)" in labels(shared, "claim-verdict")
    assert labels(alone, VERDICT_LABEL) == ["not reproduced"] and labels(alone, "article-section") == ["cause"]
    assert alone["statusDetails"]["message"].startswith("OMISSION NOT REPRODUCED — ")
    category = next(c for c in CATEGORIES if c["id"] == "omission-not-reproduced")
    assert category["matchers"]["labels"][VERDICT_LABEL] == "^not reproduced$"


def test_the_release_matrix_keeps_omissions_in_rows_of_their_own(tmp_path):
    from keychain_claims.reports.matrix import write_matrix
    outcomes = [Outcome("n1", "S1", "sim", ["CAU-REFRESH"], "passed", release="2.1.81", refutes=["CAU-REFRESH"]),
                Outcome("n2", "S2", "sim", ["OMI-SEVERAL-ITEMS"], "failed", "no unknown item", release="2.1.81"),
                Outcome("n3", "S2", "sim", ["OMI-SEVERAL-ITEMS"], "passed", release="2.1.331")]
    write_matrix(outcomes, LEDGER, tmp_path)
    matrix = json.loads((tmp_path / "release-matrix.json").read_text())
    rows = {(c["claim"], c["release"]): c for c in matrix["cells"]}
    assert rows[("CAU-REFRESH", "2.1.81")]["verdict"] == "contradicted" and "kind" not in rows[("CAU-REFRESH", "2.1.81")]
    old, new = rows[("OMI-SEVERAL-ITEMS", "2.1.81")], rows[("OMI-SEVERAL-ITEMS", "2.1.331")]
    assert (old["kind"], old["verdict"], old["in_range"]) == ("omission", "not reproduced", False)
    assert (new["verdict"], new["in_range"], new["changed"]) == ("reproduced", True, True)
    md = (tmp_path / "release-matrix.md").read_text()
    claims_part, omissions_part = md.split("## What the article misses (omissions) × releases")
    assert "OMI-" not in claims_part and "| OMI-SEVERAL-ITEMS | not reproduced (outside its releases)" in omissions_part
    svg = (tmp_path / "release-matrix.svg").read_text()
    assert 'data-claim="OMI-SEVERAL-ITEMS" data-release="2.1.331" data-verdict="reproduced" data-kind="omission"' in svg


def test_the_verdicts_and_their_why_do_not_depend_on_the_order_the_outcomes_arrived_in():
    """xdist workers finish in any order: the omission's "why" named whichever showing scenario
    arrived first, so two runs of the same code wrote different claims.json files."""
    first = Outcome("steps/a.py::test_a", "Two readers, two dialogs", "sim", ["OMI-CONCURRENT", "CAU-REFRESH"], "passed",
                    refutes=["CAU-REFRESH"])
    second = Outcome("steps/b.py::test_b", "Three readers, three dialogs", "sim", ["OMI-CONCURRENT", "CAU-REFRESH"],
                     "passed", refutes=["CAU-REFRESH"])
    one = compute_omissions([first, second], LEDGER, Article(), {"sim": True})
    other = compute_omissions([second, first], LEDGER, Article(), {"sim": True})
    assert [(v.omission, v.verdict, v.why, [s["scenario"] for s in v.scenarios]) for v in one] == \
        [(v.omission, v.verdict, v.why, [s["scenario"] for s in v.scenarios]) for v in other]
    claims_one = compute([first, second], LEDGER, Article(), {"sim": True})
    claims_other = compute([second, first], LEDGER, Article(), {"sim": True})
    assert [(v.claim, v.why, [s["scenario"] for s in v.scenarios]) for v in claims_one] == \
        [(v.claim, v.why, [s["scenario"] for s in v.scenarios]) for v in claims_other]
