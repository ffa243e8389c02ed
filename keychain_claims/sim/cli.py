"""`keychain-sim` takes exactly security(1)'s argv: `keychain-sim [-hilqv] command [args]`."""
from __future__ import annotations

import json
import os
import sys

from keychain_claims.sim import commands, errors, store, unverified

SECRET_OPTS = "pwXk"        # options whose *value* is a secret (find's -w takes none, so it stays)


def _masked(argv: list[str]) -> list[str]:
    """argv for the event log: the values of -p/-w/-X/-k replaced by "<secret>", whether given
    apart (`-w x`) or attached (`-wx`, `-Uwx`), walking the command's own getopt string."""
    row = commands.lookup(argv[0]) if argv else None
    spec = commands.OPTIONS.get(row[0], "") if row else ""
    spec = spec.lstrip(":")
    out, i = list(argv[:1]), 1
    while i < len(argv):
        arg = argv[i]
        out.append(arg)
        i += 1
        if arg == "--" or not arg.startswith("-") or arg == "-":
            out += argv[i:]
            break
        for j in range(1, len(arg)):
            at = spec.find(arg[j])
            if at >= 0 and at + 1 < len(spec) and spec[at + 1] == ":":
                if arg[j] in SECRET_OPTS:
                    if j + 1 < len(arg):
                        out[-1] = arg[:j + 1] + "<secret>"
                    elif i < len(argv):
                        out.append("<secret>")
                        i += 1
                elif j + 1 == len(arg) and i < len(argv):
                    out.append(argv[i])
                    i += 1
                break
    return out


def _usage(io: commands.IO) -> None:
    io.print("Usage: security [-h] [-i] [-l] [-p prompt] [-q] [-v] [command] [opt ...]")
    io.print("    -i    Run in interactive mode.")
    io.print("    -q    Be less verbose.")
    io.print("Commands:")
    for name, _, _, help_text in commands.TABLE:
        io.print(f"    {name:<38}{help_text}")


def run(argv: list[str], io: commands.IO) -> int:
    """One command line; returns the command's result (an int, maybe an OSStatus)."""
    if not argv:
        return 0
    row = commands.lookup(argv[0])
    if row is None:
        io.error(f'security: unknown command "{argv[0]}"')
        return 1
    name, fn, usage, help_text = row
    try:
        return fn(argv[1:], io)
    except errors.Usage:
        io.error(f"Usage: {name} {usage}\n        {help_text}")
        return 2
    except errors.SecError as exc:
        io.error(f"security: {exc.text}")
        return exc.status


def split_line(line: str) -> list[str]:
    """security -i's tokenizer: whitespace-separated, '' and "" quoting, backslash escapes."""
    args, cur, quote, have, i = [], [], None, False, 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cur.append(line[i + 1])
            have, i = True, i + 2
            continue
        if quote:
            if ch == quote:
                quote = None
            else:
                cur.append(ch)
        elif ch in "'\"":
            quote, have = ch, True
        elif ch in " \t\r\n":
            if have or cur:
                args.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(ch)
        i += 1
    if have or cur:
        args.append("".join(cur))
    return args[:32]


def join_line(argv: list[str]) -> str:
    """One `security -i` line whose split_line() is `argv`: double quotes and backslash
    escapes where a word needs them."""
    return " ".join(a if a and all(c.isalnum() or c in "-_./:@%+=," for c in a)
                    else '"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in argv)


def interactive(io: commands.IO, quiet: bool) -> int:
    tty = sys.stdin.isatty()
    status = 0
    while True:
        if tty:
            io.err.write("security> ")
            io.err.flush()
        line = sys.stdin.readline()
        if not line:
            break
        chunks = [line[i:i + 4095] for i in range(0, max(len(line), 1), 4095)]   # longer lines split [SRC]
        for chunk in chunks:
            argv = split_line(chunk)
            if not argv:
                status = 0
                continue
            if argv[0] in unverified.INTERACTIVE_EXIT_WORDS:
                return status
            status = run(argv, io)
            _log(argv, status)
            if status and not quiet:
                io.error(f"{argv[0]}: returned {status}")
            io.out.flush()
    return status


def _log(argv: list[str], status: int) -> None:
    try:
        from keychain_claims.sim.acl import caller, partition_id
        store.log({"event": "call", "argv": _masked(argv), "status": errors.exit_code(status),
                   "caller": partition_id(caller()), "t": store.now()})
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    audit = os.environ.get("KEYCHAIN_SIM_ARGV_AUDIT")        # tests: every argv as the process got it
    if audit:
        with open(audit, "a") as fh:
            fh.write(json.dumps(argv) + "\n")
    io = commands.IO()
    try:
        opts, rest = commands.getopt(argv, "hilp:qv")
    except errors.Usage:
        _usage(io)
        return 2
    flags = {o for o, _ in opts}
    try:
        if "i" in flags:
            status = interactive(io, "q" in flags)
        elif not rest:
            _usage(io)
            return 2
        else:
            status = run(rest, io)
            _log(rest, status)
        io.out.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return errors.exit_code(status)
