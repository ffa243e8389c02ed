"""Nothing lost, nothing falsely green (issue 23, items 2, 4, 8, 9, 10 and the host's /tmp): a
verdict table is replaced only by a complete run; the article and the ledger are checked at the
start of every run; unusable paths are one line; a run merged twice counts once; a claims run
leaves nothing in the host's temp directory."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.harness.driver import terminal_signals

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).with_name("keychain-claims")
SMALL = ("-k", "once_allowed")          # one scenario: a partial run by definition


def suite(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """The claims suite without --alluredir (so the Allure results follow --reports-dir)."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "--backend=sim",
                           "--claude-code=none", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})}, **kw)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text and "INTERNALERROR" not in text, text[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    return errors[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ item 2: complete vs partial
@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    reports = tmp_path_factory.mktemp("complete") / "reports"
    proc = suite(f"--reports-dir={reports}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "PARTIAL" not in proc.stdout and (reports / "claims.json").exists()
    assert not (reports / "claims.partial.json").exists()
    return reports


@pytest.mark.suite
def test_a_selection_writes_its_own_table_and_leaves_the_complete_one(complete):
    before = {n: (complete / n).read_bytes() for n in ("claims.json", "claims.md", "outcomes.json")}
    proc = suite(f"--reports-dir={complete}", *SMALL)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert {n: (complete / n).read_bytes() for n in before} == before
    doc = json.loads((complete / "claims.partial.json").read_text())
    assert doc["partial"].startswith("a selection (-k)")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PARTIAL RUN")]
    assert len(lines) == 1 and "claims.partial.json" in lines[0]
    assert (complete / "outcomes.partial.json").exists()
    marker = (complete / "allure-results" / "keychain-claims-run.txt").read_text()
    assert "claims=claims.partial.json" in marker


@pytest.mark.suite
def test_a_subset_of_paths_is_partial(complete, tmp_path):
    reports = tmp_path / "r"
    proc = suite(f"--reports-dir={reports}", "steps/test_features.py::test_once_allowed_the_credential_is_read_intact")
    assert not (reports / "claims.json").exists(), proc.stdout[-2000:]
    assert "a subset of paths" in json.loads((reports / "claims.partial.json").read_text())["partial"]


@pytest.mark.suite
def test_an_interrupted_run_writes_its_own_table_and_leaves_the_complete_one(complete):
    before = (complete / "claims.json").read_bytes()
    results = complete / "allure-results"
    earlier = set(results.glob("*-result.json"))      # the complete run's: not a sign this run got going
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:randomly", "--backend=sim",
                             "--claude-code=none", f"--reports-dir={complete}"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=terminal_signals)     # the SIGINT it is sent must reach it
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(set(results.glob("*-result.json")) - earlier) < 3:
        time.sleep(0.2)                     # a few of this run's scenarios have finished
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (complete / "claims.json").read_bytes() == before
    doc = json.loads((complete / "claims.partial.json").read_text())
    assert "interrupted" in doc["partial"] or "without a result" in doc["partial"], doc["partial"]
    assert sum(line.startswith("PARTIAL RUN") for line in out.splitlines()) == 1, out[-2000:]


# ------------------------------------------------------------------ item 4: article vs ledger
@pytest.mark.suite
def test_an_edited_article_stops_the_run_naming_claim_and_sentence(tmp_path):
    ledger = Ledger()
    quote = ledger["SYM-RETURNS"].quote
    article = Article().text
    first = " ".join(quote.split()).split(" ")[0]
    edited = tmp_path / Article().path.name
    edited.write_text(article.replace(first, first + "ZZ", 1) if first in article else article + "x")
    assert Article(edited).locate(quote) is None
    (tmp_path / ledger.path.name).write_text(ledger.path.read_text())
    proc = suite(f"--article={edited}", f"--reports-dir={tmp_path / 'r'}", *SMALL)
    assert proc.returncode == 4
    line = one_line_error(proc)
    assert "SYM-RETURNS" in line and " ".join(quote.split())[:40] in line
    assert not (tmp_path / "r" / "claims.partial.json").exists() and not (tmp_path / "r" / "claims.json").exists()
    check = subprocess.run([str(CLI), "check", f"--article={edited}"], capture_output=True, text=True)
    assert check.returncode == 1 and "SYM-RETURNS" in check.stdout


@pytest.mark.suite
def test_a_ledger_quote_absent_from_the_article_stops_the_run(tmp_path):
    text = Ledger().path.read_text()
    quote = Ledger()["SYM-RETURNS"].quote.split("\n")[0].strip()
    edited = tmp_path / "ledger.claims.yaml"
    edited.write_text(text.replace(quote, "a sentence the article never had", 1))
    proc = suite(f"--ledger={edited}", f"--reports-dir={tmp_path / 'r'}", *SMALL)
    assert proc.returncode == 4 and "SYM-RETURNS" in one_line_error(proc)
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").glob("claims*"))
    check = subprocess.run([str(CLI), "check", f"--ledger={edited}"], capture_output=True, text=True)
    assert check.returncode == 1 and "a sentence the article never had" in check.stdout


# ------------------------------------------------------------------ item 8: where the results go
@pytest.mark.suite
def test_allure_results_follow_the_reports_dir(tmp_path):
    project = ROOT / "reports" / "allure-results"
    project.mkdir(parents=True, exist_ok=True)
    sentinel = project / f"sentinel-{os.getpid()}.txt"
    sentinel.write_text("a result of another run")
    try:
        proc = suite(f"--reports-dir={tmp_path / 'r'}", *SMALL)
        assert proc.returncode == 0, proc.stdout[-2000:]
        assert sentinel.exists(), "the project's reports/allure-results was emptied"
        assert any((tmp_path / "r" / "allure-results").glob("*-result.json"))
    finally:
        sentinel.unlink(missing_ok=True)


@pytest.mark.suite
@pytest.mark.skipif(sys.platform == "darwin", reason="on a Mac --backend macos runs for real")
def test_a_refused_backend_touches_no_report(complete):
    before = snapshot(complete)
    proc = subprocess.run([sys.executable, "-m", "pytest", "--backend=macos", "--claude-code=none",
                           f"--reports-dir={complete}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 4 and "--backend macos cannot run here" in one_line_error(proc)
    assert snapshot(complete) == before


# ------------------------------------------------------------------ item 9: one line, not a traceback
@pytest.mark.suite
def test_a_ledger_that_is_a_directory_is_one_line(tmp_path):
    proc = suite(f"--ledger={tmp_path}", f"--reports-dir={tmp_path / 'r'}", *SMALL)
    assert proc.returncode == 4 and "is a directory" in one_line_error(proc)


@pytest.mark.suite
def test_an_alluredir_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    proc = suite(f"--alluredir={tmp_path / 'file'}", f"--reports-dir={tmp_path / 'r'}", *SMALL)
    assert proc.returncode == 4 and "--alluredir" in one_line_error(proc)


@pytest.mark.suite
def test_unwritable_transcripts_folder_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    proc = suite(f"--record-transcripts={tmp_path / 'file' / 'sub'}", f"--reports-dir={tmp_path / 'r'}", *SMALL)
    assert proc.returncode == 4 and "--record-transcripts" in one_line_error(proc)


@pytest.mark.suite
def test_outcomes_json_a_directory_is_one_line_and_leaves_no_temp_file(tmp_path):
    reports = tmp_path / "r"
    (reports / "outcomes.partial.json").mkdir(parents=True)
    proc = suite(f"--reports-dir={reports}", *SMALL)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout + proc.stderr and "INTERNALERROR" not in proc.stdout + proc.stderr
    assert "could not write the verdict table" in proc.stdout and "Is a directory" in proc.stdout
    assert not [p.name for p in reports.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.suite
def test_merge_to_an_unwritable_output_is_one_line(tmp_path):
    run = tmp_path / "run"
    assert suite(f"--reports-dir={run}", *SMALL).returncode == 0
    (tmp_path / "file").write_text("x")
    proc = subprocess.run([str(CLI), "merge", str(run), "--output", str(tmp_path / "file" / "out"), "--no-html"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "--output" in proc.stderr


def test_report_on_a_verdict_table_of_the_wrong_shape_is_one_line(tmp_path):
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "x-result.json").write_text(json.dumps({"uuid": "x", "name": "n", "status": "passed"}))
    (tmp_path / "claims.json").write_text(json.dumps({"claims": [{"claim": "X", "verdict": "holds"}]}))
    proc = subprocess.run([str(CLI), "report", "--results", str(results), "--output", str(tmp_path / "html")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "is not a verdict table" in proc.stderr


# ------------------------------------------------------------------ item 10: a run merged twice counts once
@pytest.mark.suite
def test_merging_the_same_run_twice_counts_it_once(tmp_path):
    run = tmp_path / "run"
    assert suite(f"--reports-dir={run}", *SMALL).returncode == 0
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(run), str(copy)], check=True)
    once = subprocess.run([str(CLI), "merge", str(run), "--output", str(tmp_path / "once"), "--no-html"],
                          capture_output=True, text=True)
    twice = subprocess.run([str(CLI), "merge", str(run), str(copy), "--output", str(tmp_path / "twice"), "--no-html"],
                           capture_output=True, text=True)
    assert once.returncode == twice.returncode == 0, twice.stderr
    again = subprocess.run([str(CLI), "merge", str(tmp_path / "twice"), str(run), "--output", str(tmp_path / "again"),
                            "--no-html"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr

    def coverage(folder):
        doc = json.loads(next(folder.glob("claims*.json")).read_text())
        return {c["claim"]: c["coverage"]["ran"] for c in doc["claims"]}
    assert coverage(tmp_path / "once")["SYM-LOGIN-WORKS"] == 1
    assert coverage(tmp_path / "twice") == coverage(tmp_path / "once") == coverage(tmp_path / "again")


# ------------------------------------------------------------------ the host's temp directory
@pytest.mark.suite
def test_a_claims_run_leaves_nothing_in_the_temp_dir(tmp_path):
    host_tmp = tmp_path / "host-tmp"
    host_tmp.mkdir()
    env = {"TMPDIR": str(host_tmp)}
    env_clean = {k: v for k, v in os.environ.items() if k != "KEYCHAIN_CLAIMS_SANDBOXES"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "--backend=rehearsal",
                           "--claude-code=none", f"--reports-dir={tmp_path / 'r'}", *SMALL], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env={**env_clean, **env})
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert sorted(p.name for p in host_tmp.iterdir()) == []


def test_sweep_removes_what_older_runs_left_in_the_temp_dir(tmp_path):
    host_tmp = tmp_path / "host-tmp"
    debris = [host_tmp / "kc-rehearsal-user-abc123", host_tmp / "keychain-claims" / "kc-old1"]
    for d in debris:
        (d / "state").mkdir(parents=True)
    keep = host_tmp / "someone-elses"
    keep.mkdir()
    proc = subprocess.run([str(CLI), "sweep"], capture_output=True, text=True,
                          env={**os.environ, "TMPDIR": str(host_tmp), "KEYCHAIN_CLAIMS_SANDBOXES": str(tmp_path / "sb")})
    assert proc.returncode == 0, proc.stderr
    assert not any(d.exists() for d in debris) and keep.exists()
