"""Shared helpers for the project's own tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_suite(tmp_path):
    """Run the claims suite in a subprocess; returns CompletedProcess.  Reports and Allure
    results go to tmp_path so the project's reports/ is left alone."""
    def run(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "pytest", "-p", "no:randomly", f"--alluredir={tmp_path / 'allure'}",
               f"--reports-dir={tmp_path / 'reports'}", *args]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
    return run
