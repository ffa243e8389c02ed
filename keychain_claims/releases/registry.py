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
4G) bounds the cache; least recently used entries are evicted, never one this run holds."""
from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from keychain_claims.releases import bun_graph

PACKAGE = "@anthropic-ai/claude-code"
NATIVE_FROM = (2, 1, 113)
EXACT = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?")     # a version, not a tag or a range
DARWIN = "darwin-arm64"          # the build whose JavaScript has the macOS keychain code
PRELOAD_FILE = "host-preload.mjs"
ENTRY_FILE = "entry.json"
RUNTIME_FILE = "runtime.json"
STAMP_FILE = ".verified.json"    # the stat of every file at its last full check, and where it was checked
USED_FILE = ".used"              # its mtime: the last use (least recently used eviction)
DEFAULT_MAX = "4G"
LAYOUT = 2


class ReleaseError(Exception):
    """One line saying why a release cannot be used (scenarios skip with it)."""


# ---- the cache folder -------------------------------------------------------------------------

DEFAULT_CACHE = Path.home() / ".cache" / "keychain-claims" / "releases"


@functools.lru_cache(maxsize=8)
def _usable(raw: str) -> Path:
    path = Path(raw).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{os.getpid()}-{threading.get_ident()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        why = ("it is a file" if path.is_file() or isinstance(exc, (FileExistsError, NotADirectoryError))
               else exc.strerror or type(exc).__name__)
        raise ReleaseError(f"KEYCHAIN_CLAIMS_CACHE={raw} cannot hold the release cache ({why}); set it to a "
                           f"writable folder, or unset it to use {DEFAULT_CACHE}") from None
    return path


def cache_dir() -> Path:
    """The cache's root (KEYCHAIN_CLAIMS_CACHE); ReleaseError (one line) when it cannot be used."""
    return _usable(os.environ.get("KEYCHAIN_CLAIMS_CACHE") or str(DEFAULT_CACHE))


def _vtuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("-")[0].split(".")[:3] if p.isdigit())


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


# ---- what the run says about the cache ----------------------------------------------------------

NOTES: list[str] = []                                   # every line of this process, for the reports
REPORTERS: list[Callable[[str], None]] = []             # the pytest plugin puts the terminal here


def progress(text: str) -> None:
    line = f"[claude-code] {text}"
    NOTES.append(line)
    if REPORTERS:
        for report in list(REPORTERS):
            report(line)
    else:
        print(line, file=sys.__stderr__, flush=True)


# ---- locks and holds ----------------------------------------------------------------------------

@contextmanager
def _locked(folder: Path):
    """One process at a time in a cache folder: xdist workers that need the same release
    wait for the first one's download or unpack instead of racing it (and repeating it)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _locks() -> Path:
    folder = cache_dir() / ".locks"
    folder.mkdir(exist_ok=True)
    return folder


@contextmanager
def _entry_lock(kind: str, name: str):
    """The lock of one entry, kept outside it (an entry is swapped in whole)."""
    with open(_locks() / f"{kind}-{name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_HELD: dict[tuple[str, str, str], object] = {}


def _hold(kind: str, name: str) -> None:
    """This process uses the entry: a shared lock that eviction (anywhere) will not break."""
    key = (str(cache_dir()), kind, name)
    if key not in _HELD:
        fh = open(_locks() / f"hold-{kind}-{name}", "a")
        fcntl.flock(fh, fcntl.LOCK_SH)
        _HELD[key] = fh
    (cache_dir() / kind / name).mkdir(parents=True, exist_ok=True)
    (cache_dir() / kind / name / USED_FILE).touch()


def _held_elsewhere_or_here(kind: str, name: str) -> bool:
    key = (str(cache_dir()), kind, name)
    if key in _HELD:
        return True
    path = _locks() / f"hold-{kind}-{name}"
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def let_go(release: "Release") -> None:
    """The run is done with a release: it (and its runtime) may be evicted again."""
    for kind, name in (("releases", release.version), ("runtimes", release.runtime or "")):
        fh = _HELD.pop((str(cache_dir()), kind, name), None)
        if fh is not None:
            fh.close()


# ---- releases -------------------------------------------------------------------------------------

@dataclass
class Release:
    version: str
    root: Path                    # js: the package folder (cli.js); native: the darwin graph folder
    form: str                     # js | native | installed
    host_root: Path | None = None     # native: the runtime folder that runs the graph here
    preload: Path | None = None       # native, not on a Mac: makes an Anthropic runtime start the darwin entry
    graph_error: str | None = None    # native: why the darwin graph could not be read (fingerprints only)
    runtime: str | None = None        # native: the runtime's id (runtimes/<id>)
    runtime_kind: str | None = None   # claude (an Anthropic runtime, entered through the preload) | bun
    entry: Path | None = None         # native: the darwin entry point, written out
    size: int = 0                     # bytes the release's own entry holds in the cache
    notes: list[str] = field(default_factory=list)
    bundle_name: str = "cli.js"       # js: the entry (cli.js; 0.2.x: cli.mjs)

    @property
    def bundle(self) -> Path | None:
        cli = self.root / self.bundle_name
        return cli if self.form == "js" and cli.exists() else None

    @property
    def host_binary(self) -> Path | None:
        """The executable that runs here: the runtime (native), or the installed claude."""
        if self.form == "native":
            return _runtime_binary(self.host_root) if self.host_root else None
        return binary(self.host_root or self.root)

    @property
    def runnable_here(self) -> str | None:
        """None when this host can run the release on the macOS code path, else why not."""
        if self.form == "js":
            return None if shutil.which("node") else "node is not installed"
        if self.form == "native":
            if self.graph_error:
                return f"{self.graph_error}"
            if self.host_binary is None:
                return f"{self.version}: no runtime for its graph on {host_platform()}"
            return None
        if sys.platform == "darwin":
            return None
        return f"{self.version} is an installed claude: on this host it has no macOS keychain code; run it on a Mac"

    def __repr__(self) -> str:
        return f"<Claude Code {self.version} ({self.form})>"


def binary(root: Path) -> Path | None:
    """The `claude` executable of an unpacked platform package (`claude`, or `bin/claude`)."""
    for candidate in (root / "claude", root / "bin" / "claude", root / "claude.exe"):
        if candidate.is_file():
            return candidate
    return None


def host_platform() -> str:
    """The platform package that runs here: linux-x64, linux-arm64(-musl), darwin-arm64, ..."""
    system = "darwin" if sys.platform == "darwin" else "linux"
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower())
    musl = system == "linux" and any(Path("/lib").glob("ld-musl-*"))
    return f"{system}-{arch}{'-musl' if musl else ''}"


# ---- npm ------------------------------------------------------------------------------------------

def _npm(*args: str, cwd: Path | None = None) -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise ReleaseError("npm is not installed; install Node.js >= 20 with npm to test releases")
    proc = subprocess.run([npm, *args, "--loglevel=error"], cwd=cwd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if "ERR!" in l or "error" in l.lower()] or proc.stderr.splitlines()
        text = " ".join(lines[-2:]).strip() or f"exit {proc.returncode}"
        everything = proc.stderr + proc.stdout
        if "E404" in everything or "No match found" in everything or "ETARGET" in everything:
            raise ReleaseError(f"no such release of {args[1] if len(args) > 1 else PACKAGE}: check the version")
        raise ReleaseError(f"the npm registry did not answer ({text[:160]}); check the network and retry")
    return proc.stdout


def resolve(spec: str, package: str = PACKAGE) -> tuple[str, str]:
    """`latest` or a version -> (version, sha512 integrity)."""
    out = _npm("view", f"{package}@{spec}", "version", "dist.integrity", "--json")
    try:
        data = json.loads(out)
    except ValueError:
        raise ReleaseError(f"npm view {package}@{spec} gave no JSON; the registry answer was unexpected") from None
    if isinstance(data, list):
        data = data[-1]
    if not data or "version" not in data:
        raise ReleaseError(f"no such release {package}@{spec}; check the version")
    return data["version"], data["dist.integrity"]


def _sri_ok(path: Path, integrity: str) -> bool:
    algo, _, digest = integrity.partition("-")
    try:
        h = hashlib.new(algo)
    except ValueError:
        return False
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return base64.b64encode(h.digest()).decode() == digest


INTEGRITY_FILE = "integrity"       # the old layout: beside a tarball, the registry's dist.integrity for it


def _legacy(package: str, version: str) -> tuple[Path, str] | None:
    """A tarball a cache of the old layout holds (<cache>/<package>/<version>/*.tgz + integrity),
    if it still matches its recorded integrity: taken over instead of downloaded again."""
    folder = cache_dir() / package.replace("/", "+") / version
    try:
        integrity = (folder / INTEGRITY_FILE).read_text().strip()
    except OSError:
        return None
    tarballs = list(folder.glob("*.tgz"))
    return (tarballs[0], integrity) if len(tarballs) == 1 and _sri_ok(tarballs[0], integrity) else None


def _drop_legacy(package: str, version: str) -> None:
    folder = cache_dir() / package.replace("/", "+") / version
    if folder.is_dir() and (folder / INTEGRITY_FILE).exists():
        shutil.rmtree(folder, ignore_errors=True)


def _pack(package: str, version: str, folder: Path) -> tuple[Path, str]:
    """`npm pack --json` into `folder`: one npm process resolves, downloads and checks the tarball
    against the registry's dist.integrity (npm refuses a mismatch); checked again here, one more
    download when it does not match.  Returns the tarball and that integrity."""
    legacy = _legacy(package, version)
    if legacy:
        return legacy
    for attempt in (1, 2):
        progress(f"downloading {package}@{version} (npm pack)"
                 + (" again: the downloaded copy was corrupt" if attempt > 1 else ""))
        started = time.monotonic()
        out = _npm("pack", f"{package}@{version}", "--json", "--pack-destination", str(folder), cwd=folder)
        try:
            info = json.loads(out[out.index("["):])[0]
            tarball, integrity = folder / info["filename"], info["integrity"]
        except (ValueError, IndexError, KeyError, TypeError):
            raise ReleaseError(f"npm pack {package}@{version} gave no usable JSON; update npm and retry") from None
        if tarball.exists() and _sri_ok(tarball, integrity):
            took, size = time.monotonic() - started, tarball.stat().st_size
            progress(f"downloaded {package}@{version}: {_mb(size)} in {took:.1f} s "
                     f"({size / 1e6 / max(took, 1e-3):.1f} MB/s), integrity checked")
            return tarball, integrity
        tarball.unlink(missing_ok=True)
    raise ReleaseError(f"{package}@{version} does not match the registry's integrity after two downloads; retry later")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _sweep_leftovers() -> None:
    """What a killed run left: its staging folders, half-swapped or half-evicted entries."""
    for stale in (cache_dir() / ".staging").glob("*") if (cache_dir() / ".staging").is_dir() else []:
        pid = stale.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    for kind in ("releases", "runtimes"):
        for stale in (cache_dir() / kind).glob(".*-*") if (cache_dir() / kind).is_dir() else []:
            pid = stale.name.rsplit("-", 2)[-2] if stale.name.count("-") >= 2 else ""
            if stale.is_dir() and pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def _staging():
    """A scratch folder inside the cache (same file system: entries are renamed into place)."""
    _sweep_leftovers()
    folder = cache_dir() / ".staging" / f"{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _swap_in(staged: Path, folder: Path) -> None:
    """Put a complete entry in place of whatever was there (nothing half-written is ever visible)."""
    trash = None
    if folder.exists():
        trash = folder.with_name(f".old-{folder.name}-{os.getpid()}-{secrets.token_hex(4)}")
        os.rename(folder, trash)
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staged, folder)
    if trash:
        shutil.rmtree(trash, ignore_errors=True)


# ---- manifests: what an entry holds, checked at every use ----------------------------------------

def _skip(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.startswith(".") or name.startswith("fingerprints-") or rel.startswith(".transpiled/")


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest() if hasattr(hashlib, "file_digest") else \
            hashlib.sha256(fh.read()).hexdigest()


def _manifest(folder: Path) -> dict[str, list]:
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and not _skip(rel) and rel not in (ENTRY_FILE, RUNTIME_FILE):
            files[rel] = [path.stat().st_size, _sha256(path)]
    return files


def _stats(folder: Path, files: dict) -> dict[str, list]:
    out = {}
    for rel in files:
        st = os.stat(folder / rel)
        out[rel] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return out


def _check(folder: Path, doc: dict) -> str | None:
    """None when every file of the manifest is there with its size and content, else what is wrong.
    Content is hashed when a file's stat differs from the last full check (or the entry moved)."""
    files = doc.get("files")
    if not isinstance(files, dict) or not files:
        return f"{folder.name}/{ENTRY_FILE} has no manifest"
    for rel, (size, _) in files.items():
        try:
            have = (folder / rel).stat().st_size
        except OSError:
            return f"{rel} is missing"
        if have != size:
            return f"{rel} has {have} bytes where {size} were written"
    try:
        stamp = json.loads((folder / STAMP_FILE).read_text())
        if stamp.get("at") == str(folder) and stamp.get("stats") == _stats(folder, files):
            return None
    except (OSError, ValueError, AttributeError):
        pass
    for rel, (_, digest) in files.items():
        if _sha256(folder / rel) != digest:
            return f"{rel} differs from what was written (sha256)"
    _stamp(folder, files)
    return None


def _stamp(folder: Path, files: dict) -> None:
    tmp = folder / f"{STAMP_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps({"at": str(folder), "stats": _stats(folder, files)}))
    os.replace(tmp, folder / STAMP_FILE)


def _write_doc(folder: Path, name: str, doc: dict) -> None:
    tmp = folder / f".{name}.{os.getpid()}"
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, folder / name)


def _read_doc(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text())
        return doc if isinstance(doc, dict) and doc.get("layout") == LAYOUT else None
    except (OSError, ValueError):
        return None


def _size(folder: Path) -> int:
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


# ---- loading --------------------------------------------------------------------------------------

def _claude_at(path: Path) -> Path:
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
    path = Path(spec).expanduser()
    if "/" in spec or path.exists():
        if not path.exists():
            raise ReleaseError(f"{spec} does not exist; pass a version or the path of an installed claude")
        root = _claude_at(path)
        version = json.loads((root / "package.json").read_text()).get("version", "?") if (root / "package.json").exists() else "installed"
        return Release(version, root, "js" if (root / "cli.js").exists() else "installed")
    started = time.monotonic()
    version = _version(spec)
    release, how = _release(version)
    rt = f", runtime {release.runtime}" if release.runtime else ""
    progress(f"{version} loaded ({release.form}{rt}): {_mb(release.size)} in {time.monotonic() - started:.1f} s, {how}"
             + (f"; {release.graph_error}" if release.graph_error else ""))
    return release


def fetch(version_spec: str, package: str = PACKAGE) -> tuple[str, Path]:
    """(version, the folder of its cache entry): the release loaded into the cache."""
    release = load(version_spec)
    return release.version, cache_dir() / "releases" / release.version


def _release(version: str) -> tuple[Release, str]:
    folder = cache_dir() / "releases" / version
    with _entry_lock("releases", version):
        doc = _read_doc(folder / ENTRY_FILE)
        how = "cached"
        if doc is not None:
            problem = _check(folder, doc)
            if problem:
                progress(f"{version}: the cached copy was corrupt ({problem}); fetching it again from the registry")
                try:
                    doc = _build(version, folder)
                except ReleaseError as exc:
                    raise ReleaseError(f"{version}: the cached copy is damaged ({problem}) and could not be fetched "
                                       f"again ({exc}); the damaged copy is kept") from None
                how = "repaired"
        elif folder.exists() and any(folder.iterdir()):
            progress(f"{version}: the cached copy is incomplete (no {ENTRY_FILE}); fetching it again")
            doc, how = _build(version, folder), "downloaded"
        else:
            doc, how = _build(version, folder), "downloaded"
        release = _from_doc(version, folder, doc)
        _hold("releases", version)
        if release.form == "native" and release.graph_error is None:
            _attach_runtime(release, folder, doc)
    _evict()
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
        doc["files"][rel] = [path.stat().st_size, _sha256(path)]
    doc["root"] = new
    _write_doc(folder, ENTRY_FILE, doc)
    _stamp(folder, doc["files"])
    progress(f"{folder.name}: the cache was moved or copied; its graph now names {new}")


def _tar_member(tarball: Path, names: tuple[str, ...], target: Path) -> Path | None:
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
        with tar.extractfile(member) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    target.chmod(0o755)
    return target


def _build(version: str, folder: Path) -> dict:
    """Fetch a release and keep only what runs: a staged entry, swapped in when complete."""
    started = time.monotonic()
    _evict(ROOM["releases"])
    with _staging() as stage:
        entry = stage / "entry"
        entry.mkdir()
        tarball, integrity = _pack(PACKAGE, version, stage)
        integrities = {f"{PACKAGE}@{version}": integrity}
        with tarfile.open(tarball) as tar:
            names = tar.getnames()
            try:
                meta = json.load(tar.extractfile("package/package.json"))
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
            darwin_tgz, darwin_integrity = _pack(darwin_pkg, version, stage)
            integrities[f"{darwin_pkg}@{version}"] = darwin_integrity
            darwin = _tar_member(darwin_tgz, ("package/claude", "package/bin/claude"), stage / "claude-darwin")
            darwin_tgz.unlink()
            if darwin is None:
                raise ReleaseError(f"{version}: the {DARWIN} package holds no claude executable; its layout changed")
            doc.update(_write_graph(version, darwin, entry, folder / "graph"))
            darwin.unlink(missing_ok=True)
        doc["files"] = _manifest(entry)
        _write_doc(entry, ENTRY_FILE, doc)
        _stamp_at(entry, folder, doc["files"])
        _swap_in(entry, folder)
        _drop_legacy(PACKAGE, version)
        _drop_legacy(f"{PACKAGE}-{DARWIN}", version)
        _drop_legacy(f"{PACKAGE}-{host_platform()}", version)
    progress(f"{version}: cache entry written ({form}, {_mb(sum(s for s, _ in doc['files'].values()))}) "
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


def _stamp_at(staged: Path, folder: Path, files: dict) -> None:
    """The stamp the entry will have once renamed to `folder` (a rename keeps every stat)."""
    tmp = staged / STAMP_FILE
    tmp.write_text(json.dumps({"at": str(folder), "stats": _stats(staged, files)}))


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
    return max(found, key=found.get).decode() if found else tag.group(1).decode()


def _write_graph(version: str, darwin: Path, entry: Path, final: Path) -> dict:
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
    progress(f"{version}: darwin module graph written out ({len(graph.modules)} modules, "
             f"{_mb(graph.source_bytes)}) in {time.monotonic() - started:.1f} s")
    return {"entry": first.relative_to(target).as_posix(), "bun": bun_version(darwin),
            **graph_needs(target), "root": str(final), "rooted": sorted(rooted)}


# ---- runtimes: one host runtime serves many native releases --------------------------------------

PROBE = ("const ant = globalThis.Bun && Bun.ant ? Object.keys(Bun.ant) : [];\n"
         "console.log('KCPROBE ' + JSON.stringify({bun: Bun.version, revision: Bun.revision, ant}));\n"
         "process.exit(0);\n")


def _runtime_binary(folder: Path | None) -> Path | None:
    doc = _read_doc(folder / RUNTIME_FILE) if folder else None
    return folder / doc["binary"] if doc and (folder / doc["binary"]).is_file() else None


def _bun_base(version: str | None) -> str | None:
    return version.split("+")[0] if version else None


def fits(runtime: dict, graph: dict) -> bool:
    """Whether a runtime can run a graph, by what the graph's code needs: the Bun version it was
    built with (same x.y.z) and every `Bun.ant` API it calls."""
    return (bool(graph.get("bun")) and _bun_base(runtime.get("bun")) == _bun_base(graph.get("bun"))
            and set(graph.get("needs", ())) <= set(runtime.get("ant", ())))


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


def _public_bun_package() -> str:
    system, _, rest = host_platform().partition("-")
    arch, _, musl = rest.partition("-")
    return f"@oven/bun-{system}-{'aarch64' if arch == 'arm64' else arch}{'-musl' if musl else ''}"


def _runtimes() -> list[tuple[Path, dict]]:
    folder = cache_dir() / "runtimes"
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        doc = _read_doc(path / RUNTIME_FILE)
        if doc and not path.name.startswith("."):
            found.append((path, doc))
    return found


def _attach_runtime(release: Release, folder: Path, doc: dict) -> None:
    """Choose the release's runtime: a cached one that fits its graph (the smallest), else the
    public bun of its Bun version when it calls no `Bun.ant` API, else this host's build of the
    same release (Anthropic's runtime it shipped with).  The choice goes into entry.json."""
    if doc.get("needs_rule") != NEEDS_RULE:                      # read by an older rule: read again
        doc.update(graph_needs(folder / "graph"))
        _write_doc(folder, ENTRY_FILE, doc)
    wanted = doc.get("runtime")
    for path, rt in _runtimes():
        if path.name == wanted and (fits(rt, doc) or rt.get("for") == release.version):
            if _ready_runtime(path, rt):
                return _use_runtime(release, path, rt)
    fitting = sorted(((path, rt) for path, rt in _runtimes() if fits(rt, doc)), key=lambda p: p[1].get("size", 0))
    for path, rt in fitting:
        if _ready_runtime(path, rt):
            return _remember(release, folder, doc, path, rt)
    candidates = []
    if doc.get("bun") and not doc.get("needs"):
        candidates.append(("bun", _public_bun_package(), _bun_base(doc["bun"])))
    candidates.append(("claude", f"{PACKAGE}-{host_platform()}", release.version))
    why = []
    for kind, package, version in candidates:
        try:
            path, rt = _fetch_runtime(kind, package, version)
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
        _write_doc(folder, ENTRY_FILE, doc)
    _use_runtime(release, path, rt)


def _use_runtime(release: Release, path: Path, rt: dict) -> None:
    release.runtime, release.runtime_kind, release.host_root = path.name, rt["kind"], path
    _hold("runtimes", path.name)


def _ready_runtime(path: Path, rt: dict) -> bool:
    """A cached runtime checked against its manifest; a damaged one is fetched again."""
    with _entry_lock("runtimes", path.name):
        problem = _check(path, rt)
        if problem is None:
            return True
        progress(f"runtime {path.name}: the cached copy was corrupt ({problem}); fetching it again")
    try:
        _fetch_runtime(rt["kind"], rt["package"], rt["version"], again=True)
        return True
    except ReleaseError as exc:
        progress(f"runtime {path.name} could not be fetched again ({exc}); the damaged copy is kept")
        return False


def _fetch_runtime(kind: str, package: str, version: str, again: bool = False) -> tuple[Path, dict]:
    name = f"{kind}-{version}-{host_platform()}"
    folder = cache_dir() / "runtimes" / name
    with _entry_lock("runtimes", name):
        doc = _read_doc(folder / RUNTIME_FILE)
        if doc is not None and not again and _check(folder, doc) is None:
            return folder, doc
        _evict(ROOM["runtimes"])
        with _staging() as stage:
            entry = stage / "entry"
            entry.mkdir()
            tarball, integrity = _pack(package, version, stage)
            exe_name = "bun" if kind == "bun" else "claude"
            exe = _tar_member(tarball, (f"package/bin/{exe_name}", f"package/{exe_name}"), entry / exe_name)
            tarball.unlink()
            if exe is None:
                raise ReleaseError(f"{package}@{version} holds no {exe_name} executable; its layout changed")
            offered = _probe(kind, exe, stage) or {"bun": bun_version(exe), "ant": []}
            doc = {"layout": LAYOUT, "kind": kind, "package": package, "version": version, "binary": exe_name,
                   "integrity": {f"{package}@{version}": integrity}, "for": version if kind == "claude" else None,
                   **offered}
            doc["files"] = _manifest(entry)
            doc["size"] = sum(s for s, _ in doc["files"].values())
            _write_doc(entry, RUNTIME_FILE, doc)
            _stamp_at(entry, folder, doc["files"])
            _swap_in(entry, folder)
        progress(f"runtime {name}: Bun {doc.get('bun')}, {len(doc.get('ant', []))} Bun.ant APIs, {_mb(doc['size'])}")
    return folder, doc


# ---- eviction ---------------------------------------------------------------------------------------

def cache_max() -> int:
    """KEYCHAIN_CLAIMS_CACHE_MAX in bytes (`4G`, `500M`, `1500000000`)."""
    raw = (os.environ.get("KEYCHAIN_CLAIMS_CACHE_MAX") or DEFAULT_MAX).strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?", raw)
    if not m:
        raise ReleaseError(f"KEYCHAIN_CLAIMS_CACHE_MAX={raw} is not a size; write e.g. 4G, 800M or a number of bytes")
    return int(float(m[1]) * 1000 ** " kmgt".index(m[2].lower() or " "))


def entries() -> list[dict]:
    """Every entry of the cache: kind, name, bytes, last use, held by a run."""
    out = []
    for kind in ("releases", "runtimes"):
        folder = cache_dir() / kind
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.name.startswith("."):
                continue
            used = path / USED_FILE
            out.append({"kind": kind, "name": path.name, "path": path, "bytes": _size(path),
                        "used": used.stat().st_mtime if used.exists() else 0.0})
    return out


ROOM = {"releases": 200_000_000, "runtimes": 400_000_000}     # made before an entry is built


def _evict(room: int = 0) -> None:
    """Least recently used entries go until the cache fits KEYCHAIN_CLAIMS_CACHE_MAX (with `room`
    left for an entry about to be built); an entry a run holds (this one or another) stays."""
    limit = cache_max() - room
    found = entries()
    total = sum(e["bytes"] for e in found)
    if total <= limit:
        return
    for e in sorted(found, key=lambda e: e["used"]):
        if total <= limit:
            break
        if _held_elsewhere_or_here(e["kind"], e["name"]):
            continue
        with open(_locks() / f"{e['kind']}-{e['name']}.lock", "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)       # being built or checked: not now
            except OSError:
                continue
            trash = e["path"].with_name(f".evicted-{e['name']}-{os.getpid()}-{secrets.token_hex(4)}")
            try:
                os.rename(e["path"], trash)
            except OSError:
                continue
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
            shutil.rmtree(trash, ignore_errors=True)
        total -= e["bytes"]
        progress(f"cache over its limit ({_mb(cache_max())}{f', making room for {_mb(room)}' if room else ''}): evicted {e['kind'][:-1]} {e['name']} ({_mb(e['bytes'])})")
    if total > limit and not room:
        progress(f"the cache holds {_mb(total)}, over its limit of {_mb(limit)}: the rest is in use by a run")


# ---- versions and specs -----------------------------------------------------------------------------

RESOLVED_FOR = 600      # seconds a resolved tag (`latest`) is reused: xdist workers and reruns ask npm once


def _version(spec: str) -> str:
    """An exact version for `spec`.  A tag is asked of npm (the answer kept RESOLVED_FOR seconds);
    when npm does not answer, the newest cached release is used and the run says so."""
    if EXACT.fullmatch(spec):
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
    tmp = memo.with_name(f"{memo.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"version": version, "at": time.time()}))
    os.replace(tmp, memo)
    return version


def cached_versions() -> list[str]:
    folder = cache_dir() / "releases"
    return sorted((p.name for p in folder.iterdir() if EXACT.fullmatch(p.name) and _read_doc(p / ENTRY_FILE))
                  if folder.is_dir() else [], key=_vtuple)


def _legacy_versions() -> list[str]:
    """Versions a cache of the old layout holds whole (tarballs; for a native one also the darwin
    and this host's builds): loading one takes it over."""
    def complete(package: str, version: str) -> bool:
        folder = cache_dir() / package.replace("/", "+") / version
        return (folder / INTEGRITY_FILE).exists() and any(folder.glob("*.tgz"))
    folder = cache_dir() / PACKAGE.replace("/", "+")
    found = [p.name for p in folder.iterdir() if EXACT.fullmatch(p.name)] if folder.is_dir() else []
    return [v for v in found if complete(PACKAGE, v) and (_vtuple(v) < NATIVE_FROM or all(
        complete(f"{PACKAGE}-{p}", v) for p in {DARWIN, host_platform()}))]


def newest_cached() -> str | None:
    """The newest release the cache holds whole."""
    versions = sorted(set(cached_versions()) | set(_legacy_versions()), key=_vtuple)
    return versions[-1] if versions else None
def parse_spec(spec: str | None) -> list[str]:
    """A --claude-code SPEC -> the releases it names; ReleaseError (one line) when an item names
    nothing: a version the registry never published, a word that is no tag, a path that is no claude."""
    if not spec:
        return []
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise ReleaseError("--claude-code needs a version, `latest`, a comma list, or a path")
    from keychain_claims.releases.versions import expand      # A..B and last:N -> their versions
    items = list(dict.fromkeys(v for item in items for v in expand(item)))
    for item in items:
        check_item(item)
    return items


def check_item(item: str) -> None:
    """One release of a spec resolves to something: a published version (asked of the registry's
    list, which is kept; offline, a version the cache holds or any well-formed one), a dist-tag,
    or the path of a claude."""
    from keychain_claims.releases.versions import published
    cache_dir()                              # unusable: one line now, not a traceback later
    if item == "latest":
        return
    path = Path(item).expanduser()
    if "/" in item or path.exists():
        if not path.exists():
            raise ReleaseError(f"--claude-code {item}: no such file; pass a version, `latest`, or the path of an installed claude")
        _claude_at(path)
        return
    if EXACT.fullmatch(item) and _read_doc(cache_dir() / "releases" / item / ENTRY_FILE):
        return                               # cached: published once, and no network needed
    try:
        versions, tags = published()
    except ReleaseError:
        if EXACT.fullmatch(item) or item == "latest":
            return                           # offline: the release is looked for in the cache, or not checkable
        raise ReleaseError(f"--claude-code {item!r} is neither a version (e.g. 2.1.81), `latest`, a range "
                           "(A..B, last:N) nor the path of a claude") from None
    if item in tags or item in versions:
        return
    if EXACT.fullmatch(item):
        raise ReleaseError(f"--claude-code {item}: {PACKAGE} never published {item}; "
                           f"see `keychain-claims versions last:5` or `npm view {PACKAGE} versions`")
    raise ReleaseError(f"--claude-code {item!r} is neither a version (e.g. 2.1.81), a tag "
                       f"({', '.join(sorted(tags)) or 'latest'}), a range (A..B, last:N) nor the path of a claude")
