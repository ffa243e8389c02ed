"""The release cache's folder (KEYCHAIN_CLAIMS_CACHE), its locks and holds, what a run says
about it, and least recently used eviction (KEYCHAIN_CLAIMS_CACHE_MAX)."""
from __future__ import annotations

import fcntl
import functools
import os
import re
import secrets
import shutil
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from keychain_claims.errors import ReleaseProblem
from keychain_claims.runs import Runs

USED_FILE = ".used"              # its mtime: the last use (least recently used eviction)
DEFAULT_MAX = "4G"


class ReleaseError(ReleaseProblem):
    """One line saying why a release cannot be used (scenarios skip with it)."""


class NotPublished(ReleaseError):
    """The registry has no such package version (npm's E404 / ETARGET)."""


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


def mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


# ---- what the run says about the cache, and what it holds ----------------------------------------

class CacheRun:
    """What one run says about the cache (its lines, for the reports, and where they are shown as they
    come) and the entries it holds.  A pytest run owns one (plugins/releases.py keeps it in the run's
    `config.stash`) for as long as it runs: two runs in one process (pytester, an in-process rerun)
    never see each other's lines, and one run letting an entry go never drops another's hold."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.reporters: list[Callable[[str], None]] = []     # the pytest plugin puts the terminal here
        self.held: dict[tuple[str, str, str], IO[str]] = {}


RUNS = Runs(CacheRun)             # the process's (a CLI command, a test) and each run's in progress


def begin_run(run: CacheRun) -> None:
    """A run starts: what the cache says and holds from now on is its own, until `end_run`."""
    RUNS.begin(run)


def end_run(run: CacheRun) -> None:
    """The run is over: every entry it still holds may be evicted again."""
    RUNS.end(run)
    for fh in run.held.values():
        fh.close()
    run.held.clear()


def current() -> CacheRun:
    """The run in progress (the innermost), or the process's own outside any run."""
    return RUNS.current()


def progress(text: str) -> None:
    line = f"[claude-code] {text}"
    run = current()
    run.notes.append(line)
    if run.reporters:
        for report in list(run.reporters):
            report(line)
    else:
        print(line, file=sys.__stderr__, flush=True)


# ---- locks and holds ----------------------------------------------------------------------------

@contextmanager
def locked(folder: Path):
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
def entry_lock(kind: str, name: str):
    """The lock of one entry, kept outside it (an entry is swapped in whole)."""
    with open(_locks() / f"{kind}-{name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def hold(kind: str, name: str) -> None:
    """The run in progress uses the entry: a shared lock that eviction (anywhere) will not break."""
    key, held = (str(cache_dir()), kind, name), current().held
    if key not in held:
        fh = open(_locks() / f"hold-{kind}-{name}", "a")  # noqa: SIM115 (the lock lives while the run holds it)
        fcntl.flock(fh, fcntl.LOCK_SH)
        held[key] = fh
    (cache_dir() / kind / name).mkdir(parents=True, exist_ok=True)
    (cache_dir() / kind / name / USED_FILE).touch()


def _held_elsewhere_or_here(kind: str, name: str) -> bool:
    key = (str(cache_dir()), kind, name)
    if any(key in run.held for run in RUNS.every()):
        return True
    path = _locks() / f"hold-{kind}-{name}"
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def let_go(release) -> None:
    """The run is done with a release (a Release): it (and its runtime) may be evicted again."""
    for kind, name in (("releases", release.version), ("runtimes", release.runtime or "")):
        fh = current().held.pop((str(cache_dir()), kind, name), None)
        if fh is not None:
            fh.close()


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


# made before an entry is built: a native release's entry keeps its graph written out, whole (with its
# bytecode) and embedded in a copy of its runtime (host/): 0.7 GB for 2.1.332
ROOM = {"releases": 250_000_000, "host": 450_000_000, "runtimes": 400_000_000}


def evict(room: int = 0) -> None:
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
        progress(f"cache over its limit ({mb(cache_max())}{f', making room for {mb(room)}' if room else ''}): evicted {e['kind'][:-1]} {e['name']} ({mb(e['bytes'])})")
    if total > limit and not room:
        progress(f"the cache holds {mb(total)}, over its limit of {mb(limit)}: the rest is in use by a run")


def _size(folder: Path) -> int:
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


