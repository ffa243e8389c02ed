"""Ranges of releases (`A..B`, `last:N`) resolve against one registry list, asked for once and
kept beside the release cache; bad ranges are one-line usage errors.  No network: npm is faked."""
from __future__ import annotations

import json
import random
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keychain_claims.releases import npm as npm_client, versions
from keychain_claims.releases.cache import ReleaseError
from keychain_claims.claims.release_order import in_releases, release_key
from keychain_claims.releases.versions import parse_spec
from tests import ROOT, child

PUBLISHED = ["2.0.30", "2.0.31", "2.0.5", "2.0.76", "2.1.0", "2.1.1", "2.1.2"]   # registry order, not semver


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A fake `npm view`: counts its calls, answers with PUBLISHED."""
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    calls = []

    def npm(*args, cwd=None):
        calls.append(args)
        assert args[0] == "view" and "versions" in args
        return json.dumps({"versions": PUBLISHED, "dist-tags": {"latest": "2.1.1", "next": "2.1.2"}})

    monkeypatch.setattr(npm_client, "run", npm)
    return calls


@pytest.mark.parametrize("spec, expected", [
    ("2.0.31..2.1.0", ["2.0.31", "2.0.5", "2.0.76", "2.1.0"]),
    ("2.0.76..latest", ["2.0.76", "2.1.0", "2.1.1"]),
    ("2.1.0..2.1.0", ["2.1.0"]),
    ("last:2", ["2.1.1", "2.1.2"]),
    ("last:99", PUBLISHED),
])
def test_a_range_is_every_published_version_in_registry_order(registry, spec, expected):
    assert parse_spec(spec) == expected


def test_ranges_and_single_versions_mix_without_repeats(registry):
    assert parse_spec("2.1.1..2.1.2,2.0.30,last:1") == ["2.1.1", "2.1.2", "2.0.30"]


def test_latest_and_paths_ask_nothing_and_versions_ask_the_kept_list_once(registry, tmp_path):
    installed = tmp_path / "claude"
    installed.mkdir()
    (installed / "cli.js").write_text("// claude\n")
    (installed / "package.json").write_text('{"version": "2.0.76"}')
    assert parse_spec(f"latest,{installed / 'cli.js'}") == ["latest", str(installed / "cli.js")]
    assert registry == []
    assert parse_spec("2.0.76,next") == ["2.0.76", "next"] and parse_spec("2.1.0") == ["2.1.0"]
    assert len(registry) == 1


def test_a_version_never_published_is_an_error_not_an_empty_pass(registry):
    with pytest.raises(ReleaseError, match="never published 2.1.999"):
        parse_spec("2.0.76,2.1.999")


def test_the_list_is_asked_for_once_and_kept_beside_the_cache(registry, tmp_path):
    parse_spec("last:3")
    parse_spec("2.0.30..2.0.76")
    assert len(registry) == 1
    kept = json.loads((tmp_path / "cache" / "@anthropic-ai+claude-code" / versions.LIST_FILE).read_text())
    assert kept["versions"] == PUBLISHED


def test_a_stale_list_is_asked_for_again_but_a_worker_uses_the_controllers(registry, tmp_path, monkeypatch):
    parse_spec("last:1")
    kept = tmp_path / "cache" / "@anthropic-ai+claude-code" / versions.LIST_FILE
    old = time.time() - versions.TTL - 5
    os.utime(kept, (old, old))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    parse_spec("last:1")
    assert len(registry) == 1
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    parse_spec("last:1")
    assert len(registry) == 2


def test_a_list_stamped_in_the_future_is_not_trusted(registry, tmp_path):
    """A list written while the clock was 400 days ahead: once the clock is right again, its age is
    negative, which used to count as fresh and pinned `latest` for as long as the skew."""
    parse_spec("last:1")
    kept = tmp_path / "cache" / "@anthropic-ai+claude-code" / versions.LIST_FILE
    ahead = time.time() + 400 * 86400
    os.utime(kept, (ahead, ahead))
    parse_spec("last:1")
    assert len(registry) == 2


@pytest.mark.parametrize("spec, says", [
    ("2.1.0..2.0.30", "published before"),
    ("2.0.30..9.9.9", "not a published version"),
    ("2.0.30..", "not a range"),
    ("2.0.30..2.0.31..2.0.76", "not a range"),
    ("last:0", "N >= 1"),
    ("last:three", "N >= 1"),
    ("old..new", "neither a version nor `latest`"),
])
def test_a_bad_range_says_what_to_write(registry, spec, says):
    with pytest.raises(ReleaseError, match=says) as caught:
        parse_spec(spec)
    assert "\n" not in str(caught.value)


@pytest.mark.suite
def test_a_bad_range_is_a_one_line_usage_error_of_pytest(tmp_path):
    """End to end, no registry needed: the list in the cache is fresh."""
    cache = tmp_path / "cache" / "@anthropic-ai+claude-code"
    cache.mkdir(parents=True)
    (cache / versions.LIST_FILE).write_text(json.dumps({"versions": PUBLISHED, "dist-tags": {"latest": "2.1.1"}}))
    proc = child.run("--claude-code", "2.1.0..2.0.30", "--co", "-q", f"--reports-dir={tmp_path}/r",
                     f"--alluredir={tmp_path}/a", env={"KEYCHAIN_CLAIMS_CACHE": str(tmp_path / "cache")}, timeout=120)
    assert proc.returncode == 4
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "2.0.30 was published before 2.1.0" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_range_splits_into_a_job_matrix_of_chunks(registry):
    matrix = versions.job_matrix("2.0.30..latest", 2)
    assert matrix == {"include": [{"name": "2.0.30..2.0.31", "releases": "2.0.30,2.0.31", "v0": "2.0.30", "v1": "2.0.31"},
                                  {"name": "2.0.5..2.0.76", "releases": "2.0.5,2.0.76", "v0": "2.0.5", "v1": "2.0.76"},
                                  {"name": "2.1.0..2.1.1", "releases": "2.1.0,2.1.1", "v0": "2.1.0", "v1": "2.1.1"}]}
    assert versions.job_matrix("last:1", 3) == {"include": [{"name": "2.1.2", "releases": "2.1.2", "v0": "2.1.2"}]}
    with pytest.raises(ReleaseError, match="at most 10"):
        versions.job_matrix("last:2", 11)
    with pytest.raises(ReleaseError, match="at least 1"):
        versions.job_matrix("last:2", 0)


def test_keychain_claims_versions_prints_the_range_or_its_matrix(tmp_path):
    cache = tmp_path / "cache" / "@anthropic-ai+claude-code"
    cache.mkdir(parents=True)
    (cache / versions.LIST_FILE).write_text(json.dumps({"versions": PUBLISHED, "dist-tags": {"latest": "2.1.1"}}))
    cli = Path(sys.executable).with_name("keychain-claims")
    env = {**os.environ, "KEYCHAIN_CLAIMS_CACHE": str(tmp_path / "cache")}
    listed = subprocess.run([str(cli), "versions", "2.0.76..latest"], env=env, capture_output=True, text=True)
    assert listed.stdout.split() == ["2.0.76", "2.1.0", "2.1.1"]
    matrix = subprocess.run([str(cli), "versions", "last:3", "--chunks", "2"], env=env, capture_output=True, text=True)
    assert [job["releases"] for job in json.loads(matrix.stdout)["include"]] == ["2.1.0,2.1.1", "2.1.2"]
    bad = subprocess.run([str(cli), "versions", "last:none"], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "last:N" in bad.stderr


# ---- version order: packaging's Version against the hand-written order it replaced ----------------

NPM_LIST = ROOT / "tests" / "data" / "claude-code-versions.json"   # `npm view @anthropic-ai/claude-code versions`


def _old_vtuple(version):            # registry.py's _vtuple before packaging
    return tuple(int(p) for p in version.split("-")[0].split(".")[:3] if p.isdigit())


def _old_release_key(release):       # claims/verdicts.py's _release_key before packaging
    import re
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|\D+", release)]


def _old_in_range(version, releases):    # releases/plugin.py's in_range before packaging
    ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
           "<": lambda a, b: a < b, "==": lambda a, b: a == b, "=": lambda a, b: a == b, "": lambda a, b: a == b}
    have = _old_vtuple(version)
    for term in releases.replace(",", " ").split():
        op = next(o for o in (">=", "<=", "==", ">", "<", "=", "") if term.startswith(o))
        if not have or not ops[op](have, _old_vtuple(term[len(op):])):
            return False
    return bool(releases.split())


def test_the_registrys_whole_list_sorts_the_same_with_packaging():
    listed = json.loads(NPM_LIST.read_text())
    assert len(listed) > 400
    shuffled = list(listed)
    random.Random(24).shuffle(shuffled)                                 # any order but the registry's
    new = sorted(shuffled, key=release_key)
    assert new == sorted(shuffled, key=_old_vtuple) == sorted(shuffled, key=_old_release_key)
    assert new == listed                       # and npm lists them in version order
    assert sorted(["installed", *listed[:3]], key=release_key) == sorted(["installed", *listed[:3]], key=_old_release_key)


def test_every_release_is_in_the_same_ledger_ranges_as_before():
    listed = json.loads(NPM_LIST.read_text())
    ledger = {line.split("releases:", 1)[1].strip().strip('"')
              for path in (ROOT / "articles").glob("*.claims.yaml") for line in path.read_text().splitlines()
              if line.strip().startswith("releases:")}
    ranges = ledger | {">=2.1.113 <2.2", ">=2.1.113,<2.2", "==2.1.81", "2.1.81", "=1.0.22", ">1.0.0", "<=2.0.31", ""}
    assert ">=2.1.281" in ledger               # the ledger's own ranges are among them
    for releases in sorted(ranges):
        assert [v for v in listed if in_releases(v, releases)] == [v for v in listed if _old_in_range(v, releases)], releases
    assert not in_releases("installed", ">=2.1.0") and not _old_in_range("installed", ">=2.1.0")


def test_empty_claude_code_spec_is_a_usage_error():
    with pytest.raises(ReleaseError, match="--claude-code needs a version"):
        parse_spec(" , ")
