"""State: keychain files on disk, per-user preferences and securityd's memory (which
keychains are unlocked, with which key, since when), the clock and the event log.

Every read-modify-write runs under one flock per user state directory; every write is
a temp file + fsync + rename, so a kill at any point leaves the old or the new file,
never a torn one.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from keychain_claims.security import errors
from keychain_claims import atomic

if TYPE_CHECKING:
    from collections.abc import Iterator

MAGIC = "keychain-sim/1"


def home() -> str:
    return os.environ.get("HOME") or os.path.expanduser("~")


# A state directory chosen in-process (test controls, the rehearsal's stand-ins): a context
# variable, not os.environ, so a thread that reads the environment meanwhile never sees it change.
_STATE: ContextVar[str | None] = ContextVar("keychain_sim_state", default=None)


def state_dir() -> str:
    return (_STATE.get() or os.environ.get("KEYCHAIN_SIM_STATE")
            or os.path.join(home(), "Library", "Preferences", "keychain-sim"))


@contextmanager
def using_state(state) -> "Iterator[None]":
    """Point this thread's store at the state directory `state` for the duration (instead of
    KEYCHAIN_SIM_STATE), leaving os.environ alone."""
    token = _STATE.set(str(state))
    try:
        yield
    finally:
        _STATE.reset(token)


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


def write_json(path: str, data, durable: bool = True) -> None:
    """Atomic replace: temp file, fsync, rename (see _write_text)."""
    _write_text(path, json.dumps(data, separators=(",", ":")), durable)


def _write_text(path: str, text: str, durable: bool = True) -> None:
    """Atomic replace (keychain_claims.atomic); a writer killed before the rename leaves only its
    temp file, which the next write of the same file removes (callers hold the file's lock)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    prefix = f".{os.path.basename(path)}."
    atomic.write_text(path, text, durable)
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
    itself cannot carry the lock: every write replaces it with a new inode.  A keychain reached
    through a symbolic link is locked (and replaced) where the link leads, so a writer using the
    link and one using the real path share one lock and one file.  Lock order is always state,
    then keychain directory."""

    def __init__(self, path: str | None = None):
        os.makedirs(state_dir(), exist_ok=True)
        self.fds = [os.open(os.path.join(state_dir(), ".lock"), os.O_RDWR | os.O_CREAT, 0o600)]
        if path is not None:
            try:
                self.fds.append(os.open(os.path.dirname(os.path.realpath(path)), os.O_RDONLY))
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
    if (os.path.dirname(name) == keychains_dir() and not name.endswith("-db")
            and (creating or os.path.exists(name + "-db") or not os.path.exists(name))):
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
# A keychain file is JSON lines: the first line the whole keychain (a document with a fresh
# "gen" token first, so a file that replaced another is told apart even on a reused inode),
# then zero or more journal lines {"put": item, "next_id": n} appended by add/modify (-U) under
# the keychain's lock.  A line without its newline is not committed yet (a writer mid-append,
# or one that was killed: the next appender cuts it off).  When the journal outgrows the
# document the file is rewritten whole (atomic rename), so an add costs O(1) bytes amortized,
# and a process reading the file again (a `security -i` session, line after line) reads only
# what was appended since its last look.
COMPACT_MIN = 64 * 1024          # journal bytes always allowed before a rewrite
HEAD_BYTES = 64                  # compared to tell "same file, appended to" from "another file"
IO_COUNTS = {"keychain_bytes_read": 0, "keychain_bytes_written": 0}      # for the simulator's own tests


class _Cached:
    __slots__ = ("head", "size", "base", "data", "ids", "keys", "plain")

    def __init__(self, head: bytes, size: int, base: int, data: dict, plain: bool = False):
        self.head, self.size, self.base, self.data = head, size, base, data
        self.plain = plain          # a document without its newline (older files): rewrite before appending
        self.ids = {item["id"]: n for n, item in enumerate(data["items"])}
        self.keys: dict[tuple, dict[tuple, int]] = {}

    def apply(self, op: dict) -> None:
        item = op["put"]
        n = self.ids.get(item["id"])
        items = self.data["items"]
        if n is None:
            self.ids[item["id"]] = len(items)
            items.append(item)
        else:
            old = items[n]
            for (cls, match), index in self.keys.items():
                if old.get("class", "genp") == cls:
                    index.pop(tuple(old["attrs"].get(k) for k in match), None)
            items[n] = item
        for (cls, match), index in self.keys.items():
            if item.get("class", "genp") == cls:
                index.setdefault(tuple(item["attrs"].get(k) for k in match), item["id"])
        self.data["next_id"] = max(self.data.get("next_id", 1), op.get("next_id", 1))


_CACHE: dict[str, _Cached] = {}


def _invalid() -> errors.SecError:
    return errors.SecError(errors.INVALID_KEYCHAIN)


def _parse_op(line: bytes) -> dict:
    op = json.loads(line)
    if not isinstance(op, dict) or not isinstance(op.get("put"), dict) or "id" not in op["put"]:
        raise ValueError("not a journal line")
    return op


MAX_KEYCHAIN_BYTES = 1 << 30      # a keychain file is read only when it is a regular file of at most this


def _read_whole(path: str) -> _Cached:
    try:               # a FIFO or a device (a link to /dev/zero) is not a keychain: refused unread, never waited on
        raw = atomic.read_regular(path, MAX_KEYCHAIN_BYTES, "keychain")
    except FileNotFoundError:
        raise errors.SecError(errors.NO_SUCH_KEYCHAIN) from None
    except (IsADirectoryError, PermissionError, OSError):
        raise _invalid() from None
    IO_COUNTS["keychain_bytes_read"] += len(raw)
    first = raw.find(b"\n")
    try:
        plain = first < 0
        if plain:
            data, base, end = json.loads(raw), len(raw), len(raw)
        else:
            try:
                data = json.loads(raw[:first])
                base = end = first + 1
            except ValueError:              # not JSON lines: a whole document written by hand
                data, base, end, plain = json.loads(raw), len(raw), len(raw), True
        if not isinstance(data, dict) or data.get("magic") != MAGIC or not isinstance(data.get("items"), list) \
                or not all(isinstance(i, dict) and "id" in i and isinstance(i.get("attrs"), dict)
                           for i in data["items"]):
            raise _invalid()
        cached = _Cached(raw[:HEAD_BYTES], end, base, data, plain)
        while end < len(raw):
            stop = raw.find(b"\n", end)
            if stop < 0:
                break                       # a line still being written (or torn): not committed
            cached.apply(_parse_op(raw[end:stop]))
            end = stop + 1
        cached.size = end
    except (ValueError, UnicodeDecodeError, TypeError, KeyError, AttributeError):
        raise _invalid() from None
    return cached


def _current(path: str) -> _Cached:
    """The cached keychain at `path`, brought up to date with what was appended since."""
    cached = _CACHE.get(path)
    if cached is not None:
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size >= cached.size and fh.read(len(cached.head)) == cached.head:
                    fh.seek(cached.size)
                    tail = fh.read(size - cached.size)
                    IO_COUNTS["keychain_bytes_read"] += len(cached.head) + len(tail)
                    stop = tail.rfind(b"\n") + 1
                    for line in tail[:stop].splitlines():
                        cached.apply(_parse_op(line))
                    cached.size += stop
                    return cached
        except FileNotFoundError:
            _CACHE.pop(path, None)
            raise errors.SecError(errors.NO_SUCH_KEYCHAIN) from None
        except (OSError, ValueError, TypeError, KeyError):
            pass
    cached = _read_whole(path)
    _CACHE[path] = cached
    return cached


def peek_keychain(path: str) -> dict:
    """The keychain at `path`, READ-ONLY (shared with later calls in this process; change it
    only through append_item or a load_keychain + save_keychain)."""
    return _current(path).data


def load_keychain(path: str) -> dict:
    """The keychain at `path`, a private copy to change and save_keychain."""
    return _read_whole(path).data


def find_item(path: str, cls: str, match: tuple[str, ...], values: tuple) -> dict | None:
    """The first item of class `cls` whose `match` attributes equal `values`, through an index
    kept with the cache (O(1) per call after the first).  READ-ONLY."""
    cached = _current(path)
    index = cached.keys.get((cls, match))
    if index is None:
        index = {}
        for item in cached.data["items"]:
            if item.get("class", "genp") == cls:
                index.setdefault(tuple(item["attrs"].get(k) for k in match), item["id"])
        cached.keys[(cls, match)] = index
    found = index.get(values)
    return None if found is None else cached.data["items"][cached.ids[found]]


def item_by_id(path: str, item_id: int) -> dict:
    """The item `item_id` of the cached keychain (READ-ONLY); errSecItemNotFound if it is gone."""
    cached = _current(path)
    n = cached.ids.get(item_id)
    if n is None:
        raise errors.SecError(errors.ITEM_NOT_FOUND)
    return cached.data["items"][n]


# a keychain write that fails for want of room or of a working disk is the keychain's own error
# (UNIX[...], errno + errSecErrnoBase), as Security's AtomicFile gives it; the old file stays
_WRITE_FAILED = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def save_keychain(path: str, data: dict) -> None:
    """Rewrite the whole keychain (atomic rename); the journal starts empty again."""
    import uuid
    body = {"gen": uuid.uuid4().hex, **{k: v for k, v in data.items() if k != "gen"}}
    text = json.dumps(body, separators=(",", ":")) + "\n"
    try:
        _write_text(os.path.realpath(path), text)     # through a link: the file it leads to, never the link
    except OSError as exc:
        if exc.errno in _WRITE_FAILED:
            raise errors.SecError.from_errno(exc.errno) from None
        raise
    IO_COUNTS["keychain_bytes_written"] += len(text)
    _CACHE.pop(path, None)


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written: a short write (the disk filling, a file size limit)
    is followed by one that says why (OSError)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def append_item(path: str, item: dict, next_id: int) -> None:
    """Add `item` (or replace the one with its id) by one journal line; the caller holds
    Locked(path).  The file is rewritten whole when the journal has outgrown the document."""
    cached = _current(path)
    line = (json.dumps({"put": item, "next_id": next_id}, separators=(",", ":")) + "\n").encode()
    if cached.plain or cached.size - cached.base + len(line) > max(COMPACT_MIN, cached.base):
        data = json.loads(json.dumps(cached.data))       # a private copy: the cache is shared
        cached = _Cached(b"", 0, 0, data)
        cached.apply({"put": item, "next_id": next_id})
        save_keychain(path, cached.data)
        return
    fd = os.open(path, os.O_WRONLY)
    try:
        if os.fstat(fd).st_size != cached.size:         # a torn line of a killed writer: cut it off
            os.ftruncate(fd, cached.size)
        os.lseek(fd, cached.size, os.SEEK_SET)
        try:
            _write_all(fd, line)  # no fsync: a kill loses nothing written; a torn line is never read
        except OSError as exc:   # the line did not fit: take back what was written of it, and say so
            try:
                os.ftruncate(fd, cached.size)
            except OSError:
                pass
            if exc.errno in _WRITE_FAILED:
                raise errors.SecError.from_errno(exc.errno) from None
            raise
    finally:
        os.close(fd)
    IO_COUNTS["keychain_bytes_written"] += len(line)
    cached.apply({"put": item, "next_id": next_id})
    cached.size += len(line)


# ------------------------------------------------------------------------ user state
def _state_file(name: str) -> str:
    return os.path.join(state_dir(), name)


def _state_json(name: str, default, valid) -> dict:
    """A state file, or `default` when it does not exist; junk or the wrong shape is the
    simulator's state damaged: errSecDecode naming the file (one line, never a traceback)."""
    path = _state_file(name)
    try:
        data = read_json(path, default)
    except (ValueError, UnicodeDecodeError, IsADirectoryError):
        raise errors.SecError(errors.DECODE, path) from None
    if not valid(data):
        raise errors.SecError(errors.DECODE, path)
    return data


def _valid_prefs(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("search", []), list) \
        and all(isinstance(p, str) for p in data.get("search", [])) \
        and isinstance(data.get("default"), (str, type(None)))


def _valid_runtime(data) -> bool:
    return isinstance(data, dict) and all(
        isinstance(v, dict) and isinstance(v.get("key"), str) and isinstance(v.get("last"), (int, float))
        for v in data.values())


def prefs() -> dict:
    data = _state_json("prefs.json", {"search": [], "default": None}, _valid_prefs)
    data.setdefault("search", [])
    data.setdefault("default", None)
    return data


def save_prefs(data: dict) -> None:
    write_json(_state_file("prefs.json"), data)


# securityd keeps a keychain's unlock per (security session, keychain): KeychainDbCommon::find
# (securityd/src/kcdatabase.cpp) joins an existing DbCommon only when `&session == &common->session()`
# and the identifier match; a process in another audit session gets a new DbCommon, which starts locked.
# The session a call runs in is KEYCHAIN_SIM_ASID (its audit session ID; unset: the login session).
SESSION_ENV = "KEYCHAIN_SIM_ASID"
LOGIN_SESSION = "login"


def session_id() -> str:
    """The audit session this process runs in (inherited, like a real one, through the environment)."""
    value = os.environ.get(SESSION_ENV, "") or LOGIN_SESSION
    return value if value.replace("-", "").isalnum() else LOGIN_SESSION


def _runtime_name(session: str) -> str:
    return "runtime.json" if session == LOGIN_SESSION else f"runtime-{session}.json"


def sessions() -> list[str]:
    """Every session securityd holds keys for (the login session's first)."""
    try:
        names = sorted(os.listdir(state_dir()))
    except OSError:
        return [LOGIN_SESSION]
    return [LOGIN_SESSION] + [n[len("runtime-"):-len(".json")] for n in names
                              if n.startswith("runtime-") and n.endswith(".json")]


def runtime(session: str | None = None) -> dict:
    """securityd's memory for one session (default: this process's):
    {path: {"key": hex, "last": epoch}} for the keychains unlocked in it."""
    return _state_json(_runtime_name(session or session_id()), {}, _valid_runtime)


def save_runtime(data: dict, session: str | None = None) -> None:
    """securityd's memory is lost at a reboot anyway: atomic, but not flushed to the disk."""
    write_json(_state_file(_runtime_name(session or session_id())), data, durable=False)


def log(event: dict) -> None:
    """Append one event (a call or a prompt) to events.jsonl; O_APPEND keeps lines whole."""
    os.makedirs(state_dir(), exist_ok=True)
    line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
    fd = os.open(_state_file("events.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
