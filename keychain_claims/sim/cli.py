"""`keychain-sim` takes exactly security(1)'s argv: `keychain-sim [-hilqvR] [-p prompt] [command [args]]`
(security.c main: a command given wins over -i/-p; -h is help; a bad option is getopt's complaint
and the usage)."""
from __future__ import annotations

import json
import os
import sys

from keychain_claims.sim import commands, errors, store, unverified

SECRET_OPTS = "pwXk"        # options whose *value* is a secret (find's -w takes none, so it stays)
SECRET_OPTS_OF = {"set-keychain-password": "op"}      # -o: the old password


def _masked(argv: list[str]) -> list[str]:
    """argv for the event log (through keychain_claims.redact): the values of the command's secret
    options replaced by "<secret>", walking its own getopt string; a command the simulator does
    not model (or a mistyped one) keeps only its option letters."""
    from keychain_claims.redact import mask_argv
    row = commands.lookup(argv[0]) if argv else None
    spec = commands.OPTIONS.get(row[0]) if row else None
    return mask_argv(argv, spec, SECRET_OPTS_OF.get(row[0], SECRET_OPTS) if row else SECRET_OPTS)


def _usage(io: commands.IO) -> int:
    """security.c usage(): on stdout, then the command list; result 2."""
    from keychain_claims.sim import table
    io.out.write(table.GLOBAL_USAGE)
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
        io.error(f"security: {name}: {errors.TEXT[errors.DECODE]} (keychain-sim state: {type(exc).__name__} {exc})")
        return errors.DECODE


SPACE = " \t\n\v\f\r"                          # isspace() in the C locale


def split_line(line: str) -> list[str]:
    """security -i's tokenizer, state for state as security.c split_line: words split at white
    space; a quote (' or ") opens a quoted word only at a word's start and its closing quote ends
    the word (`"a"b` is two words, `a"b"` one); a backslash takes the next character literally,
    inside quotes too; an unclosed quote or a trailing backslash ends with the line; at most
    MAX_ARGS (32) words, the rest of the line ignored."""
    from keychain_claims.sim.table import MAX_ARGS
    args: list[str] = []
    cur: list[str] = []
    state, quote = "skip", ""
    for ch in line:
        if ch == "\0":                           # C string: the line ends at a NUL
            break
        if state == "skip":
            if ch in SPACE:
                continue
            if ch in "\"'":
                state, quote = "quoted", ch
                continue
            state = "word"
        if state == "word":
            if ch == "\\":
                state = "word-escaped"
            elif ch in SPACE:
                args.append("".join(cur))
                cur, state = [], "skip"
                if len(args) >= MAX_ARGS:
                    return args
            else:
                cur.append(ch)
        elif state == "quoted":
            if ch == "\\":
                state = "quoted-escaped"
            elif ch == quote:
                args.append("".join(cur))
                cur, state = [], "skip"
                if len(args) >= MAX_ARGS:
                    return args
            else:
                cur.append(ch)
        elif state == "word-escaped":
            cur.append(ch)
            state = "word"
        elif state == "quoted-escaped":
            cur.append(ch)
            state = "quoted"
    if state != "skip":
        args.append("".join(cur))
    return args


class Unrepresentable(ValueError):
    """An argv that no `security -i` line can carry (a newline or NUL in a word, more than
    MAX_ARGS words, or a line longer than readline's buffer)."""


def join_line(argv: list[str]) -> str:
    """One `security -i` line whose split_line() is `argv`: a word that needs it in double quotes,
    with `\\` and `\"` escaped.  Raises Unrepresentable where split_line could not give argv back."""
    from keychain_claims.sim.table import MAX_ARGS, MAX_LINE_LEN
    if len(argv) > MAX_ARGS:
        raise Unrepresentable(f"{len(argv)} words; a security -i line holds at most {MAX_ARGS}")
    for a in argv:
        if "\n" in a or "\0" in a:
            raise Unrepresentable("a word with a newline or NUL cannot be sent on a security -i line")
    line = " ".join(a if a and all(c.isalnum() or c in "-_./:@%+=," for c in a)
                    else '"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in argv)
    if len(line.encode("utf-8", "surrogateescape")) > MAX_LINE_LEN - 1:
        raise Unrepresentable(f"a line of {len(line.encode('utf-8', 'surrogateescape'))} bytes; security -i reads "
                              f"at most {MAX_LINE_LEN - 1} bytes a line and runs the rest as another command")
    return line


def read_line(stream, size: int) -> bytes | None:
    """readline.c readline(): up to size-1 bytes or to a newline (not kept; a line longer than that
    comes back in pieces, the rest read as the next line); None at EOF -- also when a last line
    has no newline, which is therefore never run."""
    buf = bytearray()
    while len(buf) < size - 1:
        ch = stream.read(1)
        if not ch:
            return None
        if ch == b"\n":
            return bytes(buf)
        buf += ch
    return bytes(buf)


def interactive(io: commands.IO, quiet: bool, verbose: bool = False, prompt: str | None = None) -> int:
    """security -i / -p prompt: read lines until EOF; each is split and run; a failing command
    adds `<word>: returned <n>` unless -q [SRC security.c main]."""
    from keychain_claims.sim.table import MAX_LINE_LEN, PROMPT
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
    from keychain_claims.sim.table import GLOBAL_OPTIONS
    try:
        opts, rest = commands.getopt(argv, GLOBAL_OPTIONS, h_is_usage=False)
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
