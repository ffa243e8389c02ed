"""A run started from the wrong folder, or given a path that holds no test, collects nothing: before
anything is cleaned it says in one line where to start, and every earlier result stays as it was
(issue 31: `pytest` from `features/` emptied reports/allure-results and exited 5; from the parent folder
pytest's own message invited moving `pytest_plugins`)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests import ROOT, child



@pytest.fixture
def copy(tmp_path):
    """The suite's own files in <tmp>/parent/kc, and a reports folder holding an earlier run's results.
    <tmp>/parent gets an empty pytest.ini: without it pytest would look further up and find this
    checkout's, where a parent folder normally has none."""
    kc = tmp_path / "parent" / "kc"
    kc.mkdir(parents=True)
    for name in ("conftest.py", "pytest.ini"):
        shutil.copy(ROOT / name, kc / name)
    for name in ("steps", "features", "fixtures", "articles"):
        shutil.copytree(ROOT / name, kc / name, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "parent" / "pytest.ini").write_text("[pytest]\n")
    results = tmp_path / "reports" / "allure-results"
    results.mkdir(parents=True)
    (results / "earlier-result.json").write_text("{}")
    (tmp_path / "reports" / "claims.json").write_text("{}")
    return kc


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return child.run("-q", *args, cwd=cwd, timeout=120)


def _untouched(kc: Path) -> bool:
    reports = kc.parent.parent / "reports"
    return (sorted(p.name for p in (reports / "allure-results").iterdir()) == ["earlier-result.json"]
            and (reports / "claims.json").read_text() == "{}")


@pytest.mark.suite
def test_started_in_features_says_where_to_start_and_touches_nothing(copy):
    proc = _run(copy / "features", f"--reports-dir={copy.parent.parent / 'reports'}")
    assert proc.returncode == 4, proc.stdout[-800:] + proc.stderr[-800:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "started in features/" in lines[0] and "cd .. && .venv/bin/pytest" in lines[0], lines
    assert _untouched(copy)


@pytest.mark.suite
def test_given_a_folder_without_tests_says_so_and_touches_nothing(copy):
    proc = _run(copy, f"--reports-dir={copy.parent.parent / 'reports'}", "features/")
    assert proc.returncode == 4
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "given features/, which holds no test file" in lines[0], lines
    assert _untouched(copy)


@pytest.mark.suite
def test_started_above_the_suite_says_where_to_start(copy):
    proc = _run(copy.parent)
    assert proc.returncode == 4, proc.stdout[-800:] + proc.stderr[-800:]
    out = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(out) == 1 and "above the suite's folder" in out[0] and "cd kc && .venv/bin/pytest" in out[0], out
    assert "pytest_plugins" not in proc.stdout + proc.stderr
    assert _untouched(copy)


@pytest.mark.suite
def test_unwritable_reports_dir_is_one_line(run_suite, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_suite("--backend=sim", "-k", "once_allowed", f"--reports-dir={blocker / 'reports'}")
    assert result.returncode == 4           # refused before anything ran (it used to run, then fail to write)
    assert f"--reports-dir={blocker / 'reports'} is not a writable folder" in result.stderr
    assert "make the directory writable or pass --reports-dir" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
