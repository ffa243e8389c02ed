"""How a release is run: the default `latest` (the newest cached release when npm does not answer,
a reason when nothing is cached), `--claude-code none`, and both isolations with a stand-in
"release" (a small script) that does what a release does: ask `security`, refresh through the proxy."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keychain_claims.backends.sim import SimBackend
from keychain_claims.harness.sandbox import Sandbox
from keychain_claims.releases import npm, registry, runner, standin
from keychain_claims.releases.cache import ReleaseError
from keychain_claims.releases.npm import INTEGRITY_FILE, PACKAGE
from keychain_claims.releases.release import Release


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(tmp_path / "cache"))

    def offline(*args, cwd=None):
        raise ReleaseError("the npm registry did not answer (ENOTFOUND); check the network and retry")
    monkeypatch.setattr(npm, "run", offline)
    return tmp_path / "cache"


def _cached(cache, package, version):
    folder = cache / package.replace("/", "+") / version
    folder.mkdir(parents=True)
    (folder / "x.tgz").write_bytes(b"")
    (folder / INTEGRITY_FILE).write_text("sha512-x\n")


def test_offline_latest_is_the_newest_cached_release_and_says_so(cache, capfd):
    _cached(cache, PACKAGE, "2.1.81")
    _cached(cache, PACKAGE, "2.1.200")            # native, but its platform builds are not cached
    assert registry.exact_version("latest") == "2.1.81"
    assert "the npm registry did not answer; checking the newest cached release, 2.1.81" in capfd.readouterr().err


def test_offline_latest_with_nothing_cached_is_one_reason(cache):
    with pytest.raises(ReleaseError, match="did not answer and no release is cached") as caught:
        registry.exact_version("latest")
    assert "\n" not in str(caught.value)


@pytest.mark.suite
def test_release_scenarios_are_off_with_none(run_suite):
    result = run_suite("--backend=sim", "-k", "keeps_its_configuration", "--claude-code=none", "-rs")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout and "release scenarios are off (--claude-code none)" in result.stdout


FAKE_RELEASE = textwrap.dedent('''\
    #!{python}
    """Does what a release does on a refresh: reads through `security` on PATH, then asks the token
    endpoint through HTTPS_PROXY, trusting NODE_EXTRA_CA_CERTS."""
    import http.client, json, os, ssl, subprocess, sys
    subprocess.run(["security", "find-generic-password", "-a", os.environ["USER"], "-s", "probe"],
                   capture_output=True)
    proxy = os.environ["HTTPS_PROXY"].rsplit(":", 1)
    conn = http.client.HTTPSConnection("127.0.0.1", int(proxy[1]), timeout=10,
                                       context=ssl.create_default_context(cafile=os.environ["NODE_EXTRA_CA_CERTS"]))
    conn.set_tunnel("platform.claude.com", 443)
    conn.request("POST", "/v1/oauth/token", json.dumps({{"grant_type": "refresh_token", "refresh_token": "r"}}))
    print(json.dumps({{"status": conn.getresponse().status, "path": os.environ["PATH"],
                      "updater": os.environ.get("DISABLE_AUTOUPDATER")}}))
    ''')


@pytest.mark.parametrize("isolation", ["loopback", "netns"])
def test_a_release_reaches_only_the_stand_in_in_either_isolation(tmp_path, isolation):
    if isolation == "netns" and runner.netns_unavailable():
        pytest.skip(f"netns isolation: {runner.netns_unavailable()}")
    root = tmp_path / "release"
    root.mkdir()
    (root / "claude").write_text(FAKE_RELEASE.format(python=sys.executable))
    (root / "claude").chmod(0o755)
    backend = SimBackend()
    backend.release_isolation = isolation
    with Sandbox(backend) as box:
        box.prepare()
        folder = runner.standin_folder(box)
        folder.mkdir()
        standin.set_token_answer(folder, {"access_token": "a", "refresh_token": "b"})
        run = runner.run(Release("0.0.0", root, "installed"), box, "-p", "ping")
        assert run.status == 0, run.stderr
        out = json.loads(run.stdout)
        assert run.isolation == isolation and out["status"] == 200 and out["updater"] == "1"
        path = out["path"].split(":")
        assert path[1] == str(box.bin)                            # the sandbox's security right after the spawn log
        node = shutil.which("node")
        if node:
            assert os.path.dirname(node) in path
        assert [r["path"] for r in standin.requests(run.standin)] == ["/v1/oauth/token"]
        assert runner.spawned(run) == ["find-generic-password"]


def test_the_backend_chooses_the_isolation():
    backend = SimBackend()
    assert runner.isolation_for(backend) == ("loopback" if runner.netns_unavailable() else "netns")
    backend.release_isolation = "loopback"
    assert runner.isolation_for(backend) == "loopback" and runner.isolation(backend) is None


# ---------------------------------------------------------------- issue 29, point 3: a checkout below /tmp
def test_what_a_release_needs_from_below_the_host_tmp_is_bound_back_into_its_private_tmp(tmp_path):
    """Before: the sandbox's tmp bound over /tmp hid a checkout, cache or sandbox made by `mktemp -d`
    (`Cannot find module '…/darwin-preload.cjs'`).  A folder standing in for the host's /tmp (the
    host's own is not touched): the folder the command names is there at its own path, the rest of
    the host's tmp is not, and what the command writes to "/tmp" lands in the sandbox's tmp."""
    if runner.private_tmp_unavailable():
        pytest.skip(f"no private /tmp here: {runner.private_tmp_unavailable()}")
    host, box = tmp_path / "host-tmp", tmp_path / "box-tmp"
    (host / "tmp.abc" / "kc" / "keychain_claims").mkdir(parents=True)
    preload = host / "tmp.abc" / "kc" / "keychain_claims" / "darwin-preload.cjs"
    preload.write_text("preload")
    (host / "someone-else").mkdir()
    box.mkdir()
    cmd = ["sh", "-c", f'cat "{preload}"; echo; ls "{host}"; echo w > "{host}/written"']
    keep = runner.kept_paths(cmd, {"TMPDIR": str(host / "tmp.abc" / "kc" / "build")}, host)
    assert keep == [host / "tmp.abc" / "kc"]
    proc = subprocess.run(runner._private_tmp(cmd, str(box), keep, host), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["preload", "tmp.abc"]
    assert (box / "written").exists() and not (host / "written").exists()


def test_the_macos_profile_lets_a_release_read_what_it_needs_from_below_tmp(tmp_path):
    """macOS: the profile denies /private/tmp but the sandbox; a checkout or cache below it (a clone
    made in /tmp) is readable again, the last matching rule winning, and nothing else of it."""
    kept = Path("/private/tmp/tmp.abc/kc")
    profile = runner.macos_profile(tmp_path, [kept])
    deny = profile.index('(deny file-read* file-write* (subpath "/private/tmp")')
    assert profile.index(f'(allow file-read* (subpath "{kept}"))') > deny
    assert profile.count("(allow file-read*") == 2            # the sandbox and the kept folder
