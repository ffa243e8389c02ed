"""Downloading and unpacking a release into a staged cache entry: a JavaScript release's package,
or a native release's darwin module graph written out with what it needs of a runtime."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

from keychain_claims.releases import bun_graph, npm
from keychain_claims.releases.cache import ROOM, NotPublished, ReleaseError, evict, mb, progress
from keychain_claims.releases.manifests import ENTRY_FILE, LAYOUT, make_manifest, proved, staging, swap_in, write_doc
from keychain_claims.releases.npm import DARWIN, PACKAGE, drop_legacy, host_platform

PRELOAD_FILE = "host-preload.mjs"
PAYLOAD_FILE = "graph.bun"      # the darwin graph as its executable holds it, bytecode included (bun_graph.payload)


def tar_member(tarball: Path, names: tuple[str, ...], target: Path) -> Path | None:
    """One file of a tarball, streamed out (the system's tar when there is one: its gzip is faster)."""
    if shutil.which("tar"):
        for name in names:
            with open(target, "wb") as dst:
                if subprocess.run(["tar", "-xzOf", str(tarball), name], stdout=dst, stderr=subprocess.DEVNULL).returncode == 0:
                    target.chmod(0o755)
                    return target
        target.unlink(missing_ok=True)
        return None
    with tarfile.open(tarball) as tar:
        member = next((m for m in tar if m.isfile() and m.name in names), None)
        if member is None:
            return None
        with tar.extractfile(member) as src, open(target, "wb") as dst:  # type: ignore[union-attr]  # a file member
            shutil.copyfileobj(src, dst, 1 << 20)
    target.chmod(0o755)
    return target


def build(version: str, folder: Path) -> dict:
    """Fetch a release and keep only what runs: a staged entry, swapped in when complete."""
    started = time.monotonic()
    evict(ROOM["releases"])
    with staging() as stage:
        entry = stage / "entry"
        entry.mkdir()
        tarball, integrity = npm.pack(PACKAGE, version, stage)
        integrities = {f"{PACKAGE}@{version}": integrity}
        with tarfile.open(tarball) as tar:
            names = tar.getnames()
            try:
                meta = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]  # None: TypeError below
            except (KeyError, ValueError, TypeError, AttributeError):
                meta = {}
            bundle = _bundle_of(meta, names)
            form = "js" if bundle else "native"
            if bundle:
                kept = [m for m in tar.getmembers() if not _other_platform(m.name)]
                tar.extractall(entry, members=kept, filter="data")
        tarball.unlink()
        doc: dict = {"layout": LAYOUT, "version": version, "form": form, "integrity": integrities}
        if bundle:
            doc["bundle"] = bundle
        if form == "native":
            darwin_pkg = f"{PACKAGE}-{DARWIN}"
            if darwin_pkg not in (meta.get("optionalDependencies") or {}):
                raise ReleaseError(f"{version}: no cli.js and no {darwin_pkg} among its platform packages; "
                                   "the package layout changed")
            try:
                darwin_tgz, darwin_integrity = npm.pack(darwin_pkg, version, stage)
            except NotPublished:
                raise ReleaseError(f"npm has no {darwin_pkg}@{version}, although the release lists it "
                                   "among its platform packages: its macOS code cannot be fetched") from None
            integrities[f"{darwin_pkg}@{version}"] = darwin_integrity
            darwin = tar_member(darwin_tgz, ("package/claude", "package/bin/claude"), stage / "claude-darwin")
            darwin_tgz.unlink()
            if darwin is None:
                raise ReleaseError(f"{version}: the {DARWIN} package holds no claude executable; its layout changed")
            doc.update(write_graph(version, darwin, entry, folder / "graph"))
            darwin.unlink(missing_ok=True)
        doc["files"] = make_manifest(entry)
        write_doc(entry, ENTRY_FILE, doc)
        proved(entry, doc["files"], at=folder)
        swap_in(entry, folder)
        drop_legacy(PACKAGE, version)
        drop_legacy(f"{PACKAGE}-{DARWIN}", version)
        drop_legacy(f"{PACKAGE}-{host_platform()}", version)
    progress(f"{version}: cache entry written ({form}, {mb(sum(s for s, _ in doc['files'].values()))}) "
             f"in {time.monotonic() - started:.1f} s")
    return doc


def _bundle_of(meta: dict, names: list[str]) -> str | None:
    """A JavaScript release's entry: cli.js, or the JavaScript file its package.json's `bin`
    names (0.2.x: cli.mjs) when it names no platform package."""
    if "package/cli.js" in names:
        return "cli.js"
    bin_ = meta.get("bin")
    target = bin_.get("claude") if isinstance(bin_, dict) else bin_
    platforms = any(str(d).startswith(f"{PACKAGE}-") for d in (meta.get("optionalDependencies") or {}))
    if isinstance(target, str) and not platforms:
        target = target.removeprefix("./")
        if target.endswith((".js", ".mjs", ".cjs")) and f"package/{target}" in names:
            return target
    return None


PLATFORM_DIR = re.compile(r"^(arm64|x64|ia32|arm)-(darwin|linux|win32)(-musl)?$")


def _other_platform(name: str) -> bool:
    """A file of a JavaScript release's vendor/ built for a platform that is neither macOS (the code
    path that runs) nor this host (vendor/ripgrep/x64-win32/...): not kept."""
    system, _, arch = host_platform().partition("-")
    here = f"{arch.split('-')[0]}-{system}"
    parts = name.split("/")
    if "vendor" not in parts:
        return False
    for part in parts:
        m = PLATFORM_DIR.match(part)
        if m and m[2] != "darwin" and part.removesuffix("-musl") != here:
            return True
    return False


BUN_TAG = re.compile(rb"bun-v(\d+\.\d+\.\d+)")        # a literal prefix: found fast in 400 MB
BUN_ANT = re.compile(r"Bun\.ant\.([A-Za-z_$][\w$]*)")            # called as is: the runtime must have it
BUN_ANT_OPTIONAL = re.compile(r"Bun\.ant\?\.([A-Za-z_$][\w$]*)")  # `Bun.ant?.x`: the code copes without it
NEEDS_RULE = 2          # bump when what counts as a need changes: entries are read again


def graph_needs(graph: Path) -> dict:
    """What a written-out graph's code calls of Anthropic's runtime: `needs` (Bun.ant.X, called
    unguarded) and `optional` (Bun.ant?.X, checked for before use)."""
    needs: set[str] = set()
    optional: set[str] = set()
    for path in graph.rglob("*.js"):
        data = path.read_bytes()
        if b"Bun.ant" in data:
            text = data.decode("utf-8", "replace")
            needs.update(BUN_ANT.findall(text))
            optional.update(BUN_ANT_OPTIONAL.findall(text))
    return {"needs": sorted(needs), "optional": sorted(optional - needs), "needs_rule": NEEDS_RULE}


def bun_version(exe: Path) -> str | None:
    """The Bun version a Bun executable was built with (`1.4.6+86e031449`), from its own bytes:
    its `bun-vX.Y.Z` tag, then the most frequent `X.Y.Z+<revision>` beside it."""
    import mmap
    with open(exe, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        tag = BUN_TAG.search(data)
        if tag is None:
            return None
        found: dict[bytes, int] = {}
        for m in re.finditer(re.escape(tag.group(1)) + rb"\+[0-9a-f]{9}\b", data):
            found[m.group(0)] = found.get(m.group(0), 0) + 1
    return max(found, key=lambda k: found[k]).decode() if found else tag.group(1).decode()


def write_graph(version: str, darwin: Path, entry: Path, final: Path) -> dict:
    """The darwin build's module graph written out below entry/graph, what it needs of a runtime
    (its Bun version, the `Bun.ant` APIs its code calls) and the preload; or, when Bun's format
    does not parse, the darwin binary kept for its fingerprints and the reason."""
    target = entry / "graph"
    try:
        graph = bun_graph.read(darwin)
    except bun_graph.GraphError as exc:
        (entry / "darwin").mkdir()
        shutil.move(str(darwin), entry / "darwin" / "claude")
        return {"graph_error": f"{version}: {exc}"}
    started = time.monotonic()
    first = bun_graph.extract(graph, target, root=final)
    (target / bun_graph.COMPLETE).unlink(missing_ok=True)
    rooted = []
    written = str(final).encode() + b"/"
    for path in target.rglob("*.js"):
        if written in path.read_bytes():
            rooted.append(path.relative_to(entry).as_posix())
    (target / PRELOAD_FILE).write_text(bun_graph.preload(version, first.relative_to(target).as_posix()))
    kept = bun_graph.payload(graph, entry / PAYLOAD_FILE)
    progress(f"{version}: darwin module graph written out ({len(graph.modules)} modules, "
             f"{mb(graph.source_bytes)}) and kept whole with its bytecode ({mb(kept)}) in "
             f"{time.monotonic() - started:.1f} s")
    return {"entry": first.relative_to(target).as_posix(), "bun": bun_version(darwin),
            **graph_needs(target), "root": str(final), "rooted": sorted(rooted),
            "payload": PAYLOAD_FILE, "bytecode": bun_graph.bytecode_version(graph)}


