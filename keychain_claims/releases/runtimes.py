"""Host runtimes: one serves many native releases (the public `bun` of a graph's Bun version, or
this host's `claude` build of a release), chosen by what the graph's code needs."""
from __future__ import annotations

import os
import json
import shutil
import subprocess
import time
from pathlib import Path

from keychain_claims.releases import bun_graph, npm
from keychain_claims.releases.cache import ROOM, ReleaseError, cache_dir, entry_lock, evict, hold, mb, progress
from keychain_claims.releases.manifests import (ENTRY_FILE, LAYOUT, RUNTIME_FILE, check, make_manifest, read_doc, proved,
                                               staging, swap_in, write_doc)
from keychain_claims.releases.npm import PACKAGE, host_platform
from keychain_claims.releases.release import Release, runtime_binary
from keychain_claims.releases.unpack import NEEDS_RULE, bun_version, graph_needs, tar_member

HOST_DIR = "host"               # below a release's entry: its runtime with the darwin graph embedded
HOST_FILE = "claude"

PROBE = ("const ant = globalThis.Bun && Bun.ant ? Object.keys(Bun.ant) : [];\n"
         "console.log('KCPROBE ' + JSON.stringify({bun: Bun.version, revision: Bun.revision, ant}));\n"
         "process.exit(0);\n")


def _bun_base(version: str | None) -> str | None:
    return version.split("+")[0] if version else None


def fits(runtime: dict, graph: dict) -> bool:
    """Whether a runtime can run a graph, by what the graph's code needs: the Bun version it was
    built with (same x.y.z) and every `Bun.ant` API it calls."""
    return (bool(graph.get("bun")) and _bun_base(runtime.get("bun")) == _bun_base(graph.get("bun"))
            and set(graph.get("needs", ())) <= set(runtime.get("ant", ())))


def same_build(runtime: dict, graph: dict) -> bool:
    """Whether a runtime is Anthropic's build of the very Bun the graph was made with (version and
    revision): its JSC takes the graph's bytecode, so the graph embedded in it starts from that."""
    return (runtime.get("kind") == "claude" and bool(graph.get("bun")) and runtime.get("bun") == graph.get("bun")
            and fits(runtime, graph))


def _probe(kind: str, exe: Path, stage: Path) -> dict:
    """What a runtime offers, asked of it: Bun.version, Bun.revision, the keys of Bun.ant."""
    probe = stage / "probe.mjs"
    probe.write_text(PROBE)
    argv, env = ([str(exe)], {"BUN_OPTIONS": f"--preload={probe}"}) if kind == "claude" else ([str(exe), str(probe)], {})
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TMPDIR")}
    try:
        out = subprocess.run(argv, env={**clean, "HOME": str(stage), **env}, cwd=stage, capture_output=True,
                             text=True, timeout=60, stdin=subprocess.DEVNULL).stdout
        line = next(l for l in out.splitlines() if l.startswith("KCPROBE "))
        found = json.loads(line[len("KCPROBE "):])
        return {"bun": f"{found['bun']}+{str(found.get('revision', ''))[:9]}", "ant": sorted(found.get("ant") or [])}
    except (OSError, subprocess.SubprocessError, StopIteration, ValueError, KeyError, TypeError):
        return {}


def public_bun_package() -> str:
    system, _, rest = host_platform().partition("-")
    arch, _, musl = rest.partition("-")
    return f"@oven/bun-{system}-{'aarch64' if arch == 'arm64' else arch}{'-musl' if musl else ''}"


def _runtimes() -> list[tuple[Path, dict]]:
    folder = cache_dir() / "runtimes"
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        doc = read_doc(path / RUNTIME_FILE)
        if doc and not path.name.startswith("."):
            found.append((path, doc))
    return found


def attach(release: Release, folder: Path, doc: dict) -> None:
    """Choose the release's runtime: first one of the graph's own Bun build (`same_build`: cached,
    else this host's build of the same release, when it is that build), whose JSC takes the graph's
    bytecode; else a cached one that fits its graph (the smallest), else the public bun of its Bun
    version when it calls no `Bun.ant` API, else this host's build of the same release.  The choice
    goes into entry.json."""
    if doc.get("needs_rule") != NEEDS_RULE:                      # read by an older rule: read again
        doc.update(graph_needs(folder / "graph"))
        write_doc(folder, ENTRY_FILE, doc)
    own = sorted(((path, rt) for path, rt in _runtimes() if same_build(rt, doc)),
                 key=lambda p: (p[1].get("for") != release.version, p[1].get("size", 0)))
    for path, rt in own:
        if _ready_runtime(path, rt):
            return _remember(release, folder, doc, path, rt)
    if doc.get("host_build") not in ("other", "none"):   # not yet seen to be another Bun build, or missing
        try:
            path, rt = fetch_runtime("claude", f"{PACKAGE}-{host_platform()}", release.version)
        except ReleaseError as exc:               # offline: a runtime below runs the graph, from source
            progress(f"{release.version}: this host's build could not be fetched ({exc}); choosing another runtime")
            if "no such release" in str(exc):    # the registry has none: not asked again
                doc["host_build"] = "none"
                write_doc(folder, ENTRY_FILE, doc)
        else:
            if same_build(rt, doc):
                return _remember(release, folder, doc, path, rt)
            doc["host_build"] = "other"
            write_doc(folder, ENTRY_FILE, doc)
    wanted = doc.get("runtime")
    for path, rt in _runtimes():
        if path.name == wanted and (fits(rt, doc) or rt.get("for") == release.version) and _ready_runtime(path, rt):
            return _use_runtime(release, path, rt)
    fitting = sorted(((path, rt) for path, rt in _runtimes() if fits(rt, doc)), key=lambda p: p[1].get("size", 0))
    for path, rt in fitting:
        if _ready_runtime(path, rt):
            return _remember(release, folder, doc, path, rt)
    candidates: list[tuple[str, str, str]] = []
    if (bun := _bun_base(doc.get("bun"))) and not doc.get("needs"):
        candidates.append(("bun", public_bun_package(), bun))
    candidates.append(("claude", f"{PACKAGE}-{host_platform()}", release.version))
    why = []
    for kind, package, version in candidates:
        try:
            path, rt = fetch_runtime(kind, package, version)
        except ReleaseError as exc:
            why.append(str(exc))
            continue
        if fits(rt, doc) or (kind == "claude" and version == release.version):
            return _remember(release, folder, doc, path, rt)
        why.append(f"{package}@{version} ({rt.get('bun')}) does not offer what the graph needs")
    release.graph_error = f"{release.version}: no runtime for its graph here: {'; '.join(why)}"


def _remember(release: Release, folder: Path, doc: dict, path: Path, rt: dict) -> None:
    if doc.get("runtime") != path.name:
        doc["runtime"] = path.name
        write_doc(folder, ENTRY_FILE, doc)
    _use_runtime(release, path, rt)


def _use_runtime(release: Release, path: Path, rt: dict) -> None:
    release.runtime, release.runtime_kind, release.host_root = path.name, rt["kind"], path
    hold("runtimes", path.name)


def _ready_runtime(path: Path, rt: dict) -> bool:
    """A cached runtime checked against its manifest; a damaged one is fetched again."""
    with entry_lock("runtimes", path.name):
        problem = check(path, rt)
        if problem is None:
            return True
        progress(f"runtime {path.name}: the cached copy was corrupt ({problem}); fetching it again")
    try:
        fetch_runtime(rt["kind"], rt["package"], rt["version"], again=True)
        return True
    except ReleaseError as exc:
        progress(f"runtime {path.name} could not be fetched again ({exc}); the damaged copy is kept")
        return False


def fetch_runtime(kind: str, package: str, version: str, again: bool = False) -> tuple[Path, dict]:
    name = f"{kind}-{version}-{host_platform()}"
    folder = cache_dir() / "runtimes" / name
    with entry_lock("runtimes", name):
        doc = read_doc(folder / RUNTIME_FILE)
        if doc is not None and not again and check(folder, doc) is None:
            return folder, doc
        evict(ROOM["runtimes"])
        with staging() as stage:
            entry = stage / "entry"
            entry.mkdir()
            tarball, integrity = npm.pack(package, version, stage)
            exe_name = "bun" if kind == "bun" else "claude"
            exe = tar_member(tarball, (f"package/bin/{exe_name}", f"package/{exe_name}"), entry / exe_name)
            tarball.unlink()
            if exe is None:
                raise ReleaseError(f"{package}@{version} holds no {exe_name} executable; its layout changed")
            offered = _probe(kind, exe, stage) or {"bun": bun_version(exe), "ant": []}
            doc = {"layout": LAYOUT, "kind": kind, "package": package, "version": version, "binary": exe_name,
                   "integrity": {f"{package}@{version}": integrity}, "for": version if kind == "claude" else None,
                   **offered}
            doc["files"] = make_manifest(entry)
            doc["size"] = sum(s for s, _ in doc["files"].values())
            write_doc(entry, RUNTIME_FILE, doc)
            proved(entry, doc["files"], at=folder)
            swap_in(entry, folder)
        progress(f"runtime {name}: Bun {doc.get('bun')}, {len(doc.get('ant', []))} Bun.ant APIs, {mb(doc['size'])}")
    return folder, doc


def _own_bytecode(exe: Path) -> str | None:
    """The JSC bytecode cache version of the graph a runtime carries."""
    try:
        return bun_graph.bytecode_version(bun_graph.read(exe))
    except bun_graph.GraphError:
        return None


def embed(release: Release, folder: Path, doc: dict) -> None:
    """The release's darwin graph, whole with its bytecode, in a copy of the runtime attach() chose
    (`host/claude` in its entry): built once per entry and runtime, recorded in entry.json
    (`embedded`: the runtime and the copy's manifest), checked at every use like the entry itself;
    a damaged copy is built again.  When the runtime cannot take the graph (it carries none of its
    own, the build fails), the reason is recorded and the graph runs written out, from source."""
    record = doc.get("embedded")
    host = folder / HOST_DIR
    exe = runtime_binary(release.host_root)
    if isinstance(record, dict) and record.get("runtime") == release.runtime:
        if record.get("error"):
            release.embed_error = record["error"]
            return
        files = record.get("files")
        problem = check(host, record) if isinstance(files, dict) and list(files) == [HOST_FILE] else \
            f"its manifest in {ENTRY_FILE} does not name {HOST_DIR}/{HOST_FILE} alone"
        if problem is None:
            release.embedded = host / HOST_FILE
            release.size += record["files"][HOST_FILE][0]
            return
        progress(f"{release.version}: its runtime copy with the darwin graph was damaged ({problem}); building it again")
    if exe is None:
        return
    record = {"runtime": release.runtime}
    started = time.monotonic()
    try:
        if not doc.get("payload"):
            raise bun_graph.EmbedError("its cache entry keeps no whole darwin graph")
        evict(ROOM["host"])
        with staging() as stage:
            built = stage / HOST_DIR
            built.mkdir()
            bun_graph.embed(exe, folder / doc["payload"], built / HOST_FILE)
            record["files"] = make_manifest(built)
            proved(built, record["files"], at=host)
            swap_in(built, host)
        release.embedded = host / HOST_FILE
        release.size += record["files"][HOST_FILE][0]
        record["bytecode"] = {"graph": doc.get("bytecode"), "runtime": _own_bytecode(exe)}
        same = record["bytecode"]["graph"] == record["bytecode"]["runtime"]
        progress(f"{release.version}: darwin graph embedded, with its bytecode, in a copy of runtime {release.runtime} "
                 f"({mb(record['files'][HOST_FILE][0])}) in {time.monotonic() - started:.1f} s"
                 + ("" if same else f"; its bytecode's cache version ({record['bytecode']['graph']}) is not the "
                    f"runtime's ({record['bytecode']['runtime']}): JSC rejects such bytecode and parses the source"))
    except (bun_graph.EmbedError, ReleaseError, OSError) as exc:
        shutil.rmtree(host, ignore_errors=True)
        why = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
        release.embed_error = (f"{release.version}: not embedded in runtime {release.runtime} ({why}); its darwin "
                               "graph runs written out, parsed from source")
        progress(release.embed_error)
        if not isinstance(exc, bun_graph.EmbedError):      # this time only (a full disk): tried again next time
            doc.pop("embedded", None)
            write_doc(folder, ENTRY_FILE, doc)
            return
        record = {"runtime": release.runtime, "error": release.embed_error}
    doc["embedded"] = record
    write_doc(folder, ENTRY_FILE, doc)
