"""Fetch `@anthropic-ai/claude-code` releases with npm: `npm pack` into a cache (npm checks the
download against the registry's dist.integrity; the integrity is kept beside the tarball and
checked again at every use), unpack.  A second run of a version downloads and asks nothing."""
from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import platform
import re
import time
from concurrent.futures import ThreadPoolExecutor
import shutil
import subprocess
import sys
import tarfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from keychain_claims.releases import bun_graph

PACKAGE = "@anthropic-ai/claude-code"
NATIVE_FROM = (2, 1, 113)
EXACT = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?")     # a version, not a tag or a range


class ReleaseError(Exception):
    """One line saying why a release cannot be used (scenarios skip with it)."""


def cache_dir() -> Path:
    path = Path(os.environ.get("KEYCHAIN_CLAIMS_CACHE", Path.home() / ".cache" / "keychain-claims" / "releases"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _vtuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("-")[0].split(".")[:3] if p.isdigit())


@dataclass
class Release:
    version: str
    root: Path                    # unpacked package/ (for a native release: the darwin-arm64 build)
    form: str                     # js | native | installed
    host_root: Path | None = None     # native: the unpacked package of this host's platform
    preload: Path | None = None       # native, not on a Mac: makes the host runtime start the darwin entry
    graph_error: str | None = None    # native: why the darwin graph could not be read (fingerprints only)

    @property
    def bundle(self) -> Path | None:
        cli = self.root / "cli.js"
        return cli if cli.exists() else None

    @property
    def host_binary(self) -> Path | None:
        """The executable that runs here: the host platform's build (native), or the installed claude."""
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
                return f"{self.version}: the {host_platform()} package holds no claude executable; its layout changed"
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
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return base64.b64encode(h.digest()).decode() == digest


def progress(text: str) -> None:
    print(f"[claude-code] {text}", file=sys.__stderr__, flush=True)     # past pytest's capture


@contextmanager
def _locked(folder: Path):
    """One process at a time in a cache folder: xdist workers that need the same release
    wait for the first one's download or unpack instead of racing it (and repeating it)."""
    with open(folder / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


INTEGRITY_FILE = "integrity"       # beside the tarball: the registry's dist.integrity for it


def _cached(folder: Path) -> Path | None:
    """The folder's tarball if it still matches the integrity recorded when it was downloaded."""
    try:
        integrity = (folder / INTEGRITY_FILE).read_text().strip()
    except OSError:
        return None
    tarballs = list(folder.glob("*.tgz"))
    return tarballs[0] if len(tarballs) == 1 and _sri_ok(tarballs[0], integrity) else None


def _pack(package: str, version: str, folder: Path) -> tuple[Path, str]:
    """`npm pack --json` into `folder`: one npm process resolves, downloads and checks the
    tarball against the registry's dist.integrity (npm refuses a mismatch); returns the
    tarball and that integrity."""
    out = _npm("pack", f"{package}@{version}", "--json", "--pack-destination", str(folder), cwd=folder)
    try:
        info = json.loads(out[out.index("["):])[0]
        return folder / info["filename"], info["integrity"]
    except (ValueError, IndexError, KeyError, TypeError):
        raise ReleaseError(f"npm pack {package}@{version} gave no usable JSON; update npm and retry") from None


def fetch(version_spec: str, package: str = PACKAGE) -> tuple[str, Path]:
    """Return (version, verified tarball).  An exact version the cache holds costs no network:
    a published version never changes, and its tarball is checked again against the
    integrity recorded at download.  `latest` (any tag or range) is resolved with npm first."""
    version, tarball, _ = _fetch(version_spec, package)
    return version, tarball


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def _fetch(version_spec: str, package: str = PACKAGE) -> tuple[str, Path, bool]:
    """fetch(), also saying whether it downloaded."""
    version = version_spec if EXACT.fullmatch(version_spec) else resolve(version_spec, package)[0]
    folder = cache_dir() / package.replace("/", "+") / version
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        folder.mkdir(exist_ok=True)          # a worker that waited here: the first may have removed it
        cached = _cached(folder)
        if cached:
            return version, cached, False
        again = any(folder.glob("*.tgz"))
        for attempt in (1, 2):
            for old in [*folder.glob("*.tgz"), folder / INTEGRITY_FILE]:
                old.unlink(missing_ok=True)
            progress(f"downloading {package}@{version} (npm pack)"
                     f"{' again: the cached copy was corrupt' if again or attempt > 1 else ''}")
            started = time.monotonic()
            try:
                tarball, integrity = _pack(package, version, folder)
            except ReleaseError:
                shutil.rmtree(folder, ignore_errors=True)       # no empty folder for a version that is not there
                raise
            if tarball.exists() and _sri_ok(tarball, integrity):
                took, size = time.monotonic() - started, tarball.stat().st_size
                progress(f"downloaded {package}@{version}: {_mb(size)} in {took:.1f} s "
                         f"({size / 1e6 / max(took, 1e-3):.1f} MB/s), integrity checked")
                (folder / INTEGRITY_FILE).write_text(integrity + "\n")
                return version, tarball, True
    raise ReleaseError(f"{package}@{version} does not match the registry's integrity after two downloads; "
                       f"remove {folder} and retry")


def unpack(tarball: Path) -> Path:
    target = tarball.parent / "unpacked"
    marker = target / ".complete"
    with _locked(tarball.parent):
        if marker.exists():
            return target / "package"
        shutil.rmtree(target, ignore_errors=True)
        progress(f"unpacking {tarball.name}")
        with tarfile.open(tarball) as tar:
            tar.extractall(target, filter="data")
        marker.write_text("ok")
    return target / "package"


def load(spec: str) -> Release:
    """A version, `latest`, or a path to an installed `claude` / package directory.  Prints one
    line per release loaded: version, size, seconds, cached or downloaded."""
    path = Path(spec).expanduser()
    if "/" in spec or path.exists():
        if not path.exists():
            raise ReleaseError(f"{spec} does not exist; pass a version or the path of an installed claude")
        root = path.resolve().parent if path.is_file() else path
        version = json.loads((root / "package.json").read_text()).get("version", "?") if (root / "package.json").exists() else "installed"
        return Release(version, root, "js" if (root / "cli.js").exists() else "installed")
    started = time.monotonic()
    version = _version(spec)
    with ThreadPoolExecutor(1) as pool:
        # a native version's platform builds are fetched while its main package is
        platforms = pool.submit(_native, version) if _vtuple(version) >= NATIVE_FROM else None
        version, tarball, downloaded = _fetch(version)
        root = unpack(tarball)
        sizes = [tarball.stat().st_size]
        if (root / "cli.js").exists():
            release = Release(version, root, "js")
        elif platforms is not None:
            release, more, fetched = platforms.result()
            sizes += more
            downloaded = downloaded or fetched
        else:
            raise ReleaseError(f"{version}: no cli.js and not a native release; the package layout changed")
    progress(f"{version} loaded ({release.form}): {_mb(sum(sizes))} in {time.monotonic() - started:.1f} s, "
             f"{'downloaded' if downloaded else 'cached'}"
             + (f"; {release.graph_error}" if release.graph_error else ""))
    return release


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
        progress(f"{spec}: the npm registry did not answer; checking the newest cached release, {newest}")
        return newest
    tmp = memo.with_name(f"{memo.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"version": version, "at": time.time()}))
    os.replace(tmp, memo)
    return version


def newest_cached() -> str | None:
    """The newest release whose packages (for a native one: also darwin-arm64 and this host's) are cached."""
    def complete(package: str, version: str) -> bool:
        folder = cache_dir() / package.replace("/", "+") / version
        return (folder / INTEGRITY_FILE).exists() and any(folder.glob("*.tgz"))
    folder = cache_dir() / PACKAGE.replace("/", "+")
    versions = sorted((p.name for p in folder.iterdir() if EXACT.fullmatch(p.name)) if folder.exists() else [],
                      key=_vtuple, reverse=True)
    for version in versions:
        if not complete(PACKAGE, version):
            continue
        if _vtuple(version) < NATIVE_FROM or all(complete(f"{PACKAGE}-{p}", version) for p in {DARWIN, host_platform()}):
            return version
    return None


DARWIN = "darwin-arm64"          # the build whose JavaScript has the macOS keychain code
PRELOAD_FILE = "host-preload.mjs"


def _native(version: str) -> tuple[Release, list[int], bool]:
    """The darwin-arm64 build and this host's build of one native version, fetched side by side;
    off a Mac, the darwin build's module graph is written out beside its tarball (once) with a
    preload that runs it inside the host's runtime."""
    host = host_platform()
    packages = [f"{PACKAGE}-{DARWIN}"] + ([f"{PACKAGE}-{host}"] if host != DARWIN else [])

    def one(package: str) -> tuple[Path, Path, bool]:
        try:
            _, tarball, fetched = _fetch(version, package)
        except ReleaseError as exc:
            raise ReleaseError(f"{version} is a native release and {package} could not be fetched: {exc}") from None
        return tarball, unpack(tarball), fetched

    with ThreadPoolExecutor(len(packages)) as pool:
        got = list(pool.map(one, packages))
    (darwin_tgz, darwin_root, _), (_, host_root, _) = got[0], got[-1]
    sizes = [t.stat().st_size for t, _, _ in got]
    release = Release(version, darwin_root, "native", host_root=host_root)
    if sys.platform != "darwin":
        try:
            release.preload = _graph(version, darwin_tgz.parent, darwin_root, host_root)
        except bun_graph.GraphError as exc:
            release.graph_error = f"{version}: {exc}"
    return release, sizes, any(f for _, _, f in got)


def _graph(version: str, folder: Path, darwin_root: Path, host_root: Path | None = None) -> Path:
    """Extract the darwin graph into folder/graph (once, under the folder's lock) and write the
    preload that makes the host runtime start it instead of its own entry point."""
    target = folder / "graph"
    preload = target / PRELOAD_FILE
    with _locked(folder):
        if preload.exists() and (target / bun_graph.COMPLETE).exists():
            return preload
        darwin = binary(darwin_root)
        if darwin is None:
            raise bun_graph.GraphError(f"the {DARWIN} package holds no claude executable; its layout changed")
        started = time.monotonic()
        graph = bun_graph.read(darwin)
        host = binary(host_root) if host_root else None
        if host is None:
            raise bun_graph.GraphError(f"the {host_platform()} package holds no claude executable; its layout changed")
        host_graph = bun_graph.read(host)
        entry = bun_graph.extract(graph, target)
        preload.write_text(bun_graph.preload(version, host_graph, entry))
        progress(f"{version}: darwin module graph written out ({len(graph.modules)} modules, "
                 f"{_mb(graph.source_bytes)}) in {time.monotonic() - started:.1f} s")
    return preload


def parse_spec(spec: str | None) -> list[str]:
    if not spec:
        return []
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise ReleaseError("--claude-code needs a version, `latest`, a comma list, or a path")
    from keychain_claims.releases.versions import expand      # A..B and last:N -> their versions
    items = list(dict.fromkeys(v for item in items for v in expand(item)))
    return items
