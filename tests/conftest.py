"""Shared helpers for the project's own tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def releases_off():
    """The claims suite checks the latest Claude Code release by default; the project's own tests run it
    without releases (fast, offline) unless a test asks for one with --claude-code.  The variable also
    reaches suites that tests start by hand (test_cleanup, test_report_browser).  A fixture, not an
    import-time setting: pytest may import this conftest during a claims run too (an option value it
    cannot parse yet reads as a path), and there it must change nothing."""
    saved = os.environ.get("KEYCHAIN_CLAIMS_CLAUDE_CODE")
    os.environ.setdefault("KEYCHAIN_CLAIMS_CLAUDE_CODE", "none")
    yield
    if saved is None:
        os.environ.pop("KEYCHAIN_CLAIMS_CLAUDE_CODE", None)


@pytest.fixture
def run_suite(tmp_path):
    """Run the claims suite in a subprocess; returns CompletedProcess.  Reports and Allure
    results go to tmp_path so the project's reports/ is left alone.  Release scenarios are off
    (`--claude-code none`) unless the call passes --claude-code."""
    def run(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        releases = [] if any(a.startswith("--claude-code") for a in args) else ["--claude-code=none"]
        cmd = [sys.executable, "-m", "pytest", "-p", "no:randomly", f"--alluredir={tmp_path / 'allure'}",
               f"--reports-dir={tmp_path / 'reports'}", *releases, *args]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
    return run
