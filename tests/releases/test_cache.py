"""The release cache (issues 9, 20, 23): what it keeps, how it checks and repairs it, how it
chooses a runtime, evicts, moves, and what it says.  npm is replaced by a fake `npm pack` that
builds small packages (a JavaScript release, a native one whose darwin build carries a Bun graph,
a public `bun` and an Anthropic runtime that answer the runtime probe), so nothing here needs the
network."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from keychain_claims.releases import bun_graph, cache as release_cache, npm as npm_client, registry, runner
from keychain_claims.releases.cache import CacheRun, NotPublished, ReleaseError, begin_run, cache_max, end_run, let_go
from keychain_claims.releases.npm import PACKAGE, host_platform
from keychain_claims.releases.versions import parse_spec
from tests.releases.test_bun_graph import bun_executable, elf_runtime, graph_payload
from tests import ROOT, child

OFFLINE = "the npm registry did not answer (ENOTFOUND); check the network and retry"


def _tgz(files: dict[str, bytes], mode: int = 0o644) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(body), 0o755 if name.endswith(("/claude", "/bun")) else mode
            tar.addfile(info, io.BytesIO(body))
    return data.getvalue()


def _probe_script(bun: str, ant: list[str], revision: str = "abcdef123") -> bytes:
    return f"#!/bin/sh\necho 'KCPROBE {json.dumps({'bun': bun, 'revision': revision, 'ant': ant})}'\n".encode()


class Registry:
    """A fake npm: `npm pack` of the packages below; `offline = True` makes every call fail."""
    def __init__(self, tmp_path: Path):
        self.calls: list[str] = []
        self.offline = False
        self.graphs: dict[str, bytes] = {}           # native version -> the JavaScript of its entry
        self.elf_runtimes = False                    # the host builds: Linux Bun executables with a graph of their own
        self.host_revision = "abcdef123"             # the Bun revision of the host builds (the darwin graphs': abcdef123)
        self.host_builds = True
        self.unpublished: set[str] = set()          # package@version the registry answers E404 for
        self.tmp = tmp_path

    def package(self, spec: str) -> dict[str, bytes]:
        name, version = spec.rsplit("@", 1)
        if spec in self.unpublished:
            raise NotPublished(f"no such release of {spec}: check the version")
        if name == PACKAGE and version in self.graphs:
            deps = {f"{PACKAGE}-{p}": version for p in ("darwin-arm64", "linux-x64")}
            return {"package/package.json": json.dumps({"version": version, "optionalDependencies": deps}).encode()}
        if name == PACKAGE:
            return {"package/cli.js": f"// claude {version}\n".encode(),
                    "package/package.json": json.dumps({"version": version}).encode()}
        if name.endswith("-darwin-arm64"):
            exe = bun_executable(self.tmp / f"darwin-{version}", [
                ("cli", b"// @bun @bytecode\n" + self.graphs[version] + b"\nimport '/$bunfs/root/helper.js'\n", 1),
                ("helper.js", b"// @bun\nexport const h = 1 // Bun v1.3.13+abcdef123\n", 1)])
            return {"package/claude": exe.read_bytes() + b"bun-v1.3.13\0 1.3.13+abcdef123\0"}
        if name.startswith("@oven/bun-"):
            return {"package/bin/bun": _probe_script(version, [])}
        if name.endswith("-linux-x64") and not self.host_builds:
            raise ReleaseError(f"no such release of {spec}: check the version")
        if name.endswith("-linux-x64") and self.elf_runtimes:
            own = graph_payload(self.tmp, f"linux-{version}", [("cli", b"// @bun @bytecode\n// the Linux build\n", 1)])
            return {"package/claude": elf_runtime(self.tmp / f"linux-{version}.elf", own).read_bytes()}
        if name.endswith("-linux-x64"):
            return {"package/claude": _probe_script("1.3.13", ["loginTty", "ttyName"], self.host_revision)}
        raise ReleaseError(f"no such release of {spec}: check the version")

    def __call__(self, *args, cwd=None):
        if self.offline:
            raise ReleaseError(OFFLINE)
        assert args[0] == "pack", f"npm {args[0]} was run; a cached exact version needs none"
        self.calls.append(args[1])
        data = _tgz(self.package(args[1]))
        time.sleep(0.1)                                      # long enough for a second worker to arrive
        name = args[1].lstrip("@").replace("/", "-").replace("@", "-") + ".tgz"
        (cwd / name).write_bytes(data)
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        return f'[{{"filename": "{name}", "integrity": "{integrity}"}}]\n'


@pytest.fixture
def npm(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("KEYCHAIN_CLAIMS_CACHE_MAX", raising=False)
    fake = Registry(tmp_path)
    monkeypatch.setattr(npm_client, "run", fake)
    run = CacheRun()          # the test is a run of its own: its lines and holds, let go at its end
    begin_run(run)
    yield fake
    end_run(run)


def cache(tmp_path) -> Path:
    return tmp_path / "cache"


# ---- what is kept -----------------------------------------------------------------------------

def test_workers_needing_the_same_release_download_it_once(npm):
    results: list = []
    workers = [threading.Thread(target=lambda: results.append(registry.load("2.1.81"))) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert npm.calls == ["@anthropic-ai/claude-code@2.1.81"]
    assert len(results) == 3 and len({r.root for r in results}) == 1
    assert (results[0].root / "cli.js").read_text() == "// claude 2.1.81\n"


def test_a_cached_version_is_loaded_without_npm(npm):
    first = registry.load("2.1.81")
    again = registry.load("2.1.81")
    assert npm.calls == ["@anthropic-ai/claude-code@2.1.81"] and again.root == first.root


def test_tarballs_and_unpacked_trees_go_once_extracted(npm, tmp_path):
    npm.graphs["2.1.200"] = b"export const x = 1"
    release = registry.load("2.1.200")
    kept = sorted(p.relative_to(cache(tmp_path)).as_posix() for p in cache(tmp_path).rglob("*")
                  if p.is_file() and not p.name.startswith("."))
    assert not [k for k in kept if k.endswith(".tgz") or "/unpacked/" in k or k.endswith("darwin/claude")], kept
    assert "releases/2.1.200/graph/cli.js" in kept and "releases/2.1.200/entry.json" in kept
    doc = json.loads((cache(tmp_path) / "releases/2.1.200/entry.json").read_text())
    assert set(doc["integrity"]) == {"@anthropic-ai/claude-code@2.1.200", "@anthropic-ai/claude-code-darwin-arm64@2.1.200"}
    assert doc["bun"] == "1.3.13+abcdef123" and release.form == "native"


# ---- runtimes ---------------------------------------------------------------------------------

def test_graphs_that_need_nothing_of_anthropic_share_the_public_bun_of_their_version(npm, tmp_path):
    npm.host_builds = False                  # no build of these releases for this host
    npm.graphs.update({"2.1.200": b"export const x = 1", "2.1.201": b"export const y = 2"})
    first, second = registry.load("2.1.200"), registry.load("2.1.201")
    assert first.runtime == second.runtime == "bun-1.3.13-linux-x64" and first.runtime_kind == "bun"
    assert [c for c in npm.calls if "bun" in c] == ["@oven/bun-linux-x64@1.3.13"]
    assert json.loads((cache(tmp_path) / "releases/2.1.201/entry.json").read_text())["host_build"] == "none"
    calls = len(npm.calls)
    registry.load("2.1.201")
    assert len(npm.calls) == calls                    # a build the registry does not have is not asked for again
    argv, env = runner.command(second)
    assert argv == [str(cache(tmp_path) / "runtimes/bun-1.3.13-linux-x64/bun"), str(second.entry)] and env == {}


def test_a_graph_goes_to_the_runtime_of_its_own_bun_build_first(npm, tmp_path):
    """Issue 30: the graph's bytecode is taken only by the Bun build that made it, so this host's
    build of the same release -- the same Bun, revision included -- runs it even where the public
    bun of its version could (before: the public bun, and the graph parsed from source)."""
    npm.graphs["2.1.200"] = b"export const x = 1"
    release = registry.load("2.1.200")
    assert release.runtime == f"claude-2.1.200-{host_platform()}" and release.runtime_kind == "claude"
    assert not [c for c in npm.calls if "@oven" in c]
    npm.graphs["2.1.201"] = b"export const y = 2"            # the same Bun build: its runtime is shared
    assert registry.load("2.1.201").runtime == f"claude-2.1.200-{host_platform()}"
    npm.graphs["2.1.202"] = b"export const z = 3"
    npm.host_revision = "0123456ab"                   # 2.1.202's host build: another build of Bun 1.3.13
    calls = len(npm.calls)
    assert registry.load("2.1.202").runtime == f"claude-2.1.200-{host_platform()}"      # the graph's own build
    assert json.loads((cache(tmp_path) / "releases/2.1.202/entry.json").read_text()).get("host_build") is None
    assert not [c for c in npm.calls[calls:] if "linux" in c]


def test_a_graph_that_calls_bun_ant_runs_on_an_anthropic_runtime_that_offers_it(npm, tmp_path):
    npm.graphs["2.1.300"] = b"const t = Bun.ant.loginTty(3); const s = Bun.ant?.stringifyToBytes;"
    npm.graphs["2.1.301"] = b"const t = Bun.ant.ttyName(3);"
    release = registry.load("2.1.300")
    assert release.runtime == "claude-2.1.300-linux-x64" and release.runtime_kind == "claude"
    doc = json.loads((cache(tmp_path) / "releases/2.1.300/entry.json").read_text())
    assert doc["needs"] == ["loginTty"] and doc["optional"] == ["stringifyToBytes"]     # `?.`: copes without it
    assert not [c for c in npm.calls if "@oven" in c]              # the public bun lacks Bun.ant
    assert registry.load("2.1.301").runtime == "claude-2.1.300-linux-x64"     # offers ttyName too: shared
    argv, env = runner.command(release)
    assert argv == [str(cache(tmp_path) / "runtimes/claude-2.1.300-linux-x64/claude")]
    assert env == {"BUN_OPTIONS": f"--preload={release.preload}"}


def test_the_darwin_graph_runs_embedded_in_a_copy_of_its_runtime(npm, tmp_path):
    """Issue 30: the darwin graph, whole with its bytecode, in a copy of the runtime kept in the
    release's entry (built once); the copy is what runs, with no preload; the runtime is untouched."""
    npm.graphs["2.1.300"] = b"const t = Bun.ant.loginTty(3);"
    npm.elf_runtimes = True
    release = registry.load("2.1.300")
    copy = cache(tmp_path) / "releases/2.1.300/host/claude"
    assert release.embedded == copy and release.embed_error is None
    assert runner.command(release) == ([str(copy)], {})
    assert b"Bun.ant.loginTty" in copy.read_bytes()
    assert bun_graph.read(copy).entry_module == "cli"
    own = cache(tmp_path) / f"runtimes/claude-2.1.300-{host_platform()}/claude"
    assert b"the Linux build" in own.read_bytes() and b"Bun.ant" not in own.read_bytes()
    doc = json.loads((cache(tmp_path) / "releases/2.1.300/entry.json").read_text())
    assert doc["embedded"]["runtime"] == f"claude-2.1.300-{host_platform()}" and list(doc["embedded"]["files"]) == ["claude"]
    assert doc["embedded"]["bytecode"]["graph"] == doc["embedded"]["bytecode"]["runtime"] == doc["bytecode"]
    again = registry.load("2.1.300")
    assert again.embedded == copy
    assert sum("darwin graph embedded" in n for n in release_cache.current().notes) == 1       # built once


def test_a_release_whose_darwin_build_npm_lacks_says_so_not_check_the_version(npm):
    """2.1.120 lists @anthropic-ai/claude-code-darwin-arm64@2.1.120 among its platform packages, and
    npm answers E404 for it (and for darwin-x64): the reason names the missing build; the release's
    version is right, so "check the version" would mislead."""
    npm.graphs["2.1.120"] = b"const t = 1;"
    npm.unpublished.add(f"{PACKAGE}-darwin-arm64@2.1.120")
    with pytest.raises(ReleaseError) as caught:
        registry.load("2.1.120")
    said = str(caught.value)
    assert f"npm has no {PACKAGE}-darwin-arm64@2.1.120, although the release lists it" in said, said
    assert "check the version" not in said


def test_a_damaged_runtime_copy_is_found_and_built_again_without_a_download(npm, tmp_path, monkeypatch):
    """A byte of the copy changed in place, its size and times kept: the next run hashes it, says
    so, and builds the copy again from the entry's checked parts (no download)."""
    npm.graphs["2.1.300"] = b"const t = Bun.ant.loginTty(3);"
    npm.elf_runtimes = True
    registry.load("2.1.300")
    copy = cache(tmp_path) / "releases/2.1.300/host/claude"
    good = copy.read_bytes()
    st = copy.stat()
    at = good.index(b"Bun.ant.loginTty")
    with open(copy, "r+b") as fh:
        fh.seek(at)
        fh.write(b"X")
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
    _new_process(monkeypatch)
    calls = len(npm.calls)
    release = registry.load("2.1.300")
    assert any("runtime copy with the darwin graph was damaged (claude differs from what was written (sha256))" in n
               for n in release_cache.current().notes)
    assert release.embedded == copy and copy.read_bytes() == good and len(npm.calls) == calls


def test_a_runtime_copy_its_manifest_does_not_cover_is_built_again(npm, tmp_path, monkeypatch):
    """entry.json's record of the copy edited to name another file: the copy is not taken unchecked."""
    npm.graphs["2.1.300"] = b"const t = Bun.ant.loginTty(3);"
    npm.elf_runtimes = True
    registry.load("2.1.300")
    entry = cache(tmp_path) / "releases/2.1.300"
    doc = json.loads((entry / "entry.json").read_text())
    doc["embedded"]["files"] = {"graph.bun": doc["files"]["graph.bun"]}
    (entry / "entry.json").write_text(json.dumps(doc))
    _new_process(monkeypatch)
    release = registry.load("2.1.300")
    assert any("does not name host/claude alone" in n for n in release_cache.current().notes)
    assert release.embedded == entry / "host/claude"
    assert list(json.loads((entry / "entry.json").read_text())["embedded"]["files"]) == ["claude"]


def test_a_runtime_that_cannot_take_the_graph_leaves_it_written_out_with_the_reason(npm, tmp_path):
    """The runtime carries no graph of its own (here a script; the public bun's `.bun` section is
    empty): the reason is recorded once, and the darwin entry runs written out through the preload."""
    npm.graphs["2.1.300"] = b"const t = Bun.ant.loginTty(3);"
    release = registry.load("2.1.300")
    assert release.embedded is None and "not a 64-bit little-endian ELF" in release.embed_error
    assert "parsed from source" in release.embed_error
    doc = json.loads((cache(tmp_path) / "releases/2.1.300/entry.json").read_text())
    assert doc["embedded"]["error"] == release.embed_error
    assert runner.command(release)[1] == {"BUN_OPTIONS": f"--preload={release.preload}"}


# ---- checked at every use, repaired, never wiped offline (issue 23 item 3) ----------------------

def test_a_damaged_file_is_detected_and_fetched_again(npm, tmp_path):
    npm.graphs["2.1.200"] = b"export const x = 1"
    registry.load("2.1.200")
    helper = cache(tmp_path) / "releases/2.1.200/graph/helper.js"
    helper.write_text(helper.read_text().replace("h = 1", "h = 2"))       # same size, other content
    again = registry.load("2.1.200")
    assert npm.calls.count("@anthropic-ai/claude-code-darwin-arm64@2.1.200") == 2
    assert "h = 1" in (again.root / "helper.js").read_text()
    assert any("the cached copy was corrupt (graph/helper.js differs" in n for n in release_cache.current().notes)


def test_damage_found_offline_keeps_the_entry_and_says_so_in_one_line(npm, tmp_path):
    npm.graphs["2.1.200"] = b"export const x = 1"
    registry.load("2.1.200")
    (cache(tmp_path) / "releases/2.1.200/graph/helper.js").unlink()
    npm.offline = True
    with pytest.raises(ReleaseError) as caught:
        registry.load("2.1.200")
    assert "graph/helper.js is missing" in str(caught.value) and "kept" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert (cache(tmp_path) / "releases/2.1.200/graph/cli.js").exists()            # the rest is still there


# ---- relocatable (issue 23 item 1) ------------------------------------------------------------

def test_a_copied_cache_runs_its_own_graph_and_detects_its_own_damage(npm, tmp_path, monkeypatch):
    npm.graphs["2.1.200"] = b"export const x = 1"
    original = registry.load("2.1.200")
    let_go(original)
    preload = original.preload.read_text()
    assert str(cache(tmp_path)) not in preload                     # no absolute path in the preload
    copy = tmp_path / "copy"
    shutil.copytree(cache(tmp_path), copy)
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(copy))
    moved = registry.load("2.1.200")
    assert moved.entry == copy / "releases/2.1.200/graph/cli.js" and moved.host_binary.is_relative_to(copy)
    assert str(copy / "releases/2.1.200/graph/helper.js") in moved.entry.read_text()      # its own modules
    assert str(cache(tmp_path)) not in moved.entry.read_text()
    let_go(moved)
    (copy / "releases/2.1.200/graph/helper.js").unlink()
    npm.offline = True
    with pytest.raises(ReleaseError, match="graph/helper.js is missing"):
        registry.load("2.1.200")
    assert (cache(tmp_path) / "releases/2.1.200/graph/helper.js").exists()     # the original untouched


# ---- the limit (issue 20) ---------------------------------------------------------------------

def test_least_recently_used_releases_go_and_held_ones_stay(npm, tmp_path, monkeypatch):
    for _version in ("1.0.1", "1.0.2", "1.0.3"):
        npm.package = (lambda orig: lambda spec: {**orig(spec), "package/pad.bin": b"x" * 4000}
                       if spec.startswith(PACKAGE + "@") else orig(spec))(npm.package)
        break
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE_MAX", "9000")                   # room for two
    a = registry.load("1.0.1")
    let_go(a)
    registry.load("1.0.2")                                                  # held from here on
    registry.load("1.0.3")
    kept = sorted(p.name for p in (cache(tmp_path) / "releases").iterdir() if not p.name.startswith("."))
    assert kept == ["1.0.2", "1.0.3"]
    assert any("evicted release 1.0.1" in n for n in release_cache.current().notes)
    registry.load("1.0.1")                                                  # everything held: over, and said
    assert any("in use by a run" in n for n in release_cache.current().notes)


@pytest.mark.parametrize("raw, size", [("4G", 4_000_000_000), ("800M", 800_000_000), ("1500", 1500)])
def test_the_limit_is_read_as_a_size(monkeypatch, raw, size):
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE_MAX", raw)
    assert cache_max() == size


# ---- a spec that names nothing, a cache that cannot be used (issue 23 items 5, 9) --------------

def _listed(tmp_path, monkeypatch):
    folder = cache(tmp_path) / "@anthropic-ai+claude-code"
    folder.mkdir(parents=True)
    (folder / "versions.json").write_text(json.dumps({"versions": ["2.1.80", "2.1.81"], "dist-tags": {"latest": "2.1.81"}}))
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(cache(tmp_path)))


@pytest.mark.parametrize("spec, says", [("2.1.999", "never published 2.1.999"), ("abc", "is neither a version"),
                                        ("README.md", "is not a Claude Code release")])
def test_a_spec_that_resolves_to_nothing_is_an_error(tmp_path, monkeypatch, spec, says):
    _listed(tmp_path, monkeypatch)
    monkeypatch.chdir(ROOT)
    with pytest.raises(ReleaseError, match=says):
        parse_spec(spec)
    assert parse_spec("2.1.80,latest") == ["2.1.80", "latest"]


def _suite(env: dict, *args: str) -> subprocess.CompletedProcess:
    return child.run("-q", "-m", "release", *args, timeout=300,
                     env={"npm_config_registry": "http://127.0.0.1:9/", **env})


@pytest.mark.suite
def test_a_mistyped_release_fails_the_run_in_one_line(tmp_path, monkeypatch):
    _listed(tmp_path, monkeypatch)
    proc = _suite({"KEYCHAIN_CLAIMS_CACHE": str(cache(tmp_path))}, "--claude-code=2.1.999",
                  f"--reports-dir={tmp_path / 'r'}", f"--alluredir={tmp_path / 'a'}")
    assert proc.returncode != 0 and "never published 2.1.999" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.suite
@pytest.mark.parametrize("where", ["/proc/kc", "a-file"])
def test_an_unusable_cache_is_one_line_everywhere(tmp_path, where):
    path = where if where.startswith("/") else str(tmp_path / where)
    if not where.startswith("/"):
        Path(path).write_text("not a folder")
    env = {**os.environ, "KEYCHAIN_CLAIMS_CACHE": path, "npm_config_registry": "http://127.0.0.1:9/"}
    cli = str(Path(sys.executable).parent / "keychain-claims")
    runs = [_suite({"KEYCHAIN_CLAIMS_CACHE": path}, "--claude-code=latest", f"--reports-dir={tmp_path / 'r'}", f"--alluredir={tmp_path / 'a'}"),
            _suite({"KEYCHAIN_CLAIMS_CACHE": path}, "--claude-code=last:1", f"--reports-dir={tmp_path / 'r'}",
                   f"--alluredir={tmp_path / 'a'}"),
            subprocess.run([cli, "versions", "last:2"], cwd=ROOT, env=env, capture_output=True, text=True),
            subprocess.run([cli, "bisect", "write", "--good", "2.0.30", "--bad", "2.0.40",
                            f"--reports-dir={tmp_path / 'b'}"], cwd=ROOT, env=env, capture_output=True, text=True)]
    for proc in runs:
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, out[-500:]
        assert f"KEYCHAIN_CLAIMS_CACHE={path} cannot hold the release cache" in out, out[-500:]
        assert "Traceback" not in out and "INTERNALERROR" not in out


# ---- what the run says, without -s (issue 20, issue 23 item 7) ----------------------------------

def _legacy_tarball(cache_root: Path, version: str) -> None:
    """A release in the old layout (tarball + integrity): taken over without the network."""
    folder = cache_root / "@anthropic-ai+claude-code" / version
    folder.mkdir(parents=True)
    data = _tgz({"package/cli.js": b"// claude\n", "package/package.json": json.dumps({"version": version}).encode()})
    (folder / f"anthropic-ai-claude-code-{version}.tgz").write_bytes(data)
    (folder / "integrity").write_text("sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode() + "\n")


@pytest.mark.suite
def test_cache_lines_reach_the_terminal_and_the_reports_without_dash_s(tmp_path):
    _legacy_tarball(cache(tmp_path), "2.1.80")
    proc = _suite({"KEYCHAIN_CLAIMS_CACHE": str(cache(tmp_path)), "KEYCHAIN_CLAIMS_VERSIONS_TTL": "0"},
                  "--claude-code=latest", "-k", "keeps_its_configuration",
                  f"--reports-dir={tmp_path / 'r'}", f"--alluredir={tmp_path / 'a'}")
    out = proc.stdout + proc.stderr
    assert "[claude-code] latest: offline: the npm registry did not answer; checking the newest cached release, 2.1.80" in out
    registry_dir = cache(tmp_path) / "releases" / "2.1.80"
    proc = _suite({"KEYCHAIN_CLAIMS_CACHE": str(cache(tmp_path))}, "--claude-code=2.1.80", "-k", "keeps_its_configuration",
                  f"--reports-dir={tmp_path / 'r'}", f"--alluredir={tmp_path / 'a'}")
    out = proc.stdout + proc.stderr
    assert "[claude-code] 2.1.80 loaded (js)" in out, out[-1500:]
    assert registry_dir.is_dir() and not list(cache(tmp_path).rglob("*.tgz"))
    proc = _suite({"KEYCHAIN_CLAIMS_CACHE": str(cache(tmp_path))}, "--claude-code=latest", "-k", "keeps_its_configuration",
                  f"--reports-dir={tmp_path / 'r'}", f"--alluredir={tmp_path / 'a'}")
    out = proc.stdout + proc.stderr
    assert "offline: the npm registry did not answer; checking the newest cached release, 2.1.80" in out, out[-1500:]
    assert "checking the newest cached release, 2.1.80" in (tmp_path / "r" / "release-cache.log").read_text()


def test_a_javascript_release_runs_the_file_its_bin_names_and_keeps_no_other_platforms_build(npm, tmp_path):
    """0.2.x ships cli.mjs (package.json `bin`), later ones cli.js; vendor/ holds every platform's
    ripgrep: kept are macOS's (the code path that runs) and this host's."""
    original = npm.package

    def package(spec):
        if spec.endswith("@0.2.14"):
            return {"package/cli.mjs": b"// claude 0.2.14\n",
                    "package/package.json": json.dumps({"version": "0.2.14", "bin": {"claude": "cli.mjs"}}).encode(),
                    "package/vendor/ripgrep/x64-win32/rg.exe": b"w", "package/vendor/ripgrep/arm64-darwin/rg": b"d",
                    f"package/vendor/ripgrep/{host_platform().split('-')[1]}-linux/rg": b"h"}
        return original(spec)
    npm.package = package
    release = registry.load("0.2.14")
    assert release.form == "js" and release.bundle == release.root / "cli.mjs"
    kept = sorted(p.parent.name for p in (release.root / "vendor" / "ripgrep").glob("*/*"))
    assert "x64-win32" not in kept and "arm64-darwin" in kept and len(kept) == 2


# ---- issue 29, point 4: the content proved for this run; damage never a traceback --------------------
def _new_process(monkeypatch):
    """What a later run (another process) knows of the entries this one proved: nothing."""
    from keychain_claims.releases import manifests
    monkeypatch.setattr(manifests, "_PROVED", {}, raising=False)


def test_a_same_size_flip_with_its_stat_restored_is_found_by_the_next_run(npm, tmp_path, monkeypatch):
    """Before: a byte changed in a cached cli.js, size, mtime and inode kept, was never hashed again
    (the entry's stamp of stats said nothing changed): the damaged release ran and gave verdicts."""
    registry.load("2.1.50")
    cli = cache(tmp_path) / "releases/2.1.50/package/cli.js"
    st = cli.stat()
    with open(cli, "r+b") as fh:                      # in place: the inode stays
        fh.seek(3)
        fh.write(b"C" if fh.read(1) != b"C" else b"c")
    os.utime(cli, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (cli.stat().st_size, cli.stat().st_mtime_ns, cli.stat().st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    _new_process(monkeypatch)
    npm.offline = True
    with pytest.raises(ReleaseError, match=r"package/cli.js differs from what was written \(sha256\)"):
        registry.load("2.1.50")


@pytest.mark.parametrize("damage, says", [
    (lambda entry: _edit_manifest(entry, lambda files: {rel: "x" for rel in files}), "no manifest of [size, sha256]"),
    (lambda entry: _edit_manifest(entry, lambda files: {rel: [str(s), d] for rel, (s, d) in files.items()}),
     "no manifest of [size, sha256]"),
    (lambda entry: _edit_manifest(entry, lambda files: ["package/cli.js"]), "no manifest of [size, sha256]"),
    (lambda entry: (shutil.rmtree(entry / "package"), (entry / "package").write_text("x")), "is missing"),
    (lambda entry: (shutil.rmtree(entry), entry.write_text("x")), "cannot be used"),
])
def test_a_damaged_entry_is_one_line_and_the_release_not_checkable(npm, tmp_path, monkeypatch, damage, says):
    """Before: a manifest entry of the wrong type, or a folder of the cache that is a file, gave a
    traceback in every release scenario (16), and a crash in a @refutes scenario read as
    "no-longer-contradicted"."""
    registry.load("2.1.50")
    damage(cache(tmp_path) / "releases/2.1.50")
    _new_process(monkeypatch)
    npm.offline = True
    with pytest.raises(ReleaseError) as caught:
        registry.load("2.1.50")
    assert says in str(caught.value) and "\n" not in str(caught.value)


def _edit_manifest(entry: Path, change) -> None:
    doc = json.loads((entry / "entry.json").read_text())
    doc["files"] = change(doc["files"])
    (entry / "entry.json").write_text(json.dumps(doc))


def test_another_versions_entry_in_a_versions_place_is_not_that_version(npm, tmp_path, monkeypatch):
    """Held-out (H2): releases/2.1.51 a link to (or copy of) 2.1.50's entry -- every file matched
    2.1.50's manifest, so "2.1.51" ran 2.1.50's code and its verdicts were filed under 2.1.51."""
    registry.load("2.1.50")
    (cache(tmp_path) / "releases/2.1.51").symlink_to("2.1.50")
    _new_process(monkeypatch)
    npm.offline = True
    with pytest.raises(ReleaseError, match=r"its entry.json is the entry of '2.1.50'") as caught:
        registry.load("2.1.51")
    assert "\n" not in str(caught.value)
