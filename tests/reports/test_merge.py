"""`keychain-claims merge`: result folders of separate runs become one set of Allure results,
one verdict table and one claims × releases matrix.  No network: two real (narrow) suite runs,
and crafted folders for releases and a second backend."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from keychain_claims.claims.article import Article
from keychain_claims.reports.allure import ENVIRONMENT_FILE
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.reports.merge import merge
from keychain_claims.reports.publish import write_outcomes
from tests import ROOT, child

CLI = Path(sys.executable).with_name("keychain-claims")


def suite(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """One run of the claims suite writing its reports (and Allure results) under `folder`."""
    return child.run("-q", *args, f"--reports-dir={folder}", f"--alluredir={folder / 'allure-results'}",
                     timeout=300, env={"KEYCHAIN_CLAIMS_BACKEND": "sim"})


def results_of(folder: Path) -> dict[str, str]:
    """Allure test results by name -> status (the verdict table's own result left out)."""
    found = {}
    results = folder / "allure-results.partial"          # a partial run's results, beside a complete run's
    for path in (results if results.is_dir() else folder / "allure-results").glob("*-result.json"):
        doc = json.loads(path.read_text())
        found[doc["name"]] = doc["status"]
    return found


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    one = suite(base / "one", "-k", "generic_password_for_the_current_user")
    two = suite(base / "two", "-k", "token_refresh_updates_the_item_in_place")
    assert one.returncode == 0 and two.returncode == 0, one.stdout[-2000:] + two.stdout[-2000:]
    return base / "one", base / "two"


@pytest.mark.suite
def test_every_suite_run_leaves_its_outcomes_for_a_later_merge(two_runs):
    doc = json.loads((two_runs[0] / "outcomes.partial.json").read_text())      # -k: a partial run
    assert doc["partial"].startswith("a selection (-k)") and not (two_runs[0] / "outcomes.json").exists()
    assert doc["backends"] == {"sim": True} and doc["article_sha256"] == Article().sha256
    assert [o["scenario"] for o in doc["outcomes"]] == [
        "The credential is a generic password for the current user in the login keychain"]


@pytest.mark.suite
def test_two_separate_runs_merge_into_one_report_and_one_verdict_table(two_runs, tmp_path):
    out = tmp_path / "merged"
    proc = subprocess.run([str(CLI), "merge", *map(str, two_runs), "--output", str(out), "--no-html"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "merged 2 folder(s), 2 run(s): 2 scenario outcomes" in proc.stdout
    names = results_of(out)
    each = [results_of(folder) for folder in two_runs]
    for run in each:                                   # every scenario result of both runs, with its status
        for name, status in run.items():
            if not name.startswith("Claims ledger"):
                assert names[name] == status
    ledgers = [n for n in names if n.startswith("Claims ledger")]
    assert ledgers == ["Claims ledger: verdict per claim (sim)"]          # one, for the union, not one per run
    claims = {c["claim"]: c for c in json.loads((out / "claims.partial.json").read_text())["claims"]}
    for run in two_runs:
        for c in json.loads((run / "claims.partial.json").read_text())["claims"]:
            if c["verdict"] != "not-checkable":          # what a run decided, the merge decides the same way
                assert claims[c["claim"]]["verdict"] == c["verdict"]
                assert {s["nodeid"] for s in c["scenarios"]} <= {s["nodeid"] for s in claims[c["claim"]]["scenarios"]}
    assert ENVIRONMENT_FILE in os.listdir(out / "allure-results")


def outcome(scenario, claim, result, release, backend="sim", refutes=()):
    return Outcome(f"steps/test_features.py::{scenario}[{release}-{backend}]", scenario, backend, [claim], result,
                   "", release, list(refutes))


def craft(folder: Path, outcomes: list[Outcome], backends: dict[str, bool]) -> Path:
    write_outcomes(folder, outcomes, backends, {b: f"{b} backend" for b in backends}, Article().sha256)
    results = folder / "allure-results"
    results.mkdir()
    for o in outcomes:
        doc = {"uuid": f"{abs(hash(o.nodeid))}", "name": o.nodeid, "status": "passed"}
        (results / f"{doc['uuid']}-{o.backend}-result.json").write_text(json.dumps(doc))
    (results / ENVIRONMENT_FILE).write_text(f"backend={next(iter(backends))}\nclaude-code={o.release}\n")
    return folder


def test_the_matrix_holds_the_releases_and_backends_of_every_run(tmp_path):
    linux = craft(tmp_path / "linux", [
        outcome("write", "CAV-REWRITE", "passed", "2.0.76"),
        outcome("write", "CAV-REWRITE", "failed", "2.0.30")], {"sim": True})
    mac = craft(tmp_path / "mac", [
        outcome("write", "CAV-REWRITE", "passed", "2.1.331", backend="macos"),
        outcome("refresh", "CAU-REFRESH", "passed", "2.1.331", backend="macos", refutes=["CAU-REFRESH"])],
        {"macos": False})
    merged = merge([linux, mac], tmp_path / "out")
    assert merged.releases == ["2.0.30", "2.0.76", "2.1.331"] and merged.backends == {"sim": True, "macos": False}
    matrix = json.loads((tmp_path / "out" / "release-matrix.json").read_text())
    cells = {(c["claim"], c["release"]): c["verdict"] for c in matrix["cells"]}
    assert cells == {("CAV-REWRITE", "2.0.30"): "fails", ("CAV-REWRITE", "2.0.76"): "holds",
                     ("CAV-REWRITE", "2.1.331"): "holds", ("CAU-REFRESH", "2.1.331"): "contradicted"}
    verdicts = {(c["claim"], c["backend"]): c for c in json.loads((tmp_path / "out" / "claims.json").read_text())["claims"]}
    assert verdicts[("CAU-REFRESH", "macos")]["verdict"] == "contradicted" and not verdicts[("CAU-REFRESH", "macos")]["simulated"]
    assert verdicts[("CAV-REWRITE", "sim")]["verdict"] == "fails"
    env = (tmp_path / "out" / "allure-results" / ENVIRONMENT_FILE).read_text()
    assert "backend=sim | macos" in env
    assert len(list((tmp_path / "out" / "allure-results").glob("*-result.json"))) == 4 + 1
    again = merge([tmp_path / "out", craft(tmp_path / "later", [outcome("write", "CAV-REWRITE", "passed", "2.1.332")],
                                           {"sim": True})], tmp_path / "out2")
    assert again.releases == ["2.0.30", "2.0.76", "2.1.331", "2.1.332"]


def test_outcomes_with_keys_a_later_version_added_still_load(tmp_path):
    folder = craft(tmp_path / "run", [outcome("write", "CAV-REWRITE", "passed", "2.0.76")], {"sim": True})
    doc = json.loads((folder / "outcomes.json").read_text())
    doc["outcomes"][0]["duration"] = 1.5
    (folder / "outcomes.json").write_text(json.dumps(doc))
    loaded = merge([folder], tmp_path / "out").outcomes
    expected = asdict(outcome("write", "CAV-REWRITE", "passed", "2.0.76"))
    assert [{**asdict(o), "provenance": []} for o in loaded] == [{**expected, "provenance": []}]
    assert loaded[0].provenance in ([], ["simulated"])      # a run's own default for its simulated backend


@pytest.mark.parametrize("setup, says", [
    (lambda base: base.mkdir(), "holds no outcomes.json"),
    (lambda base: (base.mkdir(), (base / "outcomes.json").write_text("{")), "not a suite run's outcomes"),
    (lambda base: write_outcomes(base, [], {"sim": True}, {}, "0" * 64), "another version of the article"),
    (lambda base: None, "is not a folder"),
], ids=["no-outcomes", "broken-outcomes", "other-article", "missing"])
def test_a_folder_that_is_not_a_run_is_a_one_line_error(tmp_path, setup, says):
    setup(tmp_path / "run")
    proc = subprocess.run([str(CLI), "merge", str(tmp_path / "run"), "--output", str(tmp_path / "out"), "--no-html"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and says in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_the_output_is_not_one_of_the_inputs(tmp_path):
    folder = craft(tmp_path / "run", [outcome("write", "CAV-REWRITE", "passed", "2.0.76")], {"sim": True})
    proc = subprocess.run([str(CLI), "merge", str(folder), "--output", str(folder), "--no-html"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "new folder" in proc.stderr


def test_changes_lists_the_claims_whose_verdict_differs_between_two_releases(tmp_path):
    run = craft(tmp_path / "run", [
        outcome("write", "CAV-REWRITE", "failed", "2.0.31"),
        outcome("write", "CAV-REWRITE", "passed", "2.0.32"),
        outcome("config", "REL-CONFIG", "passed", "2.0.31"),
        outcome("config", "REL-CONFIG", "passed", "2.0.32")], {"sim": True})
    merge([run], tmp_path / "out")
    cli = [str(CLI), "changes", str(tmp_path / "out")]
    changed = subprocess.run([*cli, "--from", "2.0.31", "--to", "2.0.32"], capture_output=True, text=True)
    rows = [line for line in changed.stdout.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert changed.returncode == 0 and len(rows) == 1, changed.stdout
    assert rows[0].startswith("| CAV-REWRITE | fails | holds | passed: write")       # REL-CONFIG held on both
    same = subprocess.run([*cli, "--from", "2.0.32", "--to", "2.0.32"], capture_output=True, text=True)
    assert same.returncode == 0 and same.stdout == ""
    absent = subprocess.run([*cli, "--from", "2.0.31", "--to", "2.0.99"], capture_output=True, text=True)
    assert absent.returncode == 1 and "no column 2.0.99" in absent.stderr
