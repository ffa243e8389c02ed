"""One security session per sandbox on a Mac (issue 28): a broker process that lives in the
session, and the client every `security` call, test-caller call, status probe and grant goes
through.

Why one, and why a broker:

* securityd keeps a keychain's unlock per (session, keychain): KeychainDbCommon::find
  (securityd/src/kcdatabase.cpp) joins an existing DbCommon only of the caller's own Session.
  A new session per call would find the scratch keychain locked at every call; every call of a
  sandbox -- and the probes that ask about them -- must run in the same one.
* A process cannot make a new audit session unless it is root: SessionCreate ends in
  setaudit_addr(AU_ASSIGN_ASID), which checks suser() first (xnu bsd/security/audit/audit_syscalls.c);
  as the hosted runner's `runner` it fails with EPERM (OSStatus 100001, exit 161).  So the
  session is made once, by something that may: launchd (PID 1) for a job whose plist has
  `SessionCreate` (launchd.plist(5)) -- no root needed, the developer's Mac's way -- else
  `sudo -n` (a hosted runner's passwordless sudo) runs the helper's `nogui` (SessionCreate as
  root) in front of the broker, which drops to the user before it serves anything.  Where neither
  works the backend refuses in one line.
* Its children inherit the session: the broker spawns each call with the caller's argv,
  environment, working directory and its three descriptors (passed over a unix socket,
  SCM_RIGHTS), and answers with the exit status; a client that goes away (its deadline, ^C)
  takes the call's whole process group with it.

The session must not reach the window server (the helper's `session` mode prints SessionGetInfo's
attributes; sessionHasGraphicAccess must be clear), else a consent would draw a dialog nobody
answers: the backend checks it after opening and refuses a session that has it.

    python -m keychain_claims.backends.macos.session serve FOLDER [--drop-to UID:GID]
    python -m keychain_claims.backends.macos.session run FOLDER -- PROGRAM ARGS...
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from keychain_claims.errors import HarnessError

SOCKET = "broker.sock"
READY = "broker.ready"
KEEP_ENV = "KEYCHAIN_CLAIMS_SESSION_KEEP"   # variables the session itself carries (the rehearsal's model
                                            # of an audit session: its ID and UI kind); kept over a caller's
SESSION_ENV = "KEYCHAIN_CLAIMS_SESSION"     # force one way: launchd | sudo
START_LIMIT = 15.0                          # seconds for a broker to come up


class SessionError(HarnessError, OSError):
    """One line: no session could be opened, or the broker is gone."""


# ------------------------------------------------------------------------------- wire
def _send(conn: socket.socket, doc: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(doc).encode()
    head = struct.pack("!I", len(data))
    if fds:
        socket.send_fds(conn, [head + data], fds)
    else:
        conn.sendall(head + data)


def _recv_exact(conn: socket.socket, n: int, first: bytes = b"") -> bytes:
    buf = first
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _recv(conn: socket.socket, want_fds: int = 0) -> tuple[dict, list[int]]:
    fds: list[int] = []
    if want_fds:
        msg, fds, _, _ = socket.recv_fds(conn, 4, want_fds)
        if not msg:
            raise EOFError
        head = _recv_exact(conn, 4, msg)
    else:
        head = _recv_exact(conn, 4)
    (size,) = struct.unpack("!I", head[:4])
    body = _recv_exact(conn, size, head[4:])
    return json.loads(body), list(fds)


def _connect(folder: Path) -> socket.socket:
    """Connect to the broker in `folder` (relative to it when the absolute path would pass the
    104-byte sun_path of macOS)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = Path(folder) / SOCKET
    try:
        if len(os.fsencode(str(path))) < 100:
            conn.connect(str(path))
        else:
            here = os.getcwd()
            os.chdir(folder)
            try:
                conn.connect(SOCKET)
            finally:
                os.chdir(here)
    except OSError as exc:
        conn.close()
        raise SessionError(f"the sandbox's session broker is not answering ({exc.strerror or exc})") from None
    return conn


# ------------------------------------------------------------------------------- broker
def _status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _serve_one(conn: socket.socket, keep: dict[str, str]) -> None:
    try:
        request, fds = _recv(conn, 3)
    except (EOFError, OSError, ValueError):
        conn.close()
        return
    master = slave = None
    try:
        env = {**request["env"], **keep}
        preexec = None
        if request.get("tty"):          # a terminal of its own, relayed by the client to the caller's
            master, slave = os.openpty()
            if request["tty"].get("attrs"):
                termios.tcsetattr(slave, termios.TCSANOW, _attrs_in(request["tty"]["attrs"]))
            preexec = _controlling(slave)
            std = [slave if on else fd for fd, on in zip(fds, request["tty"].get("std", [False] * 3))]
        else:
            std = fds
        proc = subprocess.Popen(request["argv"], stdin=std[0], stdout=std[1], stderr=std[2], env=env,
                                cwd=request.get("cwd") or None, start_new_session=True, preexec_fn=preexec,
                                pass_fds=[slave] if slave is not None else [])
    except OSError as exc:
        if master is not None:
            os.close(master)
        _send(conn, {"status": 127, "error": f"{request['argv'][0]}: {exc.strerror or exc}"})
        conn.close()
        return
    finally:
        for fd in [*fds, *([slave] if slave is not None else [])]:
            os.close(fd)
    _send(conn, {"pid": proc.pid, "tty": master is not None}, [master] if master is not None else None)
    if master is not None:
        os.close(master)

    def watch_client():             # the client hung up or asked to kill: the call's group goes
        try:
            while conn.recv(64):
                break
        except OSError:
            pass
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    threading.Thread(target=watch_client, daemon=True).start()
    status = _status(proc.wait())
    try:
        _send(conn, {"status": status})
    except OSError:
        pass
    conn.close()


def _controlling(slave: int):
    """preexec_fn: the child (a session leader: start_new_session) takes `slave` as its
    controlling terminal, so /dev/tty -- where security's getpass prompts -- is it."""
    def take() -> None:               # runs between fork and exec: nothing imported here
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    return take


def _drop_to(spec: str) -> None:
    uid, gid = (int(x) for x in spec.split(":"))
    import pwd
    os.setgroups([])
    try:
        os.initgroups(pwd.getpwuid(uid).pw_name, gid)
    except (KeyError, OSError):
        pass
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("keychain-claims session: could not drop privileges")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise SystemExit("keychain-claims session: root could be regained after dropping privileges; not serving")


def serve(folder: Path, drop_to: str | None = None) -> int:
    if drop_to:
        _drop_to(drop_to)
    folder = Path(folder).resolve()
    os.chdir(folder)
    keep = {name: os.environ[name] for name in os.environ.get(KEEP_ENV, "").split(",") if name in os.environ}
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    Path(SOCKET).unlink(missing_ok=True)
    server.bind(SOCKET)
    os.chmod(SOCKET, 0o600)
    server.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGHUP, lambda *_: os._exit(0))
    Path(READY + ".tmp").write_text(json.dumps({"pid": os.getpid(), "uid": os.getuid()}))
    os.replace(READY + ".tmp", READY)

    def orphaned():                 # the sandbox is gone (closed, or swept after a killed run): so are we
        while True:
            time.sleep(2)
            if not (folder / READY).exists():
                os._exit(0)
    threading.Thread(target=orphaned, daemon=True).start()
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_serve_one, args=(conn, keep), daemon=True).start()


# ------------------------------------------------------------------------------- client
class Remote:
    """A call run by the broker, shaped like the part of subprocess.Popen the shim uses."""

    def __init__(self, folder: Path, argv: list[str], stdin=None, stderr=None, env: dict | None = None):
        self.stdin = self.stderr = None
        ends, theirs = [], []
        for which, want in ((0, stdin), (1, None), (2, stderr)):
            if want is subprocess.PIPE:
                r, w = os.pipe()
                mine, other = (w, r) if which == 0 else (r, w)
                ends.append((which, mine))
                theirs.append(other)
            else:
                theirs.append(which)
        self.conn = _connect(folder)
        self._tty = _own_tty()
        self._relay = None
        try:
            tty = None
            if self._tty is not None:
                tty = {"attrs": _attrs_out(termios.tcgetattr(self._tty)),
                       "std": [_same_tty(fd, self._tty) for fd in theirs]}
            _send(self.conn, {"argv": list(argv), "env": dict(os.environ if env is None else env),
                              "cwd": os.getcwd(), "tty": tty}, theirs)
            reply, master = _recv(self.conn, 1) if tty else (_recv(self.conn)[0], [])
        except (EOFError, OSError) as exc:
            raise SessionError(f"the sandbox's session broker went away ({exc})") from None
        finally:
            for which, fd in zip(range(3), theirs):
                if any(which == w for w, _ in ends):
                    os.close(fd)
        for which, fd in ends:
            if which == 0:
                self.stdin = os.fdopen(fd, "wb")
            else:
                self.stderr = os.fdopen(fd, "rb")
        if "pid" not in reply:
            self.returncode = reply.get("status", 127)
            self.pid = None
            if reply.get("error"):
                print(f"keychain-claims session: {reply['error']}", file=sys.stderr)
        else:
            self.pid, self.returncode = reply["pid"], None
        if master:                                # only asked for with a terminal of our own
            assert self._tty is not None
            self._relay = _Relay(self._tty, master[0])

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is not None:
            return self.returncode
        self.conn.settimeout(timeout)
        try:
            reply, _ = _recv(self.conn)
        except TimeoutError:
            raise subprocess.TimeoutExpired("security", timeout or 0.0) from None   # None: no time-out
        except (EOFError, OSError):
            reply = {"status": 1}
        self.returncode = reply.get("status", 1)
        if self._relay is not None:
            self._relay.stop()
        return self.returncode

    def kill(self) -> None:
        """The call's whole process group ends (the broker sees the client hang up), and the
        caller's terminal is given back its modes (a ^C or a deadline must not leave it raw)."""
        try:
            self.conn.sendall(b"k")
        except OSError:
            pass
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._relay is not None:
            self._relay.restore()


def _own_tty() -> int | None:
    """This process's controlling terminal, when it has one."""
    try:
        return os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None


def _attrs_out(attrs: list) -> list:
    """termios attributes as JSON: the control characters (bytes) as their code points."""
    return [*attrs[:6], [c[0] if isinstance(c, bytes) else c for c in attrs[6]], [isinstance(c, bytes) for c in attrs[6]]]


def _attrs_in(doc: list) -> list:
    return [*doc[:6], [bytes([c]) if was_bytes else c for c, was_bytes in zip(doc[6], doc[7])]]


def _same_tty(fd: int, tty: int) -> bool:
    """Whether `fd` is the terminal `tty` (then the call gets its own terminal there instead)."""
    try:
        a, b = os.fstat(fd), os.fstat(tty)
    except OSError:
        return False
    return os.isatty(fd) and a.st_rdev == b.st_rdev


class _Relay:
    """The caller's terminal <-> the call's own: bytes both ways, the caller's terminal raw
    meanwhile (the call's terminal does the echo, line editing and ^C), restored after."""

    def __init__(self, tty: int, master: int):
        import tty as ttymod
        self.tty, self.master = tty, master
        self.saved: list | None = termios.tcgetattr(tty)
        ttymod.setraw(tty, termios.TCSANOW)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        import select
        while not self.done.is_set():
            ready, _, _ = select.select([self.tty, self.master], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:             # the call's side is closed: it has ended
                    data = b""
                if not data:
                    if fd == self.master:
                        return
                    continue
                os.write(self.master if fd == self.tty else self.tty, data)

    def restore(self) -> None:
        """The caller's terminal as it was (once)."""
        saved, self.saved = self.saved, None
        if saved is not None:
            try:
                termios.tcsetattr(self.tty, termios.TCSANOW, saved)
            except termios.error:
                pass

    def stop(self) -> None:
        deadline = time.monotonic() + 0.5        # what the call wrote last is shown first
        while self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.done.set()
        self.thread.join(1)
        self.restore()
        os.close(self.master)


def feed(proc, data: bytes | None) -> None:
    """Write a call's whole stdin and close it (a call that stopped reading is not an error)."""
    if data is None:
        return
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass


def run(folder: Path, argv: list[str], input: bytes | None = None) -> int:
    """Run one call in the session with this process's descriptors (stdin: `input` if given)."""
    proc = Remote(folder, argv, stdin=subprocess.PIPE if input is not None else None)
    feed(proc, input)

    def end(*_) -> None:
        proc.kill()
        os._exit(1)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, end)
    return proc.wait()


def runner_argv(folder: Path) -> list[str]:
    """The argv prefix that runs a program in the session of the broker in `folder`."""
    from keychain_claims.backends.base import python_argv
    return python_argv("keychain_claims.backends.macos.session", "run", str(folder), "--")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "serve":
        drop = args[args.index("--drop-to") + 1] if "--drop-to" in args else None
        return serve(Path(args[1]), drop)
    if len(args) >= 4 and args[0] == "run" and args[2] == "--":
        try:
            return run(Path(args[1]), args[3:])
        except SessionError as exc:
            print(f"keychain-claims session: {exc}", file=sys.stderr)
            return 1
    print("usage: python -m keychain_claims.backends.macos.session serve FOLDER [--drop-to UID:GID] | "
          "run FOLDER -- PROGRAM ARGS...", file=sys.stderr)
    return 2


# ------------------------------------------------------------------------------- opening one
class MacSession:
    """The session a sandbox's calls run in: its broker's folder, how it was made, what the
    helper said about it (SessionGetInfo: id, attributes)."""

    def __init__(self, folder: Path, how: str, close_argv: list[str] | None, info: dict, env: dict):
        self.folder, self.how, self._close_argv, self.info, self._env = folder, how, close_argv, info, env

    def argv(self, program: list[str]) -> list[str]:
        """`program` run in this session (for a call the harness makes as a child process)."""
        return [*runner_argv(self.folder), *program]

    def close(self) -> None:
        """The broker goes: launchd's job booted out, else (sudo's child, or a bootout that failed)
        the broker told to end; without its ready file it ends itself within seconds anyway."""
        argv, self._close_argv = self._close_argv, None
        stopped = False
        if argv:
            try:
                stopped = subprocess.run(argv, capture_output=True, env=self._env,
                                         timeout=START_LIMIT).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                pass
        ready = self.folder / READY
        try:
            if not stopped:
                os.kill(json.loads(ready.read_text())["pid"], signal.SIGTERM)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        ready.unlink(missing_ok=True)


GRAPHIC_ACCESS = 0x0010       # sessionHasGraphicAccess (Security/AuthSession.h)


def session_info(argv: list[str], env: dict) -> dict:
    """`helper session` run by `argv`: {"id": ..., "attrs": int} or {"error": ...}."""
    try:
        proc = subprocess.run([*argv, "session"], capture_output=True, text=True, env=env, timeout=START_LIMIT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    import re
    found = re.search(r"id=(\S+) attrs=0x([0-9a-fA-F]+)", proc.stdout)
    if proc.returncode != 0 or not found:
        return {"error": f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:160]}"}
    return {"id": found[1], "attrs": int(found[2], 16)}


def _wait_ready(folder: Path, alive) -> bool:
    deadline = time.monotonic() + START_LIMIT
    while time.monotonic() < deadline:
        if (folder / READY).exists():
            return True
        if not alive():
            return False
        time.sleep(0.05)
    return False


def open_session(folder: Path, helper: Path, tool, env: dict) -> MacSession:
    """A session for one sandbox, made the first way that works here: launchd's SessionCreate
    (no root), else `sudo -n` in front of the helper's `nogui`.  Refused in one line -- with what
    each way answered -- when none gives a new session without window-server access.  `tool(name)`
    is the program behind a tool name (the Mac's own, a stand-in in the rehearsal)."""
    folder.mkdir(parents=True, exist_ok=True)
    ours = session_info([str(helper)], env)
    tried = []
    ways = [w for w in (os.environ.get(SESSION_ENV) or "launchd,sudo").split(",") if w]
    for way in ways:
        opened = (_by_launchd if way == "launchd" else _by_sudo)(folder, helper, tool, env)
        if isinstance(opened, str):
            tried.append(f"{way}: {opened}")
            continue
        info = session_info(opened.argv([str(helper)]), env)
        opened.info = info
        why = ("could not ask it: " + info["error"] if "error" in info
               else "it is the harness's own session" if "id" in ours and info["id"] == ours["id"]
               else "it has window-server access (a consent would draw a dialog nobody answers)"
               if info["attrs"] & GRAPHIC_ACCESS else None)
        if why is None:
            return opened
        opened.close()
        tried.append(f"{way}: {why}")
    raise SessionError("no security session of its own for the sandbox (" + "; ".join(tried) + "): run where "
                       "launchd may start a job in the user's GUI domain (a logged-in user), or where `sudo -n` "
                       "works (a hosted runner), or pass --real-dialogs and answer the dialogs yourself")


def _by_launchd(folder: Path, helper: Path, tool, env: dict):
    import plistlib
    import secrets
    label = f"com.keychain-claims.session.{secrets.token_hex(6)}"
    from keychain_claims.backends.base import python_argv
    plist = {"Label": label, "ProgramArguments": python_argv("keychain_claims.backends.macos.session", "serve",
                                                             str(folder)),
             "SessionCreate": True, "RunAtLoad": True, "WorkingDirectory": str(folder),
             "EnvironmentVariables": {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
             "StandardErrorPath": str(folder / "broker.log"), "StandardOutPath": str(folder / "broker.log")}
    path = folder / f"{label}.plist"
    path.write_bytes(plistlib.dumps(plist))
    domain = f"gui/{os.getuid()}"
    try:
        proc = subprocess.run([tool("launchctl"), "bootstrap", domain, str(path)], capture_output=True, text=True,
                              env=env, timeout=START_LIMIT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"launchctl bootstrap: {exc}"
    if proc.returncode != 0:
        return f"launchctl bootstrap {domain} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:120]}"
    close = [tool("launchctl"), "bootout", f"{domain}/{label}"]
    if not _wait_ready(folder, lambda: True):
        subprocess.run(close, capture_output=True, env=env, timeout=START_LIMIT)
        log = (folder / "broker.log").read_text()[-160:] if (folder / "broker.log").exists() else ""
        return f"the job did not start its broker within {START_LIMIT:.0f} s {log.strip()}".strip()
    return MacSession(folder, "launchd", close, {}, env)


def _by_sudo(folder: Path, helper: Path, tool, env: dict):
    from keychain_claims.backends.base import python_argv
    argv = [tool("sudo"), "-n", str(helper), "nogui", "--",
            *python_argv("keychain_claims.backends.macos.session", "serve", str(folder),
                         "--drop-to", f"{os.getuid()}:{os.getgid()}")]
    log = open(folder / "broker.log", "ab")  # noqa: SIM115 (handed to the child, closed in `finally`)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                start_new_session=True)
    except OSError as exc:
        return f"sudo: {exc.strerror or exc}"
    finally:
        log.close()
    if not _wait_ready(folder, lambda: proc.poll() is None):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        said = (folder / "broker.log").read_text(errors="replace").strip().splitlines()
        return f"exited {proc.returncode}: {said[-1][:120] if said else ''}".strip()
    return MacSession(folder, "sudo", None, {}, env)


if __name__ == "__main__":
    sys.exit(main())
