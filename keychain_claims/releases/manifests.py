"""What a cache entry holds and how it is put in place: its entry.json / runtime.json document,
the manifest (every kept file's size and sha256) checked at every use, and the staging folder an
entry is built in and swapped from, whole."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

from keychain_claims import atomic
from keychain_claims.releases.cache import cache_dir

ENTRY_FILE = "entry.json"
RUNTIME_FILE = "runtime.json"
STAMP_FILE = ".verified.json"    # the stat of every file at its last full check, and where it was checked
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


def check(folder: Path, doc: dict) -> str | None:
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
        last = json.loads((folder / STAMP_FILE).read_text())
        if last.get("at") == str(folder) and last.get("stats") == _stats(folder, files):
            return None
    except (OSError, ValueError, AttributeError):
        pass
    for rel, (_, digest) in files.items():
        if sha256(folder / rel) != digest:
            return f"{rel} differs from what was written (sha256)"
    stamp(folder, files)
    return None


def stamp(folder: Path, files: dict) -> None:
    atomic.write_text(folder / STAMP_FILE, json.dumps({"at": str(folder), "stats": _stats(folder, files)}), durable=False)


def write_doc(folder: Path, name: str, doc: dict) -> None:
    atomic.write_text(folder / name, json.dumps(doc, indent=1), durable=False)


def read_doc(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text())
        return doc if isinstance(doc, dict) and doc.get("layout") == LAYOUT else None
    except (OSError, ValueError):
        return None


def stamp_at(staged: Path, folder: Path, files: dict) -> None:
    """The stamp the entry will have once renamed to `folder` (a rename keeps every stat)."""
    tmp = staged / STAMP_FILE
    tmp.write_text(json.dumps({"at": str(folder), "stats": _stats(staged, files)}))


