"""security(1)'s option strings: the global ones are in commands.GLOBAL_OPTIONS; each
subcommand's getopt string is here, with BSD getopt(3) as the commands' loops use it and the
options whose values are secrets (for masking an argv before it is logged)."""
from __future__ import annotations

from keychain_claims.redact import mask_argv
from keychain_claims.security.commands import lookup
from keychain_claims.security.errors import Usage

# getopt strings of each subcommand [SRC SecurityTool/macOS/*.c]; the macOS shim parses with them too
OPTIONS = {
    "create-keychain": "hp:P",
    "delete-keychain": "h",
    "lock-keychain": "ha",
    "unlock-keychain": "hup:",
    "set-keychain-settings": "hlut:",
    "show-keychain-info": "s",
    "find-generic-password": "ha:c:C:D:G:j:l:s:wg",
    "add-generic-password": ":a:c:C:D:G:j:l:s:p:w:X:UAT:h",
    "delete-generic-password": "ha:c:C:D:G:j:l:s:g",
    "dump-keychain": "adhiro:",
    "set-generic-password-partition-list": ":a:c:C:D:G:j:l:s:S:k:",
    "list-keychains": "hd:s",
    "default-keychain": "hd:s",
    "set-keychain-password": "ho:p:",
    "add-internet-password": ":a:c:C:d:D:j:l:p:P:r:s:t:w:X:UAT:h",
    "find-internet-password": "ha:c:C:d:D:hgj:l:p:P:r:s:wt:",
    "delete-internet-password": "ha:c:C:d:D:hgj:l:p:P:r:s:t:",
    "set-internet-password-partition-list": "a:c:C:d:D:j:l:p:P:r:s:S:t:k:",
    "set-key-partition-list": ":a:c:dD:ej:k:l:rsS:t:uvw",
}


# ---------------------------------------------------------------------------- getopt
def getopt(args: list[str], spec: str, h_is_usage: bool = True) -> tuple[list[tuple[str, str | None]], list[str]]:
    """BSD getopt(3) as each command's loop uses it: options until the first operand or `--`.
    An unknown option or a missing argument ends the loop with the command's usage (result 2),
    after getopt's own line on stderr -- `security: illegal option -- x` / `security: option
    requires an argument -- x` -- unless the spec starts with ':' (then a missing argument comes
    back as (':', opt) and nothing is printed).  The complaint's prefix is the argv[0] getopt was given
    (Libc getopt.c: PROGNAME is nargv[0] under UNIX03): for a command, the word as typed -- left as
    "{prog}" for run() to fill in.  `-h` (where the spec has it) is the usage at once,
    as every command's `case 'h'` is; options after it are never looked at."""
    quiet = spec.startswith(":")
    spec = spec.lstrip(":")
    opts: list[tuple[str, str | None]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        j = 1
        while j < len(arg):
            ch = arg[j]
            at = spec.find(ch)
            if at < 0 or ch == ":":
                raise Usage("" if quiet else f"{{prog}}: illegal option -- {ch}")
            if at + 1 < len(spec) and spec[at + 1] == ":":
                if j + 1 < len(arg):
                    opts.append((ch, arg[j + 1:]))
                elif i + 1 < len(args):
                    i += 1
                    opts.append((ch, args[i]))
                elif quiet:
                    opts.append((":", ch))
                else:
                    raise Usage(f"{{prog}}: option requires an argument -- {ch}")
                break
            if ch == "h" and h_is_usage:
                raise Usage()
            opts.append((ch, None))
            j += 1
        i += 1
    return opts, args[i:]


SECRET_OPTS = "pwXk"        # options whose *value* is a secret (find's -w takes none, so it stays)
SECRET_OPTS_OF = {"set-keychain-password": "op"}      # -o: the old password


def masked_argv(argv: list[str]) -> list[str]:
    """argv for the event log (through keychain_claims.redact): the values of the command's secret
    options replaced by "<secret>", walking its own getopt string; a command the simulator does
    not model (or a mistyped one) keeps only its option letters."""
    row = lookup(argv[0]) if argv else None
    spec = OPTIONS.get(row[0]) if row else None
    return mask_argv(argv, spec, SECRET_OPTS_OF.get(row[0], SECRET_OPTS) if row else SECRET_OPTS)
