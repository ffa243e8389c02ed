"""`make bench`'s release speed rows (bench/releases.py): what each side of a harness/stock pair
runs.  Numbers are printed, never asserted: these tests check which code path each side takes and
that both are logged in, not how long anything took."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from keychain_claims.releases import runner
from keychain_claims.releases.manifests import LAYOUT, RUNTIME_FILE
from keychain_claims.releases.release import Release
from tests import ROOT


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_releases", ROOT / "bench" / "releases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# a JavaScript "release": its macOS path reads the keychain through `security`, its Linux path the
# plaintext store; it notes which path it took and exits 0 only when it found a credential
FAKE_CLI = textwrap.dedent('''\
    const fs = require("fs"), os = require("os"), { execFileSync } = require("child_process");
    let found = "";
    try {
      found = process.platform === "darwin"
        ? execFileSync("security", ["find-generic-password", "-a", process.env.USER, "-w", "-s",
                                    "Claude Code-credentials"]).toString()
        : fs.readFileSync(os.homedir() + "/.claude/.credentials.json", "utf8");
    } catch (e) {}
    fs.appendFileSync(os.homedir() + "/paths.log", process.platform + " " + process.argv.slice(2).join(" ") + "\\n");
    process.exit(JSON.parse(found || "{}").claudeAiOauth ? 0 : 1);
    ''')


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_a_js_release_is_timed_on_its_macos_path_against_plain_node_on_its_linux_path(bench, tmp_path, monkeypatch):
    root = tmp_path / "package"
    root.mkdir()
    (root / "cli.js").write_text(FAKE_CLI)
    paths: list[str] = []
    real_run = runner.run

    def run(release, box, *argv, **kw):
        done = real_run(release, box, *argv, **kw)
        paths[:] = (Path(box.home) / "paths.log").read_text().splitlines()
        return done
    monkeypatch.setattr(bench.runner, "run", run)
    result = bench.speed(Release("9.9.9", root, "js"), rounds=1)
    assert set(result["calls"]) == {"auth status --json", "-p ping"}
    for call in result["calls"].values():
        assert call["exit"] == "0/0"                 # both sides found the credential, each in its own store
        assert {"wall_ratio", "cpu_ratio", "harness_cpu_s", "stock_cpu_s"} <= set(call)
    assert paths[:4] == ["darwin auth status --json", "linux auth status --json"] * 2   # alternated


def test_a_native_release_whose_runtime_is_its_own_build_is_timed_against_that_build(bench, tmp_path, monkeypatch):
    runtime = tmp_path / "claude-9.9.9-linux-x64"
    runtime.mkdir()
    (runtime / "claude").write_text("#!/bin/sh\n")
    (runtime / "claude").chmod(0o755)
    (runtime / RUNTIME_FILE).write_text(json.dumps({"layout": LAYOUT, "kind": "claude", "binary": "claude",
                                                     "for": "9.9.9"}))

    def no_npm(*args, **kw):
        raise AssertionError(f"fetched again: {args}")
    monkeypatch.setattr(subprocess, "run", no_npm)
    release = Release("9.9.9", tmp_path / "graph", "native", host_root=runtime, runtime=runtime.name,
                      runtime_kind="claude")
    stock = bench._stock(release, tmp_path / "scratch")
    assert stock.form == "installed" and stock.host_binary == runtime / "claude"
    assert runner.command(stock) == ([str(runtime / "claude")], {})      # its own entry: no preload


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_a_call_that_does_not_finish_is_its_row_not_a_crash(bench, tmp_path, monkeypatch):
    root = tmp_path / "package"
    root.mkdir()
    (root / "cli.js").write_text('if (process.argv.includes("-p")) { setInterval(() => {}, 1000); return; }\n' + FAKE_CLI)
    monkeypatch.setattr(bench, "CALL_DEADLINE", 3)
    result = bench.speed(Release("9.9.9", root, "js"), rounds=1)
    assert result["calls"]["auth status --json"]["exit"] == "0/0"
    assert result["calls"]["-p ping"]["not_run"].startswith("harness: claude -p ping did not")
    assert "did not" in bench.speed_table({"9.9.9": {"form": "js", **result}})
