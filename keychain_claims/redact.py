"""The one redaction function.  Every transcript, call record and attachment goes
through `redact()` before it is written anywhere (Allure, reports/, logs).

Registered secrets are removed in every form the tools print them: as typed, JSON-
escaped, as lower/upper hex (`-w` prints hex for non-printable secrets, `-X` takes
hex, dumps print 0xHEX).  On top of that anything shaped like a token or carrying
the canary is removed even if nobody registered it.
"""
from __future__ import annotations

import json
import re
import threading

from keychain_claims.runs import Runs

MASK = "<redacted>"
_CANARY = "KCCANARY"
_CANARY_HEX = _CANARY.encode().hex()
_TOKEN_END = r"[^\s\"'\\,}]*"
# literal-prefixed shapes: each match starts at its literal, so one pass is linear
_PREFIXED = [
    re.compile(r"sk-ant-[a-z]{2,4}\d\d-" + _TOKEN_END),
    re.compile(r"kc-KCCANARY-" + _TOKEN_END),
]
# a word (a run of characters up to a blank, quote, backslash, comma or brace) or a hex run that
# carries the canary is masked whole: found as runs and tested for the canary, never by a pattern
# that backtracks over the run at every position (quadratic on a long run)
_WORD = re.compile(r"[^\s\"'\\,}]+")
_HEX_RUN = re.compile(r"[0-9a-fA-F]+")
_lock = threading.Lock()


class Secrets:
    """The secrets one run registered, in every printed form.  A pytest run owns one (in its
    `config.stash`, plugins/redaction.py) for as long as it runs: two runs in one process (pytester,
    an in-process rerun) never share theirs, and what a run registered goes with it."""

    def __init__(self) -> None:
        self.forms: set[str] = set()

    def register(self, value: str) -> None:
        if value:
            with _lock:
                self.forms.update(_forms(str(value)))


RUNS = Runs(Secrets)         # the process's secrets (the CLI, a test's own Fakes) and each run's in progress


def begin_run(secrets: Secrets) -> None:
    """A run starts: what is registered from now on is its own, until `end_run`."""
    RUNS.begin(secrets)


def end_run(secrets: Secrets) -> None:
    """The run is over: its secrets go with it (a run nested in it, if any, ended before it)."""
    RUNS.end(secrets)


def _forms(value: str) -> set[str]:
    raw = value.encode("utf-8", "surrogateescape")
    forms = {value, json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value)[1:-1],
             raw.hex(), raw.hex().upper()}
    return {f for f in forms if len(f) >= 6}


def register(value: str) -> None:
    """Make `value` (and its printed forms) redactable for the rest of the run in progress (of the
    process, outside any run)."""
    RUNS.current().register(value)


def _mask_spans(text: str, values) -> str:
    """`text` with every occurrence of every value masked.  Each value is searched on its own (time
    linear in the text for each registered secret); occurrences that overlap are masked as one
    (replacing the longest first would leave the rest of an overlapping shorter one visible)."""
    spans = []
    for value in values:
        at = text.find(value)
        while at >= 0:
            spans.append((at, at + len(value)))
            at = text.find(value, at + 1)
    if not spans:
        return text
    spans.sort()
    out, done, start, end = [], 0, *spans[0]
    for s, e in spans[1:]:
        if s < end:
            end = max(end, e)
            continue
        out += [text[done:start], MASK]
        done, start, end = end, s, e
    out += [text[done:start], MASK, text[end:]]
    return "".join(out)


def redact(text: str | bytes | None, extra: tuple[str, ...] | list[str] = ()) -> str:
    """Return `text` with every secret registered by the runs in progress (and outside any run) and
    every token-shaped string masked, in time linear in the text (it runs on every simulated call,
    whatever a caller passes)."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    with _lock:       # a run nested in another (pytester) also masks what the outer one registered
        known = set().union(*(run.forms for run in RUNS.every()))
    text = _mask_spans(text, known.union(*(_forms(str(e)) for e in extra if e)))
    for pattern in _PREFIXED:
        text = pattern.sub(MASK, text)
    if _CANARY in text:
        text = _WORD.sub(lambda m: MASK if _CANARY in m.group() else m.group(), text)
    if _CANARY_HEX in text.lower():
        text = _HEX_RUN.sub(lambda m: MASK if _CANARY_HEX in m.group().lower() else m.group(), text)
    return text


SECRET_VALUE = "<secret>"


def mask_argv(argv: list[str], spec: str | None, secret_options: str) -> list[str]:
    """argv with the values of the options in `secret_options` replaced by "<secret>", given apart
    (`-w x`) or attached (`-wx`, `-Uwx`), walking `spec`, the command's getopt string.  A command
    whose getopt string is not known (`spec` None: mistyped, or not modelled) keeps only its
    word and its option letters: every other word is masked, since any of them may be a value."""
    if spec is None:
        return argv[:1] + [a[:2] + (SECRET_VALUE if len(a) > 2 else "") if a.startswith("-") and a != "-"
                           else SECRET_VALUE for a in argv[1:]]
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
                if arg[j] in secret_options:
                    if j + 1 < len(arg):
                        out[-1] = arg[:j + 1] + SECRET_VALUE
                    elif i < len(argv):
                        out.append(SECRET_VALUE)
                        i += 1
                elif j + 1 == len(arg) and i < len(argv):
                    out.append(argv[i])
                    i += 1
                break
    return [redact(a) if a != SECRET_VALUE else a for a in out]
