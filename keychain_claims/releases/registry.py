"""The release cache: `@anthropic-ai/claude-code` releases fetched with `npm pack` (npm checks each
download against the registry's dist.integrity; it is checked again here and recorded), and kept
only as what runs.

    <cache>/releases/<version>/        one folder per release (its "entry")
        entry.json                     form, the integrity of every package it came from, the Bun
                                       version and `Bun.ant` APIs its graph uses, the runtime
                                       chosen, and a manifest: every kept file's size and sha256
        package/                       a JavaScript release: its npm package (cli.js ...)
        graph/                         a native release: the darwin build's module graph, written
                                       out, with host-preload.mjs (paths relative to itself)
    <cache>/runtimes/<id>/             one host runtime serves many native releases: the public
                                       `bun` of a graph's Bun version (@oven/bun-<platform>), or an
                                       Anthropic runtime (this host's `claude` build of a release),
                                       with runtime.json (its Bun version, its `Bun.ant` APIs, manifest)

Tarballs and unpacked trees are removed once extracted.  Every use checks the entry against its
manifest (sizes and, when a file's stat changed since the last check, its hash); a damaged entry
is fetched again from the registry into a staging folder and swapped in whole, so a failed repair
(offline) keeps what was there.  Nothing inside holds an absolute path that matters: a copied or
moved cache rewrites its graph's own paths at first use.  `KEYCHAIN_CLAIMS_CACHE_MAX` (default
4G) bounds the cache; least recently used entries are evicted, never one this run holds.

This module loads a release (a version, a tag, or an installed claude) and knows what the cache
holds; the rest lives by concern: cache.py (the folder, locks, holds, eviction), npm.py (the
registry client), manifests.py (entry documents, staging, the manifest check), unpack.py
(download and unpack), runtimes.py (host runtimes), release.py (Release), versions.py (what a
--claude-code SPEC names); version order is claims/release_order.py (the ledger's release ranges use it too)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from packaging.version import Version

from keychain_claims import atomic
from keychain_claims.releases import runtimes
from keychain_claims.releases.cache import ReleaseError, cache_dir, entry_lock, evict, hold, mb, progress
from keychain_claims.releases.manifests import ENTRY_FILE, check, read_doc, proved, sha256, write_doc
from keychain_claims.releases.npm import DARWIN, INTEGRITY_FILE, PACKAGE, host_platform, resolve
from keychain_claims.releases.spec import Kind, SpecItem, is_version
from keychain_claims.claims.release_order import release_key, version_of
from keychain_claims.releases.release import Release, binary
from keychain_claims.releases.unpack import PRELOAD_FILE, build

NATIVE_FROM = Version("2.1.113")     # the first native release


# ---- loading --------------------------------------------------------------------------------------

def claude_at(path: Path) -> Path:
    """The root of an installed claude at `path` (a package folder, cli.js or the executable);
    ReleaseError when it is none."""
    root = path.resolve().parent if path.is_file() else path.resolve()
    if (root / "cli.js").exists() and (root / "package.json").exists():
        return root
    exe = path if path.is_file() else binary(root)
    if exe is not None and os.access(exe, os.X_OK):
        try:
            out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=30,
                                 stdin=subprocess.DEVNULL, env={**os.environ, "DISABLE_AUTOUPDATER": "1"}).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        if "Claude Code" in out:
            return exe.parent
    raise ReleaseError(f"{path} is not a Claude Code release (no cli.js with its package.json, and "
                       f"`--version` does not say Claude Code); pass a version or the path of an installed claude")


def load(spec: str) -> Release:
    """A version, `latest`, or a path to an installed `claude` / package directory.  Prints one
    line per release loaded: version, size, seconds, cached or downloaded."""
    item = SpecItem.of(spec)
    if item.kind is Kind.PATH:
        path = item.path
        if not path.exists():
            raise ReleaseError(f"{spec} does not exist; pass a version or the path of an installed claude")
        root = claude_at(path)
        version = json.loads((root / "package.json").read_text()).get("version", "?") if (root / "package.json").exists() else "installed"
        return Release(version, root, "js" if (root / "cli.js").exists() else "installed")
    started = time.monotonic()
    version = exact_version(spec)
    release, how = _release(version)
    rt = f", runtime {release.runtime}" if release.runtime else ""
    progress(f"{version} loaded ({release.form}{rt}): {mb(release.size)} in {time.monotonic() - started:.1f} s, {how}"
             + (f"; {release.graph_error}" if release.graph_error else ""))
    return release


def fetch(version_spec: str, package: str = PACKAGE) -> tuple[str, Path]:
    """(version, the folder of its cache entry): the release loaded into the cache."""
    release = load(version_spec)
    return release.version, cache_dir() / "releases" / release.version


def _release(version: str) -> tuple[Release, str]:
    folder = cache_dir() / "releases" / version
    try:
        return _cached_or_built(version, folder)
    except OSError as exc:             # a folder of the entry that is a file, a file that cannot be read, ...
        raise ReleaseError(f"{version}: the cache entry {folder} cannot be used ({atomic.why(exc)}); "
                           f"remove it (the next run fetches it again)") from None


def _cached_or_built(version: str, folder: Path) -> tuple[Release, str]:
    with entry_lock("releases", version):
        doc = read_doc(folder / ENTRY_FILE)
        how = "cached"
        if doc is not None:
            problem = (f"its {ENTRY_FILE} is the entry of {doc.get('version')!r}" if doc.get("version") != version
                       else check(folder, doc))     # a copy or link of another version's entry is not this one
            if problem:
                progress(f"{version}: the cached copy was corrupt ({problem}); fetching it again from the registry")
                try:
                    doc = build(version, folder)
                except ReleaseError as exc:
                    raise ReleaseError(f"{version}: the cached copy is damaged ({problem}) and could not be fetched "
                                       f"again ({exc}); the damaged copy is kept") from None
                how = "repaired"
            elif doc.get("form") == "native" and not doc.get("graph_error") and not doc.get("payload"):
                progress(f"{version}: the cached copy predates keeping the darwin graph whole (for its bytecode); "
                         "fetching it again from the registry")
                try:
                    doc, how = build(version, folder), "refreshed"
                except ReleaseError as exc:          # offline: the entry still runs, its graph written out
                    progress(f"{version}: could not be fetched again ({exc}); its graph runs written out")
        elif folder.exists() and any(folder.iterdir()):
            progress(f"{version}: the cached copy is incomplete (no {ENTRY_FILE}); fetching it again")
            doc, how = build(version, folder), "downloaded"
        else:
            doc, how = build(version, folder), "downloaded"
        release = _from_doc(version, folder, doc)
        hold("releases", version)
        if release.form == "native" and release.graph_error is None:
            runtimes.attach(release, folder, doc)
            if release.host_root is not None:
                runtimes.embed(release, folder, doc)
    evict()
    return release, how


def _from_doc(version: str, folder: Path, doc: dict) -> Release:
    size = sum(s for s, _ in doc["files"].values())
    if doc["form"] == "js":
        return Release(version, folder / "package", "js", size=size, bundle_name=doc.get("bundle", "cli.js"))
    graph = folder / "graph"
    root_written = doc.get("root")
    if root_written and root_written != str(graph) and doc.get("rooted"):
        _relocate(folder, doc, root_written)
    return Release(version, graph, "native", graph_error=doc.get("graph_error"),
                   preload=graph / PRELOAD_FILE if doc.get("entry") else None,
                   entry=graph / doc["entry"] if doc.get("entry") else None, size=size)


def _relocate(folder: Path, doc: dict, old: str) -> None:
    """The cache was copied or moved: the graph's modules name the folder they were written in
    (Bun resolves `/$bunfs/root/` to it); they are rewritten to name this one, and re-recorded."""
    new = str(folder / "graph")
    for rel in doc["rooted"]:
        path = folder / rel
        path.write_bytes(path.read_bytes().replace(old.encode() + b"/", new.encode() + b"/"))
        doc["files"][rel] = [path.stat().st_size, sha256(path)]
    doc["root"] = new
    write_doc(folder, ENTRY_FILE, doc)
    proved(folder, doc["files"])
    progress(f"{folder.name}: the cache was moved or copied; its graph now names {new}")


# ---- versions and specs -----------------------------------------------------------------------------

RESOLVED_FOR = 600      # seconds a resolved tag (`latest`) is reused: xdist workers and reruns ask npm once


def exact_version(spec: str) -> str:
    """An exact version for `spec`.  A tag is asked of npm (the answer kept RESOLVED_FOR seconds);
    when npm does not answer, the newest cached release is used and the run says so."""
    if is_version(spec):
        return spec
    memo = cache_dir() / f".resolved-{re.sub(r'[^A-Za-z0-9._-]', '_', spec)}.json"
    try:
        known = json.loads(memo.read_text())
        if time.time() - known["at"] < RESOLVED_FOR:
            return known["version"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        version = resolve(spec)[0]
    except ReleaseError as exc:
        if "no such release" in str(exc):
            raise
        newest = newest_cached()
        if newest is None:
            raise ReleaseError(f"{spec}: the npm registry did not answer and no release is cached, so no release "
                               f"can be checked ({exc})") from None
        progress(f"{spec}: offline: the npm registry did not answer; checking the newest cached release, {newest}")
        return newest
    atomic.write_text(memo, json.dumps({"version": version, "at": time.time()}), durable=False)
    return version


def cached_versions() -> list[str]:
    folder = cache_dir() / "releases"
    return sorted((p.name for p in folder.iterdir() if is_version(p.name) and read_doc(p / ENTRY_FILE))
                  if folder.is_dir() else [], key=release_key)


def _legacy_versions() -> list[str]:
    """Versions a cache of the old layout holds whole (tarballs; for a native one also the darwin
    and this host's builds): loading one takes it over."""
    def complete(package: str, version: str) -> bool:
        folder = cache_dir() / package.replace("/", "+") / version
        return (folder / INTEGRITY_FILE).exists() and any(folder.glob("*.tgz"))
    folder = cache_dir() / PACKAGE.replace("/", "+")
    found = [p.name for p in folder.iterdir() if is_version(p.name)] if folder.is_dir() else []
    return [v for v in found if complete(PACKAGE, v) and ((version_of(v) or NATIVE_FROM) < NATIVE_FROM or all(
        complete(f"{PACKAGE}-{p}", v) for p in {DARWIN, host_platform()}))]


def newest_cached() -> str | None:
    """The newest release the cache holds whole."""
    versions = sorted(set(cached_versions()) | set(_legacy_versions()), key=release_key)
    return versions[-1] if versions else None
