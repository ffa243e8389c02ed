"""The sandbox's `security` on macOS: pins every call to the scratch keychain.

Claude Code and the article's commands name no keychain, so on a real Mac they would reach
the user's login keychain.  This shim appends the scratch keychain to every item command
(also to the lines a caller sends through `security -i`) and refuses, in one line on stderr
with exit 1, anything that would reach another keychain or change the user's keychain
preferences.  The pinning is pure (`pin_argv`, `pin_stdin`) and unit-tested on any host.

With `--log FILE` every command is appended to FILE as one JSON line ({"argv": [...]}, secret
option values masked as the simulator's event log masks them; each `security -i` line is a command
of its own), so the call log exists on the real backend too.  With KEYCHAIN_CLAIMS_CALLER set to a
test caller (a program that reads items as another app would), item reads run that program instead
of the real tool, pinned the same way.

Run as: python -m keychain_claims.backends.macos.shim --keychain PATH [--real /usr/bin/security] [--log FILE] -- ARGV...
"""
from __future__ import annotations

import os
import sys

from pathlib import Path

from keychain_claims.security.commands import GLOBAL_OPTIONS, MAX_LINE_LEN, lookup
from keychain_claims.security.errors import Usage
from keychain_claims.security.lines import Unrepresentable, join_line, read_line, split_line
from keychain_claims.security.options import OPTIONS, getopt, masked_argv
from keychain_claims.errors import HarnessError

LIST_OPERANDS = {"find-generic-password", "delete-generic-password", "dump-keychain",
                 "find-internet-password", "delete-internet-password"}
ONE_OPERAND = {"add-generic-password", "set-generic-password-partition-list", "add-internet-password",
               "set-internet-password-partition-list", "set-key-partition-list", "set-keychain-password",
               "show-keychain-info", "lock-keychain", "unlock-keychain", "set-keychain-settings"}
MUST_NAME = {"create-keychain", "delete-keychain"}
READ_ONLY = {"list-keychains", "default-keychain"}
NO_KEYCHAIN = {"help", "error"}                   # reach no keychain at all


class Refused(HarnessError):
    """The call would reach a keychain other than the scratch one."""


def _same(name: str, keychain: str, home: str) -> bool:
    """`name` is the scratch keychain, or another keychain of the sandbox: a file named by its full
    path in the scratch keychain's own folder (a scenario may make a second scratch keychain there;
    nothing outside the sandbox is reached through it).  A bare name is only ever the scratch one."""
    path = name if name.startswith("/") else os.path.join(home, "Library", "Keychains", name)
    candidates = {path, path + "-db"} if not path.endswith("-db") else {path}
    real = {os.path.realpath(p) for p in candidates}
    folder = os.path.dirname(os.path.realpath(keychain))
    return os.path.realpath(keychain) in real or (name.startswith("/") and any(os.path.dirname(p) == folder for p in real))


class SandboxPrefs:
    """The sandbox's own keychain preferences -- its search list and default keychain -- kept in a
    file beside the scratch keychain.  `list-keychains -s` and `default-keychain -s` naming only the
    sandbox's keychains set these instead of the user's (which a call must never change); a command
    that names no keychain then goes where security would send it: a write (and a command on "the
    default keychain") to the default, a search to the search list.  Unset: the scratch keychain."""

    FILE = ".keychain-claims-prefs.json"

    def __init__(self, keychain: str, path: str | None = None):
        import json
        self.keychain = keychain
        self.path = path or os.path.join(os.path.dirname(os.path.realpath(keychain)), self.FILE)
        try:
            with open(self.path) as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            data = {}
        self.default = data.get("default") if isinstance(data, dict) else None
        self.search = data.get("search") if isinstance(data, dict) else None
        self.saved = (self.default, self.search)

    def save(self) -> None:
        import json
        if (self.default, self.search) == self.saved:
            return
        tmp = f"{self.path}.{os.getpid()}"
        with open(tmp, "w") as fh:
            json.dump({"default": self.default, "search": self.search}, fh)
        os.replace(tmp, self.path)

    def write_target(self) -> str:
        return self.default or self.keychain

    def search_list(self) -> list[str]:
        return list(self.search or [self.keychain])


WRITES = {"add-generic-password", "add-internet-password"}
ON_DEFAULT = {"show-keychain-info", "lock-keychain", "unlock-keychain", "set-keychain-settings",
              "set-keychain-password"}                      # no keychain named: security takes the default


def pin_argv(argv: list[str], keychain: str, home: str, prefs: SandboxPrefs | None = None) -> list[str]:
    """The argv of one command (no global options) pinned to `keychain`, or Refused.  The command
    is resolved as security resolves it: the first entry of its real table (security/commands.py) that
    starts with what was typed -- `lo` is login-keychain, not lock-keychain.  With the sandbox's
    `prefs`, `list-keychains -s`/`default-keychain -s` naming only keychains of the sandbox set them
    (and nothing runs: []), and a command naming no keychain goes where they say."""
    if not argv:
        return argv
    argv = [argv[0], *map_login(argv[1:], keychain, home)]
    row = lookup(argv[0])
    if row is None:                               # security prints `unknown command` and reaches nothing
        return argv
    name = row[0]
    if name in NO_KEYCHAIN:
        return argv
    if name not in OPTIONS:
        raise Refused(f"{argv[0]!r} is security's {name}, which the suite does not pin to the scratch keychain")
    try:
        opts, operands = getopt(argv[1:], OPTIONS[name])
    except Usage:                                 # -h or bad options: security prints its usage, reaches nothing
        return argv
    flags = {o for o, _ in opts}
    if name in READ_ONLY:
        if "s" not in flags:
            return argv
        named = operands
        domain = next((v for o, v in opts if o == "d"), "user")
        if prefs is None or domain != "user" or not named or not all(_same(o, keychain, home) for o in named):
            raise Refused(f"{name} -s would change the user's keychain preferences")
        paths = [o if o.startswith("/") else keychain for o in named]      # a bare name: the scratch one
        if name == "default-keychain":
            prefs.default = paths[0]
        else:
            prefs.search = paths
        return []
    if name == "lock-keychain" and "a" in flags:
        raise Refused("lock-keychain -a would lock every keychain of the user")
    foreign = [o for o in operands if not _same(o, keychain, home)]
    if foreign:
        raise Refused(f"{name} names {foreign[0]!r}, which is not the scratch keychain")
    if name in MUST_NAME and not operands:
        raise Refused(f"{name} must name the scratch keychain")
    if name in LIST_OPERANDS | ONE_OPERAND and not operands:
        if prefs is None:
            return [*argv, keychain]
        if name in WRITES or name in ON_DEFAULT:
            return [*argv, prefs.write_target()]
        if name in LIST_OPERANDS:
            return [*argv, *prefs.search_list()]
        return [*argv, keychain]
    return argv


def pin_stdin(text: str, keychain: str, home: str, prefs: SandboxPrefs | None = None) -> str:
    """What `security -i` will read, pinned line by line.  The lines are cut as security's
    readline cuts them (at a newline or after 4095 bytes; a last line without a newline is never
    run, so it is dropped here too), each pinned and re-quoted; a pinned line that no longer fits
    in 4095 bytes is refused (security would run its tail as a second, unpinned command)."""
    import io as _io
    stream = _io.BytesIO(text.encode("utf-8", "surrogateescape"))
    out = []
    while True:
        raw = read_line(stream, MAX_LINE_LEN)
        if raw is None:
            break
        argv = split_line(raw.decode("utf-8", "surrogateescape"))
        pinned = pin_argv(argv, keychain, home, prefs)
        if argv and not pinned:                   # the sandbox's preference, set: nothing to run
            continue
        try:
            out.append(join_line(pinned) + "\n")
        except Unrepresentable as exc:
            raise Refused(f"security -i line for {argv[0] if argv else ''!r}: {exc}") from None
    return "".join(out)


CALLER_ENV = "KEYCHAIN_CLAIMS_CALLER"
CALLER_COMMANDS = {"find-generic-password", "add-generic-password"}   # what a test caller does itself, as the app


def log_calls(path: str | None, commands: list[list[str]]) -> None:
    """Append each command's masked argv to the call log (O_APPEND keeps lines whole)."""
    if not path or not commands:
        return
    import json
    lines = "".join(json.dumps({"argv": masked_argv(c)}) + "\n" for c in commands if c)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, lines.encode())
    finally:
        os.close(fd)


def _interactive(opts) -> bool:
    """`-i`, and `-p prompt` (sets the prompt and implies -i) [SRC security.c main]."""
    return any(o in ("i", "p") for o, _ in opts)


WATCHED_ENV = "KEYCHAIN_CLAIMS_WATCHED"     # set by the harness: "1" its own call (it reads the 36 itself),
                                            # "typed" a command line typed in its shell (consent records)
SESSION_ENV = "KEYCHAIN_CLAIMS_UI"          # the scenario's session: gui (default) or none
CALL_LIMIT = 20.0                           # seconds one call may take, everything included
LIMIT_ENV = "KEYCHAIN_CLAIMS_CALL_LIMIT"    # the backend's call limit, when it differs
NO_UI = (36, "User interaction is not allowed.")
CANCELED = (128, "User canceled the operation.")


def login_keychain_names(home: str) -> set[str]:
    """Every spelling of the user's login keychain file the article types (issue 21): these are
    mapped to the scratch keychain, whose own name never contains "login.keychain" (securityd's
    KeychainDbCommon marks any database whose name contains it, case-insensitively, as a login
    keychain and then loads, unlocks and changes the session keybag with its password)."""
    base = os.path.join(home, "Library", "Keychains")
    return {os.path.realpath(os.path.join(base, n)) for n in ("login.keychain", "login.keychain-db")} | \
        {"login.keychain", "login.keychain-db"}


def map_login(argv: list[str], keychain: str, home: str) -> list[str]:
    """argv with every operand that names the user's login keychain replaced by the scratch file."""
    names = login_keychain_names(home)
    out = []
    for word in argv:
        full = word if word.startswith("/") else None
        if word in names or (full and os.path.realpath(os.path.expanduser(full)) in names):
            out.append(keychain)
        else:
            out.append(word)
    return out


def harness_event(dialog_log: str | None, text: str) -> None:
    """Tell the harness that this call could not be exercised (read by MacOSBackend.harness_events)."""
    if not dialog_log:
        return
    import json
    with open(os.path.join(os.path.dirname(dialog_log), "harness-events.jsonl"), "a") as fh:
        fh.write(json.dumps({"event": text}) + "\n")


def _stream_stderr(pipe, held: list[str]) -> None:
    """Copy the child's stderr through, holding back errSecInteractionNotAllowed's line."""
    for raw in iter(pipe.readline, b""):
        line = raw.decode("utf-8", "surrogateescape")
        if NO_UI[1] in line:
            held.append(line)
        else:
            sys.stderr.write(line)
            sys.stderr.flush()


def scenario_session(dialog_log: str | None) -> str:
    """The scenario's session kind now: the sandbox's `ui` file (so a shell started before the
    scenario changed it sees the change), else KEYCHAIN_CLAIMS_UI, else gui."""
    if dialog_log:
        try:
            with open(os.path.join(os.path.dirname(dialog_log), "ui")) as fh:
                return fh.read().strip() or "gui"
        except OSError:
            pass
    return os.environ.get(SESSION_ENV, "gui")


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, deepest first (pgrep -P: macOS and Linux alike)."""
    import subprocess
    found: list[int] = []
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, timeout=5).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return found
    for child in map(int, children):
        found += [*_descendants(child), child]
    return found


def _start(argv: list[str], stdin: bool, session: str | None):
    """The call, started in the sandbox's session (its broker: session.py) or, without one, here."""
    import subprocess
    if session:
        from keychain_claims.backends.macos.session import Remote
        return Remote(Path(session), argv, stdin=subprocess.PIPE if stdin else None, stderr=subprocess.PIPE)
    return subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else None, stderr=subprocess.PIPE)


def run_in_session(argv: list[str], stdin: bytes | None, consent: str | None, dialog_log: str | None,
                   limit: float, session: str | None = None) -> int:
    """Run a call the harness does not drive itself (a typed command line, a release's call)
    within `limit` seconds, everything included.  In a scenario with a GUI, a consent-needed
    answer (exit 36 from the session without window-server access) stands for a dialog: for a
    typed line a consent record is left for the harness, which decides within the same limit;
    the documented effect of its decision -- Deny/Cancel, or nobody able to answer -- is the
    item dialog's cancel (exit 128).  A release's call has nobody to decide: the same cancel,
    recorded as unanswered.  Without a GUI, 36 is the real answer and passes through."""
    import json
    import subprocess
    import threading
    import time
    import signal
    started = time.monotonic()
    # a missed deadline, or the harness ending this shim, ends everything the call started (a
    # launcher's child included), so nothing is left waiting on a dialog.  The child stays in the
    # terminal's process group (a new one could not read a password from /dev/tty)
    try:
        child = _start(argv, stdin is not None, session)
    except OSError as exc:            # the session's broker is gone (SessionError) or the program is
        print(f"keychain-claims shim: harness: {exc}", file=sys.stderr)
        harness_event(dialog_log, f"a security call could not be started: {exc}")
        return 1

    def end_group(signum=None, frame=None):
        if session:                               # the broker ends the call's whole group
            child.kill()
        for pid in [] if session else [*_descendants(child.pid), child.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if signum is not None:
            os._exit(1)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, end_group)
    held: list[str] = []
    reader = threading.Thread(target=_stream_stderr, args=(child.stderr, held), daemon=True)
    reader.start()
    from keychain_claims.backends.macos.session import feed
    feed(child, stdin)
    try:
        status = child.wait(timeout=max(0.1, limit - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        end_group()
        child.wait()
        print(f"keychain-claims shim: harness: security did not finish within its {limit:.0f} s deadline",
              file=sys.stderr)
        harness_event(dialog_log, f"a security call ({' '.join(argv[-len(argv) + 1:][:3])}) did not finish within "
                                  f"its {limit:.0f} s deadline")
        return 1
    reader.join(timeout=2)
    session = scenario_session(dialog_log)
    if session == "none" or status != NO_UI[0]:     # (a -w read over SSH prints nothing with its 36)
        sys.stderr.write("".join(held))
        if status == NO_UI[0] and dialog_log and os.environ.get(WATCHED_ENV) != "typed":
            with open(dialog_log, "a") as fh:            # a release's prompt, answered by the session: real
                fh.write(json.dumps({"argv": argv[1:2],
                                     "kind": "?", "ui": session, "source": "errSecInteractionNotAllowed",
                                     "outcome": "no-ui (real: exit 36, no window-server access)"}) + "\n")
        return status
    command = argv[1:]
    service = next((v for f, v in zip(command, command[1:]) if f == "-s"), "")
    record = {"argv": command[:1], "app": "security", "item": service, "ui": session,
              "source": "errSecInteractionNotAllowed"}
    if consent and os.environ.get(WATCHED_ENV) == "typed":
        from keychain_claims.backends.macos.dialogs import write_record
        answer = write_record(Path(consent), record)
        while time.monotonic() - started < limit and not answer.exists():
            time.sleep(0.05)
        if not answer.exists():
            harness_event(dialog_log, "a typed command's consent was not decided within its deadline")
    elif dialog_log:                          # a release's call: nobody decides; the harness's log says so
        with open(dialog_log, "a") as fh:
            fh.write(json.dumps({**record, "kind": "?", "outcome": "unanswered (nobody decides for a release's "
                                 "call) -> cancel (emulated)"}) + "\n")
    print(f"security: SecKeychainItemCopyContent: {CANCELED[1]}", file=sys.stderr)
    return CANCELED[0]


def _command(word: str) -> str | None:
    """The command `word` names, as security(1) matches it, or None."""
    found = lookup(word)
    return found[0] if found else None


def caller_argv(program: str, command: list[str]) -> tuple[list[str], bytes | None]:
    """A test caller's argv for one pinned command, and what goes on its stdin: a write's secret
    (-w VALUE / -X HEX) is taken out of argv and typed on stdin (`-x`: hex, `-p`: text)."""
    argv, secret = [program, command[0]], None
    if _command(command[0]) != "add-generic-password":
        return [program, *command], None
    words = iter(command[1:])
    for word in words:
        if word in ("-w", "-X"):
            value = next(words, "")
            secret = value.encode("utf-8", "surrogateescape") + b"\n"
            argv.append("-x" if word == "-X" else "-p")
        else:
            argv.append(word)
    return argv, secret


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    keychain, real, log, dialog_log, session, consent = None, "/usr/bin/security", None, None, None, None
    while args and args[0] != "--":
        flag = args.pop(0)
        if flag == "--keychain":
            keychain = args.pop(0)
        elif flag == "--real":
            real = args.pop(0)
        elif flag == "--log":
            log = args.pop(0)
        elif flag == "--dialog-log":
            dialog_log = args.pop(0)
        elif flag == "--session":              # the folder of the sandbox's session broker (session.py)
            session = args.pop(0)
        elif flag == "--consent":              # where a typed line's consent records go
            consent = args.pop(0)
        elif flag == "--watch":                # older shims: ignored
            args.pop(0)
    args = args[1:] if args else []
    if not keychain:
        print("keychain-claims shim: refused: no scratch keychain configured", file=sys.stderr)
        return 1
    if dialog_log and os.path.exists(os.path.join(os.path.dirname(dialog_log), "harness-events.jsonl")):
        # an earlier call of this scenario could not be exercised: its result is a harness error
        # already, so nothing more is run (one deadline per scenario at most, not one per call)
        print("keychain-claims shim: harness: an earlier call in this sandbox missed its deadline; not run",
              file=sys.stderr)
        return 1
    home = os.environ.get("HOME", "")
    limit = float(os.environ.get(LIMIT_ENV) or CALL_LIMIT)
    driven = os.environ.get(WATCHED_ENV) == "1"        # the harness reads this call's answer itself
    try:
        opts, command = getopt(args, GLOBAL_OPTIONS, h_is_usage=False)
    except Usage:                                 # security prints its usage and runs nothing
        os.execv(real, [real, *args])
    globals_ = [a for o, v in opts for a in ((f"-{o}",) if o != "p" else ("-p", v or ""))]   # -p takes a value
    caller = os.environ.get(CALLER_ENV)
    try:
        if any(o == "h" for o, _ in opts):        # help only: reaches no keychain
            os.execv(real, [real, *args])
        log_calls(log, [command])                 # as the caller asked, before pinning
        prefs = SandboxPrefs(keychain)
        if command:                               # a command runs even with -i/-p (argc > 0 wins)
            pinned = pin_argv(command, keychain, home, prefs)
            if not pinned:                        # the sandbox's preference, set in its own file
                prefs.save()
                return 0
        elif _interactive(opts):
            text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
            lines = [split_line(line) for line in text.split("\n")[:-1]]
            log_calls(log, lines)
            script = pin_stdin(text, keychain, home, prefs)
            prefs.save()
            commands = [split_line(line) for line in script.split("\n")[:-1]]
            if caller and commands and all(c and _command(c[0]) in CALLER_COMMANDS
                                           for c in commands):
                status = 0                        # the app itself does what it sent to `security -i`
                for one in commands:
                    full, secret = caller_argv(caller, one)
                    status = run_in_session(full, secret, None, dialog_log, limit, session)
                return status
            data = script.encode("utf-8", "surrogateescape")
            if driven:
                return _direct([real, *globals_], data, session)
            return run_in_session([real, *globals_], data, consent, dialog_log, limit, session)
        else:
            pinned = []
    except Refused as exc:
        print(f"keychain-claims shim: refused: {exc}", file=sys.stderr)
        harness_event(dialog_log, f"the shim refused a call: {exc}")
        return 1
    secret = None
    if caller and pinned and _command(pinned[0]) in CALLER_COMMANDS:
        full, secret = caller_argv(caller, pinned)
    else:
        full = [real, *globals_, *pinned]
    if driven and secret is None:
        return _direct(full, None, session)
    return run_in_session(full, secret, consent, dialog_log, limit, session)


def _direct(argv: list[str], data: bytes | None, session: str | None) -> int:
    """A call the harness reads itself: run with this process's terminal and descriptors, in the
    sandbox's session when it has one."""
    if session:
        from keychain_claims.backends.macos.session import SessionError, run
        try:
            return run(Path(session), argv, data)
        except SessionError as exc:
            print(f"keychain-claims shim: harness: {exc}", file=sys.stderr)
            return 1
    if data is None:
        os.execv(argv[0], argv)
    import subprocess
    return subprocess.run(argv, input=data).returncode


if __name__ == "__main__":
    sys.exit(main())
