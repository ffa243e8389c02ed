"""The run's files as models (claims/files.py): what the writer writes, the reader reads back equal and
byte for byte; a file of the wrong shape is one line from the command that reads it, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keychain_claims.claims.article import Article
from keychain_claims.claims.files import ClaimsTable, OutcomesFile, TableError
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.proposals import compute_proposals
from keychain_claims.claims.verdicts import compute, compute_omissions
from keychain_claims.reports.markdown import write
from keychain_claims.reports.publish import write_outcomes

CLI = Path(sys.executable).with_name("keychain-claims")

OUTCOMES = [Outcome("n1", "S1", "sim", ["CAU-ITEM"], "passed"),
            Outcome("n2", "S2 <what>", "sim", ["CAU-REFRESH"], "passed", release="2.1.81", refutes=["CAU-REFRESH"],
                    example={"what": "the item"}),
            Outcome("n3", "S3", "sim", ["CAU-UPDATE"], "xfailed", "recorded contradiction of CAU-UPDATE",
                    findings=["CAU-UPDATE"]),
            Outcome("n4", "S4", "sim", ["OMI-PARTITION-RESET"], "passed"),
            Outcome("n5", "S5", "sim", ["CAU-ITEM"], "skipped", "not checkable: a harness error"),
            Outcome("n6", "S6 – “é”", "sim", [], "failed", "no claim")]


def _table(folder: Path, partial: str = "") -> Path:
    ledger, article = Ledger(), Article()
    verdicts = compute(OUTCOMES, ledger, article, {"sim": True})
    omissions = compute_omissions(OUTCOMES, ledger, article, {"sim": True})
    proposals = compute_proposals(OUTCOMES, ledger, article, verdicts, omissions)
    path, _ = write(verdicts, folder, article, {"sim": "simulated"}, omissions, "claims", partial,
                    [{"scenario": "S6", "nodeid": "n6", "result": "failed", "reason": "no claim"}], proposals)
    return path


@pytest.mark.parametrize("partial", ["", "stopped at the first failure"])
def test_claims_json_read_back_is_the_table_written(tmp_path, partial):
    path = _table(tmp_path, partial)
    table = ClaimsTable.read(path)
    assert table.dumps() == path.read_text()
    assert ClaimsTable.model_validate_json(table.dumps()) == table
    assert table.partial == partial and ("partial" in json.loads(path.read_text())) == bool(partial)
    assert {row.claim for row in table.claims} == {c.id for c in Ledger()} and table.omissions and table.proposals


def test_outcomes_json_read_back_is_the_outcomes_written(tmp_path):
    for partial, name in (("", "outcomes.json"), ("interrupted", "outcomes.partial.json")):
        path = write_outcomes(tmp_path, OUTCOMES, {"sim": True}, {"sim": "simulated"}, "ab" * 32, run_id="r1",
                              partial=partial, run_commits={"r1": "abc"})
        assert path.name == name
        doc = OutcomesFile.read(path)
        assert doc.dumps() == path.read_text()
        assert OutcomesFile.model_validate_json(doc.dumps()) == doc
        assert [row.outcome() for row in doc.outcomes] == OUTCOMES and {row.run for row in doc.outcomes} == {"r1"}
        assert (doc.partial, doc.suite_commits, doc.releases) == (partial, {"r1": "abc"}, ["2.1.81"])


def _one_line(proc: subprocess.CompletedProcess, says: str) -> None:
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and says in proc.stderr, proc.stderr


@pytest.mark.parametrize("damage", [
    lambda doc: doc["claims"][0].update(scenarios=5),                 # the article's views iterated it
    lambda doc: doc["omissions"][0].pop("verdict"),
    lambda doc: doc.update(proposals=[{"id": "X"}]),
    lambda doc: doc["claims"][0].update(verdict="great"),
], ids=["scenarios-not-a-list", "omission-without-verdict", "proposal-without-fields", "unknown-verdict"])
def test_report_on_a_damaged_verdict_table_is_one_line(tmp_path, damage):
    path = _table(tmp_path)
    doc = json.loads(path.read_text())
    damage(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(TableError, match="is not a verdict table"):
        ClaimsTable.read(path)
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "x-result.json").write_text(json.dumps({"uuid": "x", "name": "n", "status": "passed"}))
    proc = subprocess.run([str(CLI), "report", "--results", str(results), "--output", str(tmp_path / "html"),
                           "--claims", str(path)], capture_output=True, text=True, timeout=300)
    _one_line(proc, "is not a verdict table")


def test_merge_of_outcomes_without_scenarios_is_one_line(tmp_path):
    """An outcome row without its scenario is not one the suite writes: refused, not merged as a nameless one."""
    run = tmp_path / "run"
    write_outcomes(run, OUTCOMES, {"sim": True}, {"sim": "simulated"}, Article().sha256, run_id="r1")
    doc = json.loads((run / "outcomes.json").read_text())
    del doc["outcomes"][0]["scenario"]
    (run / "outcomes.json").write_text(json.dumps(doc))
    proc = subprocess.run([str(CLI), "merge", str(run), "--output", str(tmp_path / "out"), "--no-html"],
                          capture_output=True, text=True, timeout=300)
    _one_line(proc, "is not a suite run's outcomes (outcomes.0.scenario")
