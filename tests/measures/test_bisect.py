"""`keychain-claims bisect`: the first changed release, within ⌈log2(n)⌉+1 evaluations, skips
reported; end to end on a crafted release cache (no network)."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.measures.bisect import BisectError, Observation, Unevaluable, search
from tests import ROOT

CLI = Path(sys.executable).with_name("keychain-claims")


def evaluator(values: dict[str, str], unevaluable: set[str] = frozenset()):
    loaded = []

    def evaluate(version):
        loaded.append(version)
        if version in unevaluable:
            raise Unevaluable(f"{version} cannot be fetched")
        return Observation(version, values[version])
    evaluate.loaded = loaded
    return evaluate


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=2, max_value=300), data=st.data())
def test_the_first_changed_release_is_found_within_the_bound(n, data):
    change = data.draw(st.integers(min_value=1, max_value=n), label="first changed index (n: never)")
    versions = [f"1.0.{i}" for i in range(n)]
    evaluate = evaluator({v: "old" if i < change else "new" for i, v in enumerate(versions)})
    result = search("write", versions, evaluate, say=lambda line: None)
    assert len(evaluate.loaded) <= math.ceil(math.log2(n)) + 1
    assert len(set(evaluate.loaded)) == len(evaluate.loaded)
    if change < n:
        assert result.first_changed == versions[change] and result.last_same == versions[change - 1]
        assert result.answer == versions[change]
    else:
        assert result.first_changed is None and result.answer.startswith("none")


def test_each_step_is_printed_as_it_happens():
    versions = [f"1.0.{i}" for i in range(8)]
    lines = []
    evaluate = evaluator({v: "argv" if i < 5 else "security -i" for i, v in enumerate(versions)})

    def say(line):
        lines.append((line, len(evaluate.loaded)))
    search("write", versions, evaluate, say)
    assert [line for line, _ in lines][0] == "step 1: 1.0.0  argv"
    assert all(loaded == n for n, (_, loaded) in enumerate(lines, 1))      # printed right after each load
    assert {line.split()[2] for line, _ in lines} <= set(versions)


def test_a_release_that_cannot_be_evaluated_is_skipped_over_and_reported():
    versions = [f"1.0.{i}" for i in range(9)]
    values = {v: "old" if i < 6 else "new" for i, v in enumerate(versions)}
    lines = []
    result = search("spawn", versions, evaluator(values, {"1.0.4"}), lines.append)
    assert result.first_changed == "1.0.6" and result.last_same == "1.0.5"
    assert "1.0.4" in result.skipped and any("1.0.4  skipped: 1.0.4 cannot be fetched" in l for l in lines)


def test_skips_that_hide_the_boundary_name_every_candidate():
    versions = [f"1.0.{i}" for i in range(6)]
    values = {v: "old" if i < 3 else "new" for i, v in enumerate(versions)}
    result = search("spawn", versions, evaluator(values, {"1.0.2", "1.0.3"}), lambda line: None)
    assert result.first_changed is None
    assert result.candidates[-1] == "1.0.4" and {"1.0.3"} <= set(result.candidates) <= {"1.0.2", "1.0.3", "1.0.4"}
    assert result.answer.startswith("one of ")


def test_good_must_be_evaluable():
    with pytest.raises(BisectError, match="--good"):
        search("write", ["1.0.0", "1.0.1"], evaluator({}, {"1.0.0"}), lambda line: None)


# ---- end to end through the command line, on a release cache crafted here -------------------

PACKAGE_DIR = "@anthropic-ai+claude-code"
ARGV = 'update(A){let Z=`security add-generic-password -U -a "${Q}" -s "${B}" -w "${G}"`;return lI(Z)}'
STDIN = ('update(A){let Z=`add-generic-password -U -a "${Q}" -s "${B}" -X "${G}"\\n`;'
         'if(r("security",["-i"],{input:Z}).exitCode!==0)return{success:!1}}')


def craft(cache: Path, version: str, cli_js: str | None) -> None:
    """A tarball shaped like npm's (package/cli.js) with its integrity, as registry.fetch leaves it."""
    folder = cache / PACKAGE_DIR / version
    folder.mkdir(parents=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in (("package/cli.js", cli_js), ("package/package.json", json.dumps({"version": version}))):
            if text is None:
                continue
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tarball = folder / f"anthropic-ai-claude-code-{version}.tgz"
    tarball.write_bytes(buf.getvalue())
    digest = base64.b64encode(hashlib.sha512(buf.getvalue()).digest()).decode()
    (folder / "integrity").write_text(f"sha512-{digest}\n")


@pytest.fixture
def cache(tmp_path):
    cache = tmp_path / "cache"
    published = [f"1.9.{i}" for i in range(12)]
    for i, version in enumerate(published):
        craft(cache, version, ARGV if i < 7 else STDIN)
    (cache / PACKAGE_DIR / "versions.json").write_text(
        json.dumps({"versions": published, "dist-tags": {"latest": published[-1]}}))
    return cache


def bisect(cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEYCHAIN_CLAIMS_CACHE": str(cache), "npm_config_registry": "http://127.0.0.1:9/"}
    return subprocess.run([str(CLI), "bisect", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_bisect_write_names_the_first_release_through_security_i_with_evidence_of_both_sides(cache, tmp_path):
    proc = bisect(cache, "write", "--good", "1.9.0", "--bad", "latest", f"--reports-dir={tmp_path}/out")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "first changed: 1.9.7"
    steps = [line for line in lines if line.startswith("step ")]
    assert 2 <= len(steps) <= math.ceil(math.log2(12)) + 1
    before = json.loads((tmp_path / "out" / "write-1.9.6.json").read_text())
    after = json.loads((tmp_path / "out" / "write-1.9.7.json").read_text())
    assert (before["side"], after["side"]) == ("last same", "first changed")
    assert before["value"].endswith("in argv") and "security add-generic-password -U" in before["evidence"]["excerpt"]
    assert after["value"].endswith("through `security -i` stdin") and '"-i"' in after["evidence"]["excerpt"]
    summary = json.loads((tmp_path / "out" / "write.json").read_text())
    assert summary["first_changed"] == "1.9.7" and summary["releases_in_range"] == 12


def without_cli_js(cache: Path, version: str) -> None:
    """A release whose package has no cli.js and is too old to be native: load() refuses it."""
    import shutil
    shutil.rmtree(cache / PACKAGE_DIR / version)
    craft(cache, version, None)


def test_bisect_skips_a_release_it_cannot_load(cache, tmp_path):
    without_cli_js(cache, "1.9.9")
    proc = bisect(cache, "write", "--good", "1.9.0", "--bad", "1.9.11", f"--reports-dir={tmp_path}/out")
    assert "step 3: 1.9.9  skipped: 1.9.9: no cli.js" in proc.stdout, proc.stdout + proc.stderr
    assert "skipped 1.9.9: 1.9.9: no cli.js" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "first changed: 1.9.7"


def test_a_skipped_release_at_the_boundary_leaves_both_candidates(cache, tmp_path):
    without_cli_js(cache, "1.9.6")
    proc = bisect(cache, "write", "--good", "1.9.0", "--bad", "1.9.11", f"--reports-dir={tmp_path}/out")
    assert proc.returncode == 2
    assert proc.stdout.splitlines()[-1] == "first changed: one of 1.9.6, 1.9.7 (skipped releases hide the boundary)"


@pytest.mark.parametrize("args, says", [
    (["write", "--good", "1.9.5", "--bad", "1.9.1"], "1.9.1 was published before 1.9.5"),
    (["write", "--good", "1.9.0", "--bad", "9.9.9"], "not a published version"),
    (["colour", "--good", "1.9.0", "--bad", "1.9.2"], "neither a fingerprint"),
])
def test_bad_bisect_input_is_one_line(cache, args, says):
    proc = bisect(cache, *args)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and says in proc.stderr and "Traceback" not in proc.stderr


# ---- a claim: its cell of the release's column of the history a run of the release scenarios leaves ------

def fake_run(outcomes_by_version: dict[str, list[tuple]], seen: list):
    """Stands in for `pytest -m release --claude-code V`: writes the release history such a run
    writes (a column of its outcomes: (claim, result, reason) each)."""
    from keychain_claims.reports import history

    def run(cmd, **kwargs):
        seen.append(cmd)
        version = cmd[cmd.index("--claude-code") + 1]
        out = Path(next(a for a in cmd if a.startswith("--reports-dir=")).split("=", 1)[1])
        if version in outcomes_by_version:
            outcomes = [Outcome(f"s[{version}]", "s", "sim", [claim], result, reason, version)
                        for claim, result, reason in outcomes_by_version[version]]
            history.write(history.add(history.History(), history.columns_of(outcomes, {"sim": True}, "", "c")),
                          Ledger(), out)
        return subprocess.CompletedProcess(cmd, 0 if version in outcomes_by_version else 4, "", "ERROR: no such release")
    return run


def test_a_claim_is_valued_by_its_release_history_cell_and_a_release_kept_there_is_not_run_again(tmp_path, monkeypatch):
    from keychain_claims.measures import bisect as bisect_module
    from keychain_claims.reports import history
    monkeypatch.setattr(history, "suite_commit", lambda: "c")
    monkeypatch.setattr(history, "DOCS_FILE", tmp_path / "none.json")
    seen: list = []
    monkeypatch.setattr(bisect_module.subprocess, "run", fake_run({
        "1.0.0": [("CAV-REWRITE", "failed", "wrote twice"), ("REL-CONFIG", "passed", "")],
        "1.0.1": [("CAV-REWRITE", "passed", "")],
        "1.0.2": [("CAV-REWRITE", "skipped", "native build: runs on a Mac only")],
        "1.0.3": [("REL-CONFIG", "passed", "")],
    }, seen))
    kept = tmp_path / "docs" / "history.json"
    evaluate = bisect_module.claim_evaluator("CAV-REWRITE", tmp_path / "work", kept)
    assert evaluate("1.0.0").value == "fails" and evaluate("1.0.1").value == "holds"
    assert evaluate("1.0.1").evidence["evidence"][0]["scenario"] == "s [1.0.1]"
    with pytest.raises(Unevaluable, match="not checkable with 1.0.2 here: native build"):
        evaluate("1.0.2")
    with pytest.raises(Unevaluable, match="no release scenario checks CAV-REWRITE"):
        evaluate("1.0.3")
    with pytest.raises(Unevaluable, match="did not run .exit 4: ERROR: no such release"):
        evaluate("1.0.4")
    # every release run is a column of the history; one complete there for this commit is not run again
    assert history.load(kept).releases() == ["1.0.0", "1.0.1", "1.0.2", "1.0.3"]
    assert (tmp_path / "docs" / "history.html").exists()
    runs = len(seen)
    monkeypatch.setattr(history, "release_scenarios", lambda: {"s"})
    history.write(history.add(history.load(kept), history.columns_of(
        [Outcome("s[1.0.5]", "s", "sim", ["CAV-REWRITE"], "failed", "x", "1.0.5")], {"sim": True}, "", "c")),
        Ledger(), kept.parent, "history")
    assert evaluate("1.0.5").value == "fails" and len(seen) == runs
    assert all(cmd[i:i + 2] == ["-m", "release"] for cmd in seen for i in [cmd.index("release") - 1])
