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

from keychain_claims.backends import MacOSBackend
from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.harness.driver import terminal_signals
from tests import ROOT, child

CLI = Path(sys.executable).with_name("keychain-claims")
SMALL = ("-k", "once_allowed")          # one scenario: a partial run by definition


def suite(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """The claims suite without --alluredir (so the Allure results follow --reports-dir)."""
    return child.run("--backend=sim", "--claude-code=none", *args, env=env, **kw)


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
    marker = (complete / "allure-results.partial" / "keychain-claims-run.txt").read_text()
    assert "claims=claims.partial.json" in marker
    assert "claims=claims.json" in (complete / "allure-results" / "keychain-claims-run.txt").read_text()


@pytest.mark.suite
def test_a_subset_of_paths_is_partial(complete, tmp_path):
    reports = tmp_path / "r"
    proc = suite(f"--reports-dir={reports}", "steps/test_features.py::test_once_allowed_the_credential_is_read_intact")
    assert not (reports / "claims.json").exists(), proc.stdout[-2000:]
    assert "a subset of paths" in json.loads((reports / "claims.partial.json").read_text())["partial"]


HOLD = """
import pathlib, time
DONE = []
def pytest_runtest_logfinish(nodeid, location):
    DONE.append(nodeid)
    if len(DONE) == 3:                      # the run is held here, mid-way, until its SIGINT
        pathlib.Path({held!r}).write_text(nodeid)
        time.sleep(300)
"""


@pytest.mark.suite
def test_an_interrupted_run_writes_its_own_table_and_leaves_the_complete_one(complete, tmp_path):
    before = (complete / "claims.json").read_bytes()
    results = complete / "allure-results"
    kept = snapshot(results)
    held = tmp_path / "held"
    (tmp_path / "hold_mid_run.py").write_text(HOLD.format(held=str(held)))
    proc = child.start("--backend=sim", "--claude-code=none", f"--reports-dir={complete}", "-p", "hold_mid_run",
                       env={"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))},
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       preexec_fn=terminal_signals)     # the SIGINT it is sent must reach it
    deadline = time.monotonic() + 120       # three scenarios done, the fourth not begun: the run is mid-way
    while time.monotonic() < deadline and not held.exists() and proc.poll() is None:
        time.sleep(0.2)
    assert held.exists(), "the run never reached its third scenario"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (complete / "claims.json").read_bytes() == before
    assert snapshot(results) == kept        # the complete run's Allure results too
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
        assert any((tmp_path / "r" / "allure-results.partial").glob("*-result.json"))   # -k: a partial run's
    finally:
        sentinel.unlink(missing_ok=True)


@pytest.mark.suite
@pytest.mark.skipif(sys.platform == "darwin", reason="on a Mac --backend macos runs for real")
def test_a_refused_backend_touches_no_report(complete):
    before = snapshot(complete)
    proc = child.run("--backend=macos", "--claude-code=none", f"--reports-dir={complete}", timeout=300)
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
    proc = child.run("--backend=rehearsal", "--claude-code=none", f"--reports-dir={tmp_path / 'r'}", *SMALL,
                     environ=env_clean, env=env)
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


# ------------------------------------------------------------------ issue 29, points 7, 8 and 12: nothing lost, nothing mixed
def own_copy(complete: Path, tmp_path: Path) -> Path:
    """A copy of the complete run's reports folder for one test (a test that empties it must not
    hide the next one's failure)."""
    import shutil
    shutil.copytree(complete, tmp_path / "reports", ignore=shutil.ignore_patterns("*.partial*", ".*"))
    return tmp_path / "reports"


def kept(folder: Path) -> dict[str, bytes]:
    """What a run that does not reach a complete result must leave alone: every file of the reports
    folder but the partial run's own (`*.partial*`) and the lock that names the last run."""
    return {n: b for n, b in snapshot(folder).items() if ".partial" not in n and not n.endswith(".lock")}


@pytest.mark.suite
@pytest.mark.parametrize("args", [("--help",), ("--fixtures",), ("--markers",), ("--setup-plan",), ("--collect-only",),
                                  ("-p", "no:keychain_claims.plugins.publish"), ("-p", "no:allure_pytest_bdd.plugin"),
                                  ("--clean-alluredir", "ON-REPORTS", *SMALL)])
def test_a_run_without_a_complete_result_changes_nothing_of_the_last_complete_one(complete, tmp_path, args):
    """Each of these used to empty <reports>/allure-results of the last complete run (Allure cleans
    its folder at configure, whatever follows); --clean-alluredir with --alluredir on the reports
    folder itself deleted claims.json/.md, outcomes.json and every other file there."""
    complete = own_copy(complete, tmp_path)
    unrelated = complete / "notes-of-the-reviewer.txt"
    unrelated.write_text("not the suite's")
    before = kept(complete)
    args = [f"--alluredir={complete}" if a == "ON-REPORTS" else a for a in args]
    proc = suite(f"--reports-dir={complete}", *args)
    text = proc.stdout + proc.stderr
    assert "Traceback (most recent call last)" not in text and "INTERNALERROR" not in text, text[-2000:]
    assert kept(complete) == before
    if args[0] == "-p":
        assert proc.returncode == 4 and "switches off a plugin the suite needs" in one_line_error(proc)
    assert not list(complete.glob(".*staging*"))


def suite_copy(tmp_path: Path, change) -> Path:
    """The suite's files copied to `tmp_path/kc` (its package first on the path), `change(features)` applied."""
    import shutil
    copy = tmp_path / "kc"
    for name in ("keychain_claims", "steps", "fixtures", "features", "articles"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pytest.ini"):
        shutil.copy(ROOT / name, copy / name)
    change(copy / "features")
    return copy


def _append(name: str, text: bytes):
    def change(features: Path) -> None:
        with open(features / name, "ab") as fh:
            fh.write(text)
    return change


def _replace(name: str, old: str, new: str):
    def change(features: Path) -> None:
        path = features / name
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new, 1))
    return change


@pytest.mark.suite
@pytest.mark.parametrize("change, says", [
    (_replace("symptom.feature", "    Given ", "    Gvien "), r"symptom\.feature line \d+: .*; fix it or restore it"),
    (_append("symptom.feature", b'\n  Scenario: unclosed\n    Given a thing\n      """\n      never closed\n'),
     r"symptom\.feature line \d+: .*unexpected end of file.*; fix it or restore it"),
    (_append("symptom.feature", b"\n# \xff\xfe not UTF-8\n"), r"symptom\.feature is not UTF-8 text \(invalid start byte"),
    (lambda features: (features / "extra.feature").mkdir(), r"extra\.feature is a directory; remove it"),
    (_replace("symptom.feature", "@symptom", "@symptm"), r"symptom\.feature line \d+: tag @symptm of scenario .* is "
                                                          r"neither a claim link .* nor a marker pytest\.ini declares"),
], ids=["keyword", "docstring", "bytes", "directory", "marker"])
def test_a_broken_feature_file_is_one_line_and_loses_nothing(complete, tmp_path, change, says):
    """These were INTERNALERROR tracebacks (the start-of-run check parses every feature file); a
    mistyped marker was a collection error that emptied the last complete run's Allure results."""
    import re
    copy = suite_copy(tmp_path, change)
    complete = own_copy(complete, tmp_path)
    before = kept(complete)
    proc = child.run("--backend=sim", "--claude-code=none", f"--reports-dir={complete}", cwd=copy,
                     env={"PYTHONPATH": str(copy)})
    assert proc.returncode == 4 and re.search(says, one_line_error(proc)), proc.stdout[-2000:] + proc.stderr[-2000:]
    assert kept(complete) == before


def _until_released(lock: Path, within: float = 30.0) -> None:
    """Wait (at most `within` s) until no process holds the flock on `lock`.  Once in a fresh-clone CI
    run the third run below found the killed first run's lock still held (cause not found: nothing the
    run starts inherits the descriptor, which is O_CLOEXEC); a lock held longer than this is a failure."""
    import fcntl
    deadline = time.monotonic() + within
    while True:
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            assert time.monotonic() < deadline, f"the killed run's lock {lock} is still held after {within:.0f} s"
            time.sleep(0.2)
        finally:
            os.close(fd)                                  # closing lets the flock go


@pytest.mark.suite
def test_a_second_run_or_a_merge_during_a_run_is_refused_naming_the_run(complete, tmp_path):
    """Two runs at once in one reports folder both exited 0 with 94 result files (every scenario
    twice, two verdict tables); a merge during a run folded the old outcomes with half the new
    run's results.  The second is refused in one line naming the first (pid, start, command), and
    a lock whose holder was killed is taken over."""
    reports = tmp_path / "r"
    first = child.start("--backend=sim", "--claude-code=none", f"--reports-dir={reports}",
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(reports.glob(".allure-results.staging-*")):
            time.sleep(0.1)                          # the first run holds the folder
        second = suite(f"--reports-dir={reports}", *SMALL)
        line = one_line_error(second)
        assert second.returncode == 4 and f"{reports} is in use by another run (pid {first.pid}, started " in line
        assert f"--reports-dir={reports}" in line
        merged = subprocess.run([str(CLI), "merge", str(complete), str(reports), "--output", str(tmp_path / "m"),
                                 "--no-html"], capture_output=True, text=True)
        assert merged.returncode == 1 and f"in use by another run (pid {first.pid}" in merged.stderr
        assert len(merged.stderr.strip().splitlines()) == 1 and "Traceback" not in merged.stderr
    finally:
        first.kill()                                 # SIGKILL: its lock is left for the next run to take over
        first.wait()
    _until_released(reports / ".keychain-claims.lock")
    third = suite(f"--reports-dir={reports}", *SMALL)
    assert third.returncode == 0, third.stdout[-2000:] + third.stderr[-2000:]
    assert f"pid {first.pid}" not in (reports / ".keychain-claims.lock").read_text()
    assert not list(reports.glob(".allure-results.staging-*"))      # the killed run's staging folder swept


def _can_mount_a_tmpfs() -> str:
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return "needs root on Linux (a private mount namespace with a small tmpfs)"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return "" if probe.returncode == 0 else "unshare -m is not allowed here"


@pytest.mark.suite
@pytest.mark.skipif(bool(_can_mount_a_tmpfs()), reason=_can_mount_a_tmpfs() or "-")
def test_the_reports_folder_filling_up_mid_run_is_one_line_and_loses_nothing(complete, tmp_path):
    """The reports folder on a file system with a few KB left: every Allure write of the run used to
    be an INTERNALERROR (127 lines).  Now: one line, a non-zero exit, the complete run as it was."""
    mount = tmp_path / "small"
    mount.mkdir()
    script = f'''set -e
mount -t tmpfs -o size=$(( $(du -sk "{complete}" | cut -f1) + 1024 ))k tmpfs "{mount}"
cp -a "{complete}/." "{mount}/"
free=$(df -k --output=avail "{mount}" | tail -1)
dd if=/dev/zero of="{mount}/filler" bs=1k count=$((free - 12)) 2>/dev/null
(cd "{mount}" && cat claims.json claims.md outcomes.json allure-results/* | md5sum) > "{tmp_path}/before"
set +e
"{sys.executable}" -m pytest -p no:randomly --backend=sim --claude-code=none --reports-dir="{mount}" -k "once_allowed or item_in_place" > "{tmp_path}/out" 2>&1
echo $? > "{tmp_path}/rc"
(cd "{mount}" && cat claims.json claims.md outcomes.json allure-results/* | md5sum) > "{tmp_path}/after"
umount "{mount}"
'''
    subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, check=True, timeout=600)
    out = (tmp_path / "out").read_text()
    assert int((tmp_path / "rc").read_text()) != 0, out[-2000:]
    assert "INTERNALERROR" not in out and "Traceback" not in out, out[-3000:]
    lines = [line for line in out.splitlines() if line.startswith("could not write")]
    assert len(set(lines)) == 1 and "(No space left on device)" in lines[0], out[-2000:]
    assert (tmp_path / "after").read_text() == (tmp_path / "before").read_text()


# ------------------------------------------------------------------ the coverage gate: plain skips count
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
