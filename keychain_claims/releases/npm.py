"""The npm registry client: `npm view` and `npm pack` for `@anthropic-ai/claude-code` and its
platform packages, every download checked against the registry's dist.integrity."""
from __future__ import annotations

import base64
import hashlib
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from keychain_claims.releases.cache import NotPublished, ReleaseError, cache_dir, mb, progress

PACKAGE = "@anthropic-ai/claude-code"
DARWIN = "darwin-arm64"          # the build whose JavaScript has the macOS keychain code


def host_platform() -> str:
    """The platform package that runs here: linux-x64, linux-arm64(-musl), darwin-arm64, ..."""
    system = "darwin" if sys.platform == "darwin" else "linux"
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower())
    musl = system == "linux" and any(Path("/lib").glob("ld-musl-*"))
    return f"{system}-{arch}{'-musl' if musl else ''}"


def run(*args: str, cwd: Path | None = None) -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise ReleaseError("npm is not installed; install Node.js >= 20 with npm to test releases")
    proc = subprocess.run([npm, *args, "--loglevel=error"], cwd=cwd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if "ERR!" in l or "error" in l.lower()] or proc.stderr.splitlines()
        text = " ".join(lines[-2:]).strip() or f"exit {proc.returncode}"
        everything = proc.stderr + proc.stdout
        if "E404" in everything or "No match found" in everything or "ETARGET" in everything:
            raise NotPublished(f"no such release of {args[1] if len(args) > 1 else PACKAGE}: check the version")
        raise ReleaseError(f"the npm registry did not answer ({text[:160]}); check the network and retry")
    return proc.stdout


def resolve(spec: str, package: str = PACKAGE) -> tuple[str, str]:
    """`latest` or a version -> (version, sha512 integrity)."""
    out = run("view", f"{package}@{spec}", "version", "dist.integrity", "--json")
    try:
        data = json.loads(out)
    except ValueError:
        raise ReleaseError(f"npm view {package}@{spec} gave no JSON; the registry answer was unexpected") from None
    if isinstance(data, list):
        data = data[-1]
    if not data or "version" not in data:
        raise NotPublished(f"no such release {package}@{spec}; check the version")
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


def drop_legacy(package: str, version: str) -> None:
    folder = cache_dir() / package.replace("/", "+") / version
    if folder.is_dir() and (folder / INTEGRITY_FILE).exists():
        shutil.rmtree(folder, ignore_errors=True)


def pack(package: str, version: str, folder: Path) -> tuple[Path, str]:
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
        out = run("pack", f"{package}@{version}", "--json", "--pack-destination", str(folder), cwd=folder)
        try:
            info = json.loads(out[out.index("["):])[0]
            tarball, integrity = folder / info["filename"], info["integrity"]
        except (ValueError, IndexError, KeyError, TypeError):
            raise ReleaseError(f"npm pack {package}@{version} gave no usable JSON; update npm and retry") from None
        if tarball.exists() and _sri_ok(tarball, integrity):
            took, size = time.monotonic() - started, tarball.stat().st_size
            progress(f"downloaded {package}@{version}: {mb(size)} in {took:.1f} s "
                     f"({size / 1e6 / max(took, 1e-3):.1f} MB/s), integrity checked")
            return tarball, integrity
        tarball.unlink(missing_ok=True)
    raise ReleaseError(f"{package}@{version} does not match the registry's integrity after two downloads; retry later")


