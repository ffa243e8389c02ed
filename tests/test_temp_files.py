"""A direct `.venv/bin/pytest` run -- not through `make`, which sets TMPDIR and --basetemp -- keeps its
temporary files below the checkout (conftest.py): pytest's basetemp (an xdist worker's too), this
process's temporary files, and the TMPDIR its children inherit (Node's os.tmpdir(), where Playwright
makes Chromium's profile folder), for the project's own tests and for the claims suite.  Each run is a
child pytest, TMPDIR unset, in a private mount namespace whose /tmp is a folder of the test's own:
what would have gone to the host's /tmp lands there, and that folder must stay empty."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest

from keychain_claims.releases import runner
from tests import ROOT, child

PROBE = '''
import json, os, shutil, subprocess, tempfile


def test_where_temporary_files_go(tmp_path):
    fd, made = tempfile.mkstemp()
    os.close(fd)
    node = shutil.which("node")
    node_tmp = subprocess.run([node, "-e", "process.stdout.write(require('os').tmpdir())"], capture_output=True,
                              text=True).stdout if node else None
    with open(os.environ["PROBE_OUT"], "w") as fh:
        json.dump({"tmp_path": str(tmp_path), "mkstemp": made, "node": node_tmp}, fh)
'''


@pytest.mark.suite
@pytest.mark.skipif(runner.private_tmp_unavailable() is not None,
                    reason=f"no private mount namespace here: {runner.private_tmp_unavailable()}")
@pytest.mark.parametrize("run, args", [
    ("own tests, two workers", ["-p", "tests.conftest", "-n", "2"]),
    ("claims suite", ["-n", "0"]),
])
def test_a_direct_run_keeps_its_temporary_files_below_the_checkout(tmp_path, run, args):
    host_tmp = tmp_path / "host-tmp"               # stands for the host's /tmp inside the child's namespace
    host_tmp.mkdir()
    probe = ROOT / "build" / f"probe-{uuid.uuid4().hex[:8]}"      # below the checkout: conftest.py applies
    probe.mkdir(parents=True)
    try:
        (probe / "test_probe.py").write_text(PROBE)
        seen = tmp_path / "seen.json"
        environ = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "PYTEST_DEBUG_TEMPROOT")}
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        argv = [*child.PYTEST, "-q", "-p", "no:cacheprovider", *args, f"--reports-dir={tmp_path / 'reports'}",
                f"--alluredir={tmp_path / 'allure'}", str(probe / "test_probe.py")]
        env = child.environment({"PROBE_OUT": str(seen)}, environ)
        # a checkout under the host's /tmp (a `mktemp -d` clone) is bound back in at its own path, as
        # for a release run (runner.kept_paths); the namespace's shell starts the child in / (runner.BIND_TMP):
        # PYTHONPATH finds `tests`
        keep = runner.kept_paths(argv, env)
        proc = subprocess.run(runner._private_tmp(argv, str(host_tmp), keep), cwd=ROOT, capture_output=True,
                              text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        where = json.loads(seen.read_text())
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    # nothing in the stand-in /tmp but the mount points of the folders bound back in (and their parents)
    kept = {p.relative_to(runner.host_tmp()) for p in keep}
    mount_points = {parent for k in kept for parent in [k, *k.parents] if str(parent) != "."}
    leaked = sorted(str(p.relative_to(host_tmp)) for p in host_tmp.rglob("*")
                    if p.relative_to(host_tmp) not in mount_points)
    assert leaked == [], (leaked, where)
    build = ROOT / "build"
    for what in ("tmp_path", "mkstemp", "node"):
        if where[what] is not None:
            assert os.path.realpath(where[what]).startswith(f"{build}{os.sep}"), (what, where[what])
