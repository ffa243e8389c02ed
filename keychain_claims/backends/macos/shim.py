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

from keychain_claims.sim.cli import Unrepresentable, join_line, read_line, split_line
from keychain_claims.sim.commands import OPTIONS, getopt, lookup
from keychain_claims.sim.errors import Usage
from keychain_claims.sim.table import GLOBAL_OPTIONS, MAX_LINE_LEN

LIST_OPERANDS = {"find-generic-password", "delete-generic-password", "dump-keychain",
                 "find-internet-password", "delete-internet-password"}
ONE_OPERAND = {"add-generic-password", "set-generic-password-partition-list", "add-internet-password",
               "set-internet-password-partition-list", "set-key-partition-list", "set-keychain-password",
               "show-keychain-info", "lock-keychain", "unlock-keychain", "set-keychain-settings"}
MUST_NAME = {"create-keychain", "delete-keychain"}
READ_ONLY = {"list-keychains", "default-keychain"}
NO_KEYCHAIN = {"help", "error"}                   # reach no keychain at all


class Refused(Exception):
    """The call would reach a keychain other than the scratch one."""


def _same(name: str, keychain: str, home: str) -> bool:
    path = name if name.startswith("/") else os.path.join(home, "Library", "Keychains", name)
    candidates = {path, path + "-db"} if not path.endswith("-db") else {path}
    return os.path.realpath(keychain) in {os.path.realpath(p) for p in candidates}


def pin_argv(argv: list[str], keychain: str, home: str) -> list[str]:
    """The argv of one command (no global options) pinned to `keychain`, or Refused.  The command
    is resolved as security resolves it: the first entry of its real table (sim/table.py) that
    starts with what was typed -- `lo` is login-keychain, not lock-keychain."""
    if not argv:
        return argv
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
        if "s" in flags:
            raise Refused(f"{name} -s would change the user's keychain preferences")
        return argv
    if name == "lock-keychain" and "a" in flags:
        raise Refused("lock-keychain -a would lock every keychain of the user")
    foreign = [o for o in operands if not _same(o, keychain, home)]
    if foreign:
        raise Refused(f"{name} names {foreign[0]!r}, which is not the scratch keychain")
    if name in MUST_NAME and not operands:
        raise Refused(f"{name} must name the scratch keychain")
    if name in LIST_OPERANDS | ONE_OPERAND and not operands:
        return [*argv, keychain]
    return argv


def pin_stdin(text: str, keychain: str, home: str) -> str:
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
        pinned = pin_argv(argv, keychain, home)
        try:
            out.append(join_line(pinned) + "\n")
        except Unrepresentable as exc:
            raise Refused(f"security -i line for {argv[0] if argv else ''!r}: {exc}") from None
    return "".join(out)


CALLER_ENV = "KEYCHAIN_CLAIMS_CALLER"
CALLER_COMMANDS = {"find-generic-password"}       # what a test caller does in place of the real tool


def log_calls(path: str | None, commands: list[list[str]]) -> None:
    """Append each command's masked argv to the call log (O_APPEND keeps lines whole)."""
    if not path or not commands:
        return
    import json
    from keychain_claims.sim.cli import _masked
    lines = "".join(json.dumps({"argv": _masked(c)}) + "\n" for c in commands if c)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, lines.encode())
    finally:
        os.close(fd)


def _interactive(opts) -> bool:
    """`-i`, and `-p prompt` (sets the prompt and implies -i) [SRC security.c main]."""
    return any(o in ("i", "p") for o, _ in opts)


WATCHED_ENV = "KEYCHAIN_CLAIMS_WATCHED"     # set by the harness's drivers: they watch for dialogs themselves
SESSION_ENV = "KEYCHAIN_CLAIMS_UI"          # the scenario's session: gui (default) or none
CALL_LIMIT = 20.0                           # seconds one call may take when nobody watches it
NO_UI = (36, "User interaction is not allowed.")
CANCELED = (128, "User canceled the operation.")


def _agents(watch: str) -> set[int]:
    """SecurityAgent processes now (none to look for in a rehearsal)."""
    if watch.startswith("sim:"):
        return set()
    from keychain_claims.backends.macos import dialogs
    return dialogs._agents()


def _dialogs(watch: str, child: int, started: float, agents: set[int]) -> bool:
    """Whether a keychain dialog is up for `child`: the simulator's window record of it
    (`sim:<state>`), or on a Mac a SecurityAgent process that was not there when the call began,
    or a call waiting SLOW_CALL seconds."""
    import time
    if watch.startswith("sim:"):
        from keychain_claims.sim import control
        return any(w.get("pid") == child for w in control.windows(watch[4:]))
    from keychain_claims.backends.macos import dialogs
    return bool(_agents(watch) - agents) or time.monotonic() - started > dialogs.SLOW_CALL


def _dismiss(watch: str, child, agents: set[int]) -> None:
    if watch.startswith("sim:"):
        from keychain_claims.sim import control
        control.dismiss(watch[4:])
    else:
        for pid in _agents(watch) - agents:
            os.kill(pid, 15)
    try:
        child.wait(timeout=3)
    except Exception:           # noqa: BLE001 - a call that outlives its dismissed dialog is ended
        child.kill()
        child.wait()


def run_watched(argv: list[str], stdin: bytes | None, watch: str, dialog_log: str | None) -> int:
    """Run a call nobody in the harness watches (a release's): a dialog that appears is dismissed
    at once and the call fails as the scenario's session would make it fail -- exit 36 without a GUI,
    cancelled in a GUI nobody answers -- with a record in the dialog log; CALL_LIMIT ends the rest."""
    import json
    import subprocess
    import time
    agents = _agents(watch)
    child = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else None)
    if stdin is not None:
        child.stdin.write(stdin)
        child.stdin.close()
    started = time.monotonic()
    while child.poll() is None:
        if time.monotonic() - started > CALL_LIMIT:
            child.kill()
            child.wait()
            print(f"keychain-claims shim: security did not finish within {CALL_LIMIT:.0f} s", file=sys.stderr)
            return 1
        if _dialogs(watch, child.pid, started, agents):
            _dismiss(watch, child, agents)
            session = os.environ.get(SESSION_ENV, "gui")
            status, text = NO_UI if session == "none" else CANCELED
            if dialog_log:
                with open(dialog_log, "a") as fh:
                    fh.write(json.dumps({"kind": "?", "source": "a call nobody in the harness watched (shim)",
                                         "argv": argv[1:2], "ui": session,
                                         "outcome": "no-ui (emulated)" if session == "none" else "unanswered"}) + "\n")
            print(f"security: {text}", file=sys.stderr)
            return status
        time.sleep(0.05)
    return child.returncode


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    keychain, real, log, watch, dialog_log = None, "/usr/bin/security", None, None, None
    while args and args[0] != "--":
        flag = args.pop(0)
        if flag == "--keychain":
            keychain = args.pop(0)
        elif flag == "--real":
            real = args.pop(0)
        elif flag == "--log":
            log = args.pop(0)
        elif flag == "--watch":
            watch = args.pop(0)
        elif flag == "--dialog-log":
            dialog_log = args.pop(0)
    if os.environ.get(WATCHED_ENV):
        watch = None
    args = args[1:] if args else []
    if not keychain:
        print("keychain-claims shim: refused: no scratch keychain configured", file=sys.stderr)
        return 1
    home = os.environ.get("HOME", "")
    try:
        opts, command = getopt(args, GLOBAL_OPTIONS, h_is_usage=False)
    except Usage:                                 # security prints its usage and runs nothing
        os.execv(real, [real, *args])
    globals_ = [a for o, v in opts for a in ((f"-{o}",) if o != "p" else ("-p", v))]
    try:
        if any(o == "h" for o, _ in opts):        # help only: reaches no keychain
            os.execv(real, [real, *args])
        log_calls(log, [command])                 # as the caller asked, before pinning
        if command:                               # a command runs even with -i/-p (argc > 0 wins)
            pinned = pin_argv(command, keychain, home)
        elif _interactive(opts):
            text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
            log_calls(log, [split_line(line) for line in text.split("\n")[:-1]])
            script = pin_stdin(text, keychain, home).encode("utf-8", "surrogateescape")
            if watch:
                return run_watched([real, *globals_], script, watch, dialog_log)
            import subprocess
            return subprocess.run([real, *globals_], input=script).returncode
        else:
            pinned = []
    except Refused as exc:
        print(f"keychain-claims shim: refused: {exc}", file=sys.stderr)
        return 1
    caller = os.environ.get(CALLER_ENV)
    program = caller if caller and pinned and lookup(pinned[0]) and lookup(pinned[0])[0] in CALLER_COMMANDS else None
    full = [program, *pinned] if program else [real, *globals_, *pinned]
    if watch:
        return run_watched(full, None, watch, dialog_log)
    os.execv(full[0], full)
    return 1


if __name__ == "__main__":
    sys.exit(main())
