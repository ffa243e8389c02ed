"""State: keychain files on disk, per-user preferences and securityd's memory (which
keychains are unlocked, with which key, since when), the clock and the event log.

Every read-modify-write runs under one flock per user state directory; every write is
a temp file + fsync + rename, so a kill at any point leaves the old or the new file,
never a torn one.
"""
from __future__ import annotations

import fcntl
import json
import os
import time

from keychain_claims.sim import errors

MAGIC = "keychain-sim/1"


def home() -> str:
    return os.environ.get("HOME") or os.path.expanduser("~")


def state_dir() -> str:
    return os.environ.get("KEYCHAIN_SIM_STATE") or os.path.join(home(), "Library", "Preferences", "keychain-sim")


def keychains_dir() -> str:
    return os.path.join(home(), "Library", "Keychains")


def now() -> float:
    """The injectable clock: KEYCHAIN_SIM_CLOCK names a file holding epoch seconds."""
    path = os.environ.get("KEYCHAIN_SIM_CLOCK")
    if path:
        try:
            with open(path) as fh:
                return float(fh.read().strip())
        except (OSError, ValueError):
            pass
    return time.time()


# ------------------------------------------------------------------------ files
def read_json(path: str, default):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return default


def write_json(path: str, data) -> None:
    """Atomic replace: temp file, fsync, rename.  A writer killed before the rename leaves only its
    temp file, which the next write of the same file removes (callers hold the file's lock)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    prefix = f".{os.path.basename(path)}."
    tmp = os.path.join(directory, f"{prefix}{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    for name in os.listdir(directory):
        if name.startswith(prefix) and name.endswith(".tmp") and _dead(name[len(prefix):-4]):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _dead(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return True
    except PermissionError:
        return False
    try:                                   # a killed writer nobody has reaped yet is still dead
        with open(f"/proc/{int(pid)}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class Locked:
    """Exclusive lock for one transaction: the user's state directory, and with `path` also the
    directory of that keychain file (so processes with different state directories -- two users
    sharing a keychain in /tmp -- never interleave a read-modify-write of it).  The keychain file
    itself cannot carry the lock: every write replaces it with a new inode.  Lock order is always
    state, then keychain directory."""

    def __init__(self, path: str | None = None):
        os.makedirs(state_dir(), exist_ok=True)
        self.fds = [os.open(os.path.join(state_dir(), ".lock"), os.O_RDWR | os.O_CREAT, 0o600)]
        if path is not None:
            try:
                self.fds.append(os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY))
            except OSError:
                pass                                   # no directory: nothing there to protect yet

    def __enter__(self):
        for fd in self.fds:
            fcntl.flock(fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        for fd in reversed(self.fds):
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


# ------------------------------------------------------------------------ paths
def resolve(name: str, creating: bool = False) -> str:
    """Relative names live in ~/Library/Keychains; there the `-db` file is used unless only
    the plain file exists [SRC StorageManager.cpp].  Other paths are used as given."""
    if not name.startswith("/"):
        name = os.path.join(keychains_dir(), name)
    if os.path.dirname(name) == keychains_dir() and not name.endswith("-db"):
        if creating or os.path.exists(name + "-db") or not os.path.exists(name):
            return name + "-db"
    return name


def version_for(path: str) -> int:
    """512 in a home's Library/Keychains, 256 elsewhere (/tmp, $RUNNER_TEMP, /Library/Keychains)
    [SRC kcdatabase.cpp]."""
    directory = os.path.dirname(os.path.abspath(path))
    if directory == os.path.abspath(keychains_dir()):
        return 512
    return 512 if directory.endswith("/Library/Keychains") and directory != "/Library/Keychains" else 256


def display_name(path: str) -> str:
    base = os.path.basename(path)
    for suffix in ("-db", ".keychain"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base


# ------------------------------------------------------------------------ keychain files
def load_keychain(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise errors.SecError(errors.NO_SUCH_KEYCHAIN) from None
    except (ValueError, UnicodeDecodeError, IsADirectoryError):
        raise errors.SecError(errors.INVALID_KEYCHAIN) from None
    if not isinstance(data, dict) or data.get("magic") != MAGIC:
        raise errors.SecError(errors.INVALID_KEYCHAIN)
    return data


def save_keychain(path: str, data: dict) -> None:
    write_json(path, data)


# ------------------------------------------------------------------------ user state
def _state_file(name: str) -> str:
    return os.path.join(state_dir(), name)


def prefs() -> dict:
    return read_json(_state_file("prefs.json"), {"search": [], "default": None})


def save_prefs(data: dict) -> None:
    write_json(_state_file("prefs.json"), data)


def runtime() -> dict:
    """securityd's memory: {path: {"key": hex, "last": epoch}} for unlocked keychains."""
    return read_json(_state_file("runtime.json"), {})


def save_runtime(data: dict) -> None:
    write_json(_state_file("runtime.json"), data)


def log(event: dict) -> None:
    """Append one event (a call or a prompt) to events.jsonl; O_APPEND keeps lines whole."""
    os.makedirs(state_dir(), exist_ok=True)
    line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
    fd = os.open(_state_file("events.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
