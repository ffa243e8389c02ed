"""The suite's entry plugin (keychain_claims/plugins/plugin.py) and what a run owns: two runs in one
process (pytester's in-process runs, as the project's own tests make them) share no secrets, no release
cache lines and no backend options; the backend is chosen once; no option reaches the backend through
os.environ."""
from __future__ import annotations

import configparser
import os
import textwrap

import pytest

from keychain_claims import backends, redact
from keychain_claims.plugins import backend as backend_plugin
from keychain_claims.plugins.state import BACKEND
from tests import ROOT

pytest_plugins = ["pytester"]

ENTRY = ("-p", "keychain_claims.plugins.plugin")
PLUGINS = ("-p", "no:cacheprovider", "--disable-plugin-autoload", "-p", "pytest_bdd.plugin",
           "-p", "allure_pytest_bdd.plugin", *ENTRY)
OWN_TESTS = '''
def pytest_keychain_claims_own_tests(config):
    return True
'''
# one test per run: each registers a secret and says a release cache line, as a run's fakes and cache do
PROBE = '''
from keychain_claims import redact
from keychain_claims.releases.cache import progress

def test_one():
    redact.register("ONE-secret-4711")
    progress("a line of run one")

def test_two():
    progress("a line of run two")
    assert redact.redact("ONE-secret-4711") == "ONE-secret-4711", "run two redacts with run one's secrets"
    redact.register("TWO-secret-4712")
    assert "TWO-secret-4712" == "no", "TWO-secret-4712 in an assertion message"
'''


@pytest.fixture
def probe(pytester: pytest.Pytester) -> pytest.Pytester:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "pytest.ini")
    pytester.makeini("[pytest]\nmarkers =" + textwrap.indent(ini["pytest"]["markers"], "    ") + "\n")
    pytester.makeconftest(OWN_TESTS)
    pytester.makepyfile(test_probe=PROBE)
    return pytester


def _config(reprec) -> pytest.Config:
    return reprec.getcalls("pytest_sessionfinish")[0].session.config


def test_two_runs_in_one_process_share_no_secrets_and_no_release_cache_lines(probe, tmp_path):
    """Before: `redact._secrets` and the release cache's NOTES were module globals: run two masked run
    one's secret and its release-cache.log carried run one's lines."""
    one, two = tmp_path / "one", tmp_path / "two"
    first = probe.runpytest_inprocess(*PLUGINS, "-k", "one", f"--reports-dir={one}", "--claude-code=latest")
    first.assert_outcomes(passed=1)
    second = probe.runpytest_inprocess(*PLUGINS, "-k", "two", f"--reports-dir={two}", "--claude-code=latest",
                                       f"--junitxml={tmp_path / 'two.xml'}")
    second.assert_outcomes(failed=1)
    assert (one / "release-cache.log").read_text().splitlines() == ["[claude-code] a line of run one"]
    assert (two / "release-cache.log").read_text().splitlines() == ["[claude-code] a line of run two"]
    assert "AssertionError: run two redacts with run one's secrets" not in second.stdout.str()
    # the secret run two registered is redacted in every output of that run: the terminal, the report
    terminal, report = second.stdout.str() + second.stderr.str(), (tmp_path / "two.xml").read_text()
    assert f"{redact.MASK} in an assertion message" in terminal
    assert "TWO-secret-4712" not in terminal and "TWO-secret-4712" not in report
    # and goes with the run: it was never the process's
    assert redact.redact("TWO-secret-4712") == "TWO-secret-4712"


def test_the_backend_is_chosen_once_and_gets_its_options_as_parameters(probe, monkeypatch, tmp_path):
    """Before: select() ran at pytest_cmdline_main and again at configure, and --rehearsal-faults
    reached the rehearsal through os.environ (KEYCHAIN_CLAIMS_FAULTS), left set in the process for
    every later run."""
    made = []

    def counted(*args, **kwargs):
        made.append(args)
        return select(*args, **kwargs)
    select = backends.select
    monkeypatch.setattr(backend_plugin, "select", counted)
    monkeypatch.delenv("KEYCHAIN_CLAIMS_FAULTS", raising=False)
    probe.makeconftest("")                       # a claims run: its controller checks the backend first
    reprec = probe.inline_run(*PLUGINS, "--collect-only", "--backend", "rehearsal", "--rehearsal-faults=exit51,cdhash",
                              f"--reports-dir={tmp_path / 'reports'}", "--claude-code=none")
    assert reprec.ret == 0
    assert len(made) == 1
    assert _config(reprec).stash[BACKEND].faults == "exit51,cdhash"
    assert "KEYCHAIN_CLAIMS_FAULTS" not in os.environ
    reprec = probe.inline_run(*PLUGINS, "--collect-only", "--backend", "rehearsal",
                              f"--reports-dir={tmp_path / 'reports'}", "--claude-code=none")
    assert _config(reprec).stash[BACKEND].faults == ""       # the next run in the process: none


def test_real_dialogs_reach_the_macos_backend_as_a_parameter(probe, monkeypatch):
    """Before: --real-dialogs set KEYCHAIN_CLAIMS_REAL_DIALOGS=1 in the process, which every later
    MacOSBackend() read."""
    monkeypatch.delenv("KEYCHAIN_CLAIMS_REAL_DIALOGS", raising=False)
    reprec = probe.inline_run(*PLUGINS, "--collect-only", "--backend", "macos", "--real-dialogs", "--claude-code=none")
    assert _config(reprec).stash[BACKEND].real_dialogs is True
    assert "KEYCHAIN_CLAIMS_REAL_DIALOGS" not in os.environ
    reprec = probe.inline_run(*PLUGINS, "--collect-only", "--backend", "macos", "--claude-code=none")
    assert _config(reprec).stash[BACKEND].real_dialogs is False
