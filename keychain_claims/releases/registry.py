"""Fetch `@anthropic-ai/claude-code` releases with npm: `npm pack` into a cache (npm checks the
download against the registry's dist.integrity; the integrity is kept beside the tarball and
checked again at every use), unpack.  A second run of a version downloads and asks nothing."""
from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
    root: Path                    # unpacked package/
    form: str                     # js | native | installed

    @property
    def bundle(self) -> Path | None:
        cli = self.root / "cli.js"
        return cli if cli.exists() else None

    @property
    def runnable_here(self) -> str | None:
        """None when this host can run the release on the macOS code path, else why not."""
        if self.form == "js":
            return None if shutil.which("node") else "node is not installed"
        if sys.platform == "darwin":
            return None
        return (f"{self.version} is a native build: its Linux binary has no keychain code and cannot be "
                "made to take the macOS path; behaviour runs on a Mac only")

    def __repr__(self) -> str:
        return f"<Claude Code {self.version} ({self.form})>"


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
    version = version_spec if EXACT.fullmatch(version_spec) else resolve(version_spec, package)[0]
    folder = cache_dir() / package.replace("/", "+") / version
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        folder.mkdir(exist_ok=True)          # a worker that waited here: the first may have removed it
        cached = _cached(folder)
        if cached:
            return version, cached
        again = any(folder.glob("*.tgz"))
        for attempt in (1, 2):
            for old in [*folder.glob("*.tgz"), folder / INTEGRITY_FILE]:
                old.unlink(missing_ok=True)
            progress(f"downloading {package}@{version} (npm pack)"
                     f"{' again: the cached copy was corrupt' if again or attempt > 1 else ''}")
            try:
                tarball, integrity = _pack(package, version, folder)
            except ReleaseError:
                shutil.rmtree(folder, ignore_errors=True)       # no empty folder for a version that is not there
                raise
            if tarball.exists() and _sri_ok(tarball, integrity):
                (folder / INTEGRITY_FILE).write_text(integrity + "\n")
                return version, tarball
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
    """A version, `latest`, or a path to an installed `claude` / package directory."""
    path = Path(spec).expanduser()
    if "/" in spec or path.exists():
        if not path.exists():
            raise ReleaseError(f"{spec} does not exist; pass a version or the path of an installed claude")
        root = path.resolve().parent if path.is_file() else path
        version = json.loads((root / "package.json").read_text()).get("version", "?") if (root / "package.json").exists() else "installed"
        return Release(version, root, "js" if (root / "cli.js").exists() else "installed")
    version, tarball = fetch(spec)
    root = unpack(tarball)
    if (root / "cli.js").exists():
        return Release(version, root, "js")
    if _vtuple(version) >= NATIVE_FROM:
        platform_pkg = f"{PACKAGE}-darwin-arm64"
        try:
            _, native = fetch(version, platform_pkg)
            return Release(version, unpack(native), "native")
        except ReleaseError as exc:
            raise ReleaseError(f"{version} is a native release and its darwin-arm64 build could not be fetched: {exc}") from None
    raise ReleaseError(f"{version}: no cli.js and not a native release; the package layout changed")


def parse_spec(spec: str | None) -> list[str]:
    if not spec:
        return []
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise ReleaseError("--claude-code needs a version, `latest`, a comma list, or a path")
    from keychain_claims.releases.versions import expand      # A..B and last:N -> their versions
    items = list(dict.fromkeys(v for item in items for v in expand(item)))
    return items
