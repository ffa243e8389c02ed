"""`keychain-sim` takes exactly security(1)'s argv: `keychain-sim [-hilqvR] [-p prompt] [command [args]]`
(security.c main: a command given wins over -i/-p; -h is help; a bad option is getopt's complaint
and the usage)."""
from __future__ import annotations

import json
import os
import sys

from keychain_claims.security import errors
from keychain_claims.security.commands import GLOBAL_OPTIONS, GLOBAL_USAGE, MAX_LINE_LEN, PROMPT
from keychain_claims.security.lines import read_line, split_line
from keychain_claims.security.options import getopt, masked_argv
from keychain_claims.sim import commands, store, unverified

def _usage(io: commands.IO) -> int:
    """security.c usage(): on stdout, then the command list; result 2."""
    io.out.write(GLOBAL_USAGE)
    _help(["help"], io)
    return 2


def _help(argv: list[str], io: commands.IO) -> int:
    """The `help` command: the whole list, or `Usage: name usage` per named command (stdout)."""
    if len(argv) > 1:
        for word in argv[1:]:
            row = commands.lookup(word)
            if row is None:
                io.error(f"security: {argv[0]}: no such command: {word}")
                return 1
            io.print(f"Usage: {row[0]} {unverified.usage_text(row[2])}")
        return 0
    for name, _, _, help_text in commands.TABLE:
        io.print(f"    {name:<36} {help_text}")
    return 0


def run(argv: list[str], io: commands.IO, verbose: bool = False) -> int:
    """One command line (execute_command); returns the command's result (an int, maybe an OSStatus)."""
    if not argv:
        return 0
    row = commands.lookup(argv[0])
    if row is None:
        io.error(f'security: unknown command "{argv[0]}"')
        return 1
    name, fn, usage, help_text = row
    if verbose:                                   # -v: the command as run, on stderr [SRC]
        io.error(name + "".join(f' "{a}"' for a in argv[1:]))
    if name == "help":
        return _help(argv, io)
    if fn is None:
        io.error(unverified.NOT_SIMULATED.format(name=name))
        return unverified.NOT_SIMULATED_STATUS
    try:
        return fn(argv[1:], io)
    except errors.Usage as exc:
        if exc.message:
            io.error(exc.message.replace("{prog}", argv[0]))       # the command word as typed
        io.error(f"Usage: {name} {unverified.usage_text(usage)}\n        {help_text}")
        return 2
    except errors.SecError as exc:
        io.error(f"security: {exc.text}")
        return exc.status
    except OSError as exc:                        # the state or keychain folder unusable
        io.error(f"security: {name}: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return errors.PARAM
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:     # a damaged store
        if type(exc).__name__ == "DialogCorpusError":        # security/dialogs.json unusable: not the keychain's fault
            io.error(f"keychain-sim: {exc}")
            return 1
        io.error(f"security: {name}: {errors.TEXT[errors.DECODE]} (keychain-sim state: {type(exc).__name__} {exc})")
        return errors.DECODE


def interactive(io: commands.IO, quiet: bool, verbose: bool = False, prompt: str | None = None) -> int:
    """security -i / -p prompt: read lines until EOF; each is split and run; a failing command
    adds `<word>: returned <n>` unless -q [SRC security.c main]."""
    show_prompt = sys.stdin.isatty()
    stream = sys.stdin.buffer
    status = 0
    while True:
        if show_prompt:
            io.err.write(PROMPT if prompt is None else prompt)
            io.err.flush()
        raw = read_line(stream, MAX_LINE_LEN)
        if raw is None:
            break
        argv = split_line(raw.decode("utf-8", "surrogateescape"))
        status = run(argv, io, verbose)
        if argv:
            _log(argv, status)
        if status and not quiet:
            io.error(f"{argv[0]}: returned {status}")
        io.out.flush()
    return status


def _log(argv: list[str], status: int) -> None:
    try:
        from keychain_claims.sim.acl import caller, partition_id
        store.log({"event": "call", "argv": masked_argv(argv), "status": errors.exit_code(status),
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
        opts, rest = getopt(argv, GLOBAL_OPTIONS, h_is_usage=False)
    except errors.Usage as exc:                   # security: illegal option -- x, then usage() on stdout
        io.error(exc.message.replace("{prog}", unverified.PROGRAM_NAME))
        return _usage(io)
    flags = {o for o, _ in opts}
    if "h" in flags:                              # help for the operands, or the whole list
        return _help(["help", *rest], io)
    prompt = next((v for o, v in opts if o == "p"), None)
    try:
        if rest:
            status = run(rest, io, "v" in flags)
            if rest:
                _log(rest, status)
        elif "i" in flags or "p" in flags:
            status = interactive(io, "q" in flags, "v" in flags, prompt)
        else:
            return _usage(io)
        io.out.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return errors.exit_code(status)
