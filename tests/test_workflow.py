"""The macOS workflow validates against GitHub's workflow schema (check-jsonschema's vendored copy,
offline), and a broken copy does not."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
    lambda text: text.replace("      - uses: actions/checkout@v4\n", "      - usess: actions/checkout@v4\n"),
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
