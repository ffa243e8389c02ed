"""`security -i` lines as security.c and readline.c read them: one line per command, split into
words by split_line; join_line is its inverse for the harness and the shim."""
from __future__ import annotations

from keychain_claims.errors import SecurityAnswer
from keychain_claims.security.commands import MAX_ARGS, MAX_LINE_LEN

SPACE = " \t\n\v\f\r"                          # isspace() in the C locale


def split_line(line: str) -> list[str]:
    """security -i's tokenizer, state for state as security.c split_line: words split at white
    space; a quote (' or ") opens a quoted word only at a word's start and its closing quote ends
    the word (`"a"b` is two words, `a"b"` one); a backslash takes the next character literally,
    inside quotes too; an unclosed quote or a trailing backslash ends with the line; at most
    MAX_ARGS (32) words, the rest of the line ignored."""
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


class Unrepresentable(SecurityAnswer, ValueError):
    """An argv that no `security -i` line can carry (a newline or NUL in a word, more than
    MAX_ARGS words, or a line longer than readline's buffer)."""


def join_line(argv: list[str]) -> str:
    """One `security -i` line whose split_line() is `argv`: a word that needs it in double quotes,
    with `\\` and `\"` escaped.  Raises Unrepresentable where split_line could not give argv back."""
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
