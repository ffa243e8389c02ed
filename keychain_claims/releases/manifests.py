"""What a cache entry holds and how it is put in place: its entry.json / runtime.json document,
the manifest (every kept file's size and sha256) checked at every use, and the staging folder an
entry is built in and swapped from, whole.

The content is proved in every process that uses an entry: the first use hashes every file (a
byte changed with its size and mtime kept is found), later uses in the same process re-hash only
a file whose stat changed since.  Nothing kept on disk can stand in for the hash (a stamp of stats
is as easy to restore as the mtime)."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import TypeGuard

from keychain_claims import atomic
from keychain_claims.releases.cache import cache_dir

ENTRY_FILE = "entry.json"
RUNTIME_FILE = "runtime.json"
_PROVED: dict[str, dict] = {}     # entry folder -> the stat of every file when this process last proved its content
LAYOUT = 2


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
def staging():
    """A scratch folder inside the cache (same file system: entries are renamed into place)."""
    _sweep_leftovers()
    folder = cache_dir() / ".staging" / f"{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def swap_in(staged: Path, folder: Path) -> None:
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


def sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest() if hasattr(hashlib, "file_digest") else \
            hashlib.sha256(fh.read()).hexdigest()


def make_manifest(folder: Path) -> dict[str, list]:
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and not _skip(rel) and rel not in (ENTRY_FILE, RUNTIME_FILE):
            files[rel] = [path.stat().st_size, sha256(path)]
    return files


def _stats(folder: Path, files: dict) -> dict[str, list]:
    out = {}
    for rel in files:
        st = os.stat(folder / rel)
        out[rel] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return out


def _well_formed(files) -> TypeGuard[dict]:
    return isinstance(files, dict) and bool(files) and all(
        isinstance(rel, str) and rel and isinstance(row, list) and len(row) == 2 and isinstance(row[0], int)
        and not isinstance(row[0], bool) and isinstance(row[1], str) and len(row[1]) == 64 for rel, row in files.items())


def check(folder: Path, doc: dict) -> str | None:
    """None when every file of the manifest is there with its size and content, else what is wrong
    (one line).  The content is hashed at the first use in this process, and again whenever a
    file's stat changed since (module docstring)."""
    files = doc.get("files")
    if not _well_formed(files):
        return f"{folder.name}/{ENTRY_FILE} has no manifest of [size, sha256] per file"
    try:
        for rel, (size, _) in files.items():
            path = folder / rel
            if not path.is_file():
                return f"{rel} is missing" if not path.exists() else f"{rel} is not a file"
            have = path.stat().st_size
            if have != size:
                return f"{rel} has {have} bytes where {size} were written"
        stats = _stats(folder, files)
        if _PROVED.get(str(folder)) == stats:
            return None
        for rel, (_, digest) in files.items():
            if sha256(folder / rel) != digest:
                return f"{rel} differs from what was written (sha256)"
    except OSError as exc:
        return f"{folder.name} cannot be read ({atomic.why(exc)})"
    _PROVED[str(folder)] = stats
    return None


def proved(folder: Path, files: dict, at: Path | None = None) -> None:
    """This process wrote `files` into `folder` itself (or hashed them): their content is proved
    as they are now; `at`: the folder the entry will have once renamed (a rename keeps every stat)."""
    _PROVED[str(at or folder)] = _stats(folder, files)


def write_doc(folder: Path, name: str, doc: dict) -> None:
    atomic.write_text(folder / name, json.dumps(doc, indent=1), durable=False)


def read_doc(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text())
        return doc if isinstance(doc, dict) and doc.get("layout") == LAYOUT else None
    except (OSError, ValueError):
        return None




