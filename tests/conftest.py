"""Shared helpers for the project's own tests."""
from __future__ import annotations

import os
import subprocess

import pytest

from tests import child



def pytest_keychain_claims_own_tests(config):
    """This run is the project's own tests, not a claims run (the hook is declared in
    keychain_claims/plugins/hookspec.py, added by the entry plugin): the claims plugins leave the
    Allure results folder, the backend check and the article check alone.  A claims run never loads this file: its options are
    known before pytest reads the command line, so none of their values is taken for a path."""
    return True


@pytest.fixture(scope="session", autouse=True)
def releases_off():
    """The claims suite checks the latest Claude Code release by default; the project's own tests run it
    without releases (fast, offline) unless a test asks for one with --claude-code.  The variable also
    reaches suites that tests start by hand (test_cleanup, test_report_browser).  A fixture, not an
    import-time setting: importing this module changes nothing."""
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
        return child.run(f"--alluredir={tmp_path / 'allure'}", f"--reports-dir={tmp_path / 'reports'}", *releases,
                         *args, env=env, timeout=timeout)
    return run


# ---- tiers: `make test` runs the default tier, `make test-all` every tier (README, "The project's own tests")
# A test is in a slow tier by what it does, not by how long it took: it starts pytest in a child process
# (`suite`), runs a real Claude Code release (`release`), opens Chromium (`browser`) or runs a whole corpus
# in one test (`corpus`: every assumption probe settled on two backends, every real transcript through the
# fidelity command, every behaviour case) or races several processes against one keychain or waits out
# a real deadline of a second or more (`stress`) or opens the macOS code path's own security session for itself,
# rehearsed: a launchd job and its broker, a test caller built and signed, stand-ins behind every call (`mac_session`;
# the backend contract suite, tests/backends/test_contract.py, stays in the default tier); the markers are registered in pytest.ini.  A tier left out is
# named in the summary, never counted as passed: pytest-xdist does not show "deselected", so each worker
# hands its count to the controller (workeroutput).
TIERS = ("suite", "release", "browser", "corpus", "stress", "mac_session")
DESELECTED_TIERS = pytest.StashKey[dict]()


def _deselected(config: pytest.Config) -> dict:
    return config.stash.setdefault(DESELECTED_TIERS, {})


def pytest_deselected(items) -> None:
    if not items:
        return
    config = items[0].config
    counts = _deselected(config)
    for item in items:
        tier = " and ".join(t for t in TIERS if item.get_closest_marker(t)) or "default"
        counts[tier] = counts.get(tier, 0) + 1
    if hasattr(config, "workeroutput"):
        config.workeroutput["deselected_tiers"] = dict(counts)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """Every worker collects (and deselects) the same items: one worker's count is the run's."""
    counts = getattr(node, "workeroutput", {}).get("deselected_tiers")
    if counts:
        node.config.stash[DESELECTED_TIERS] = counts


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    counts = config.stash.get(DESELECTED_TIERS, {})
    if counts:
        shown = ", ".join(f"{n} {tier}" for tier, n in sorted(counts.items()))
        terminalreporter.write_line(f"NOT RUN: {sum(counts.values())} deselected ({shown}); "
                                    "`make test-all` runs every tier", yellow=True, bold=True)
