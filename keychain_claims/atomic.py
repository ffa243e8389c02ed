"""The one way the project replaces a file: a temp file beside it, flushed, renamed over it.  A
reader sees the old file or the new one, never a torn one; a failure (the target a directory,
the folder unwritable, a full disk) leaves no temp file behind and raises OSError for the caller
to turn into one line.  Plain `os` (and errors.py, which imports nothing) only: the simulator
imports it on every `security` call."""
from __future__ import annotations

import os

from keychain_claims.errors import UserError


def write_text(path, text: str, durable: bool = True) -> None:
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if os.path.isdir(path):
            raise IsADirectoryError(21, "Is a directory", path)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_jsonl(path) -> list:
    """Every record of a JSON-lines file (blank lines skipped); [] when there is no file."""
    import json                    # here, not at the top: the simulator imports this module per call
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def why(exc: OSError) -> str:
    """'Is a directory: reports/outcomes.json' -- an OSError in a few words."""
    text = exc.strerror or str(exc)
    return f"{text}: {exc.filename}" if exc.filename else text


def probe(folder) -> None:
    """Raise OSError unless a file can be made in `folder`: os.access answers yes to root even on a
    read-only file system, so the only true answer is to try."""
    path = os.path.join(os.fspath(folder), f".write-probe.{os.getpid()}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    os.unlink(path)


def writable_folder(folder) -> None:
    """Make `folder` (and its parents) a folder a file can be written into, or raise OSError saying
    why (a file in its place, no permission, a read-only file system)."""
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(20, "Not a directory", folder)
    os.makedirs(folder, exist_ok=True)
    probe(folder)


def read_regular(path, limit: int, what: str = "file") -> bytes:
    """The bytes of `path`, which must be a regular file of at most `limit` bytes: a FIFO, a device
    (`/dev/zero`), a socket or a directory is refused at once (opened without blocking, checked
    before a byte is read), and so is a file that grows past `limit` while it is read.  Raises
    OSError whose strerror says what is wrong (for `why`)."""
    import stat
    fd = os.open(os.fspath(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", os.fspath(path))
        if not stat.S_ISREG(info.st_mode):
            raise OSError(22, f"not a regular file (a {_kind(info.st_mode)})", os.fspath(path))
        if info.st_size > limit:
            raise OSError(27, f"too large for a {what} ({info.st_size} bytes; at most {limit})", os.fspath(path))
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise OSError(27, f"too large for a {what} (more than {limit} bytes)", os.fspath(path))
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    import stat
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISLNK, "symbolic link")):
        if test(mode):
            return name
    return "special file"


class Unreadable(UserError):
    """Why a document cannot be used: `kind` is missing, directory, unreadable or not-utf8;
    `detail` completes a sentence naming the file ("cannot be read (…)")."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def read_utf8(path, limit: int, what: str) -> tuple[bytes, str]:
    """(the bytes, the text) of a UTF-8 document in a regular file of at most `limit` bytes
    (read_regular), or Unreadable saying why."""
    try:
        data = read_regular(path, limit, what)
        return data, data.decode("utf-8")
    except FileNotFoundError:
        raise Unreadable("missing", "is not there") from None
    except IsADirectoryError:
        raise Unreadable("directory", "is a directory") from None
    except OSError as exc:
        raise Unreadable("unreadable", f"cannot be read ({why(exc)})") from None
    except UnicodeDecodeError as exc:
        raise Unreadable("not-utf8", f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
