"""What the article misses (issue 22): omissions get verdicts of their own, kept apart from the
article's claims in the fold, claims.json and claims.md."""
from __future__ import annotations

import json

import pytest

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.verdicts import (OMISSION_VERDICTS, Outcome, compute, compute_omissions, counts,
                                             fold_omission, omission_result, scenario_verdict, write)

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
