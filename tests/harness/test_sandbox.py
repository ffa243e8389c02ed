"""Sandboxes (and their background children) are gone after pass, failure, SIGINT and
SIGTERM; a SIGKILLed run leaves debris the next run sweeps, saying so (issue 7)."""
from __future__ import annotations

import configparser
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from keychain_claims.harness.driver import terminal_signals
from keychain_claims.harness.sandbox import OWNER_FILE, PIDS_FILE, sweep
from tests import ROOT, child


# A tiny suite of its own: a sandbox whose "security" is a script, a background child
# tracked like the release API server, and a test that waits to be interrupted.
PROBE = textwrap.dedent('''
    import subprocess, sys, time, pytest
    from keychain_claims.backends import Backend, Session
    from keychain_claims.harness.sandbox import Sandbox

    class ScriptSession(Session):
        def prepare_keychain(self): pass
        def teardown_keychain(self): pass
        def advance_clock(self, seconds): raise NotImplementedError
        restart = as_caller = advance_clock

    class Script(Backend):
        name = "script"
        def unavailable(self): return None
        def security_command(self): return ["/bin/true"]
        def open_session(self, sandbox): return ScriptSession(self, sandbox)

    @pytest.fixture
    def box():
        with Sandbox(Script()) as sandbox:
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
            sandbox.track_pid(child.pid)
            sandbox.children = [child]
            yield sandbox
            child.kill(); child.wait()

    def test_passes(box):
        assert box.home.exists()

    def test_fails(box):
        assert False, "on purpose"

    def test_waits(box):
        print("READY", flush=True)
        time.sleep(60)
''')


def _project_markers() -> str:
    """The markers the project's pytest.ini declares, as one ini value.  A probe under the project's
    folder (make test's --basetemp is build/test-tmp) loads its conftest.py and so the suite's
    plugins, whose session start refuses a feature file's tag (@cause) that the run's ini does not
    declare as a marker; the probe's empty ini (-c /dev/null) declares them through -o, read from
    pytest.ini rather than copied."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "pytest.ini")
    return ini["pytest"]["markers"]


@pytest.fixture
def probe(tmp_path):
    path = tmp_path / "probe" / "test_probe.py"
    path.parent.mkdir()
    path.write_text(PROBE)
    base = tmp_path / "sandboxes"
    env = {"KEYCHAIN_CLAIMS_SANDBOXES": str(base), "PYTHONPATH": str(ROOT)}

    def start(*args):
        return child.start("-p", "no:cacheprovider", "-s", "-q",
                           "--rootdir", str(path.parent), "-c", os.devnull, "-o", f"markers={_project_markers()}",
                           str(path), *args,
                           cwd=path.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           preexec_fn=terminal_signals)     # the SIGINT it is sent must reach it
    return start, base


def _leftovers(base: Path) -> list[Path]:
    return list(base.glob("kc-*")) if base.exists() else []


@pytest.mark.suite
def test_pass_and_failure_leave_nothing(probe):
    start, base = probe
    proc = start("-k", "passes or fails")
    out, _ = proc.communicate(timeout=120)
    assert "1 failed, 1 passed" in out
    assert _leftovers(base) == []


def _wait_ready(proc):
    for line in proc.stdout:
        if "READY" in line:
            return
    pytest.fail("the probe never reached its waiting test")


@pytest.mark.suite
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_cleans_up(probe, sig):
    start, base = probe
    proc = start("-k", "waits", "-p", "keychain_claims.plugins.plugin")
    _wait_ready(proc)
    assert len(_leftovers(base)) == 1
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert _leftovers(base) == []


@pytest.mark.suite
def test_sigkill_debris_is_swept_with_its_children(probe):
    start, base = probe
    proc = start("-k", "waits")
    _wait_ready(proc)
    [root] = _leftovers(base)
    child = int((root / PIDS_FILE).read_text().split()[0])
    proc.kill()
    proc.wait()
    assert root.exists()                                  # the killed run could not clean up
    removed = sweep(base)
    assert removed == [root] and not root.exists()
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the swept sandbox's background child is still running")


def test_sweep_keeps_sandboxes_of_live_runs(tmp_path):
    live = tmp_path / "kc-live"
    live.mkdir()
    (live / OWNER_FILE).write_text(str(os.getpid()))
    assert sweep(tmp_path) == [] and live.exists()


@pytest.mark.suite
def test_next_run_says_what_it_swept(tmp_path, run_suite):
    debris = tmp_path / "sandboxes" / "kc-debris"
    debris.mkdir(parents=True)
    (debris / OWNER_FILE).write_text("999999999")
    result = run_suite("--collect-only", "-q", env={"KEYCHAIN_CLAIMS_SANDBOXES": str(tmp_path / "sandboxes")})
    assert "swept 1 sandbox(es) left by an interrupted run: kc-debris" in result.stdout + result.stderr
    assert not debris.exists()
