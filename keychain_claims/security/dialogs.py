"""The dialog corpus (dialogs.json next to this file): SecurityAgent's sentences as public reports quote them, and
the wording the simulator draws for each state and macOS version.

SecurityAgent is not open source.  Which request securityd puts to it is [SRC] (agentquery.cpp
QueryKeychainUse::queryUser sends the operation as the hint "acl-tag"; acls.cpp extendPartition asks about
CSSM_ACL_AUTHORIZATION_PARTITION_ID); the sentence it draws for each is read from the reports kept here.

    text(state, version, app, item, keychain)   the sentence the simulator draws (sim/agent.py)
    agrees(report, drawn)                       does a drawn sentence say what the report quotes
    load()                                      the corpus, checked; DialogCorpusError (one line) when it is not

A small typed loader (frozen dataclasses, standard library only): the simulator, which runs without site-packages
(backends/base.py python_argv), loads it whenever it draws a dialog.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from keychain_claims.errors import UserError

FORMAT = "keychain-claims/dialogs/1"
CORPUS = Path(__file__).with_name("dialogs.json")
STATES = ("acl", "partition", "locked")             # the requests the simulator draws a dialog for
OTHER_STATES = ("sign",)                            # reported, not modelled (the simulator has no keys)
FORMS = ("verbatim", "shortened", "paraphrase", "localized")
DRAWN_FORMS = ("verbatim", "shortened")
EXTENTS = ("whole", "first-sentence", "opening")
QUOTES = ("retyped", "dialog")
MODELLED = ("14", "15", "26")                       # sim/unverified.py MACOS_VERSIONS (kept import-free here)
FIELDS = {"acl": ("app", "item", "keychain"), "partition": ("app", "item", "keychain"), "locked": ("app", "keychain")}


class DialogCorpusError(UserError, ValueError):
    """The corpus file is not usable; the message is one line and says what to mend."""


@dataclass(frozen=True)
class Wording:
    state: str
    macos: tuple[str, ...]
    text: str
    buttons: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    id: str
    found: int
    held_out: bool
    source: str
    date: str
    macos: str
    state: str
    state_evidence: str
    app: str
    item: str
    keychain: str
    text: str
    form: str
    quotes: str
    extent: str = ""
    buttons: tuple[str, ...] = ()
    note: str = ""
    after_fit: bool = False          # found after the wording was fitted (so held out)
    path: str = ""                   # the reader's executable, when the report gives it

    @property
    def drawn(self) -> bool:
        """Reports the simulator must draw: the dialog's own words (whole or cut off), in English."""
        return self.form in DRAWN_FORMS

    @property
    def versions(self) -> tuple[str, ...]:
        """The modelled versions this report is replayed at: its own, or every one when it gives none."""
        version = modelled(self.macos)
        return MODELLED if version is None else (version,)


@dataclass(frozen=True)
class Corpus:
    wording: tuple[Wording, ...]
    reports: tuple[Report, ...]

    def wording_for(self, state: str, version: str) -> Wording:
        return next(w for w in self.wording if w.state == state and version in w.macos)


def modelled(macos: str) -> str | None:
    """The modelled version a report's "macOS 26.3 (25D125)" / "Darwin 25.5.0" / "15.7.5" stands for; None for
    "unknown".  Darwin N is macOS N+1 from Darwin 25 on (macOS 26), N-9 before (Darwin 24 = macOS 15)."""
    if macos == "unknown":
        return None
    found = re.search(r"\((\d+)[.)]", macos) or re.match(r"(\d+)", macos)
    darwin = re.match(r"Darwin (\d+)", macos)
    if darwin and not re.search(r"\(\d+", macos):
        n = int(darwin.group(1))
        return str(n + 1 if n >= 25 else n - 9)
    return found.group(1) if found else ""


def _fail(where: str, problem: str) -> DialogCorpusError:
    return DialogCorpusError(f"{where}: {problem}")


def _report(where: str, raw: dict) -> Report:
    if not isinstance(raw, dict):
        raise _fail(where, "a report must be a mapping of id, source, date, macos, state, app, item, keychain, text, …")
    rid = raw.get("id") or "?"
    here = f"{where} report {rid}"
    required = ("id", "found", "held_out", "source", "date", "macos", "state", "state_evidence", "app", "item",
                "keychain", "text", "form", "quotes")
    missing = [k for k in required if raw.get(k) in (None, "") and not (k == "item" and raw.get("state") == "locked")]
    if missing:
        raise _fail(here, f"lacks {', '.join(missing)}: give each (macos may be \"unknown\"; a locked report's item "
                          "may be empty)")
    unknown = sorted(set(raw) - set(required) - {"extent", "buttons", "note", "after_fit", "path"})
    if unknown:
        raise _fail(here, f"has unknown field(s) {', '.join(unknown)}: remove them or put them in note")
    if not re.match(r"https://\S+$", str(raw["source"])):
        raise _fail(here, f"source {raw['source']!r} is not an https address: give the report's address")
    date = str(raw["date"])
    if not re.fullmatch(r"\d{4}(-\d{2}-\d{2})?", date) or date[:4] < "2024":
        raise _fail(here, f"date {date!r} is not a day (YYYY-MM-DD, or YYYY) from 2024 on: the corpus keeps reports "
                          "from 2024 on")
    state, form = raw["state"], raw["form"]
    if state not in STATES + OTHER_STATES:
        raise _fail(here, f"state {state!r} is not one of {', '.join(STATES + OTHER_STATES)}")
    if form not in FORMS:
        raise _fail(here, f"form {form!r} is not one of {', '.join(FORMS)}")
    if raw["quotes"] not in QUOTES:
        raise _fail(here, f"quotes {raw['quotes']!r} is not one of {', '.join(QUOTES)}")
    version = modelled(str(raw["macos"]))
    if form in DRAWN_FORMS:
        if state not in STATES:
            raise _fail(here, f"a {form} report of state {state!r} cannot be drawn: the simulator draws "
                              f"{', '.join(STATES)}; record it as paraphrase or localized")
        if raw.get("extent") not in EXTENTS:
            raise _fail(here, f"extent {raw.get('extent')!r} is not one of {', '.join(EXTENTS)}")
        if version not in (None,) + MODELLED:
            raise _fail(here, f"macOS {raw['macos']!r} is not a modelled version ({', '.join(MODELLED)}) nor "
                              "\"unknown\": a drawn report must name one the simulator answers as")
    buttons = raw.get("buttons") or ()
    if not isinstance(buttons, (list, tuple)):
        raise _fail(here, "buttons must be a list of button titles")
    return Report(id=str(rid), found=int(raw["found"]), held_out=bool(raw["held_out"]), source=str(raw["source"]),
                  date=date, macos=str(raw["macos"]), state=state, state_evidence=str(raw["state_evidence"]),
                  app=str(raw["app"]), item=str(raw.get("item") or ""), keychain=str(raw["keychain"]), text=str(raw["text"]),
                  form=form, quotes=raw["quotes"], extent=str(raw.get("extent") or ""),
                  buttons=tuple(str(b) for b in buttons), note=str(raw.get("note") or ""),
                  after_fit=bool(raw.get("after_fit", False)), path=str(raw.get("path") or ""))


def _wording(where: str, raw: dict) -> Wording:
    state = raw.get("state") if isinstance(raw, dict) else None
    here = f"{where} wording {state or '?'}"
    if state not in STATES:
        raise _fail(here, f"state {state!r} is not one of {', '.join(STATES)}")
    text, versions = raw.get("text"), raw.get("macos")
    if not text or not isinstance(versions, list) or not versions:
        raise _fail(here, "needs text and macos (a list of the modelled versions it is drawn on)")
    stray = [v for v in versions if str(v) not in MODELLED]
    if stray:
        raise _fail(here, f"macOS {', '.join(map(str, stray))} not modelled ({', '.join(MODELLED)})")
    placeholders = set(re.findall(r"\{(\w+)\}", text))
    if not placeholders <= set(FIELDS[state]):
        raise _fail(here, f"text uses {{{', '.join(sorted(placeholders - set(FIELDS[state])))}}}: a {state} "
                          f"dialog knows {', '.join(FIELDS[state])}")
    return Wording(state, tuple(str(v) for v in versions), str(text), tuple(str(b) for b in raw.get("buttons") or ()))


def parse(doc, where: str = "dialogs.json") -> Corpus:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _fail(where, f"not a {FORMAT} file (its \"format\" must be \"{FORMAT}\")")
    stray = sorted(set(doc) - {"format", "about", "wording", "reports"})
    if stray:
        raise _fail(where, f"unknown top-level key(s) {', '.join(stray)}: keep format, about, wording, reports")
    wording = tuple(_wording(where, w) for w in doc.get("wording") or ())
    for state in STATES:
        for version in MODELLED:
            n = sum(1 for w in wording if w.state == state and version in w.macos)
            if n != 1:
                raise _fail(where, f"{n} wordings for state {state} on macOS {version}: give exactly one")
    reports = tuple(_report(where, r) for r in doc.get("reports") or ())
    ids = [r.id for r in reports]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise _fail(where, f"report id(s) {', '.join(twice)} used twice: ids must be unique")
    return Corpus(wording, reports)


@functools.lru_cache(maxsize=4)
def load(path: Path | str | None = None) -> Corpus:
    """The corpus at `path` (default: the one shipped), checked.  Bad input: DialogCorpusError, one line."""
    import json
    path = Path(path or CORPUS)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(str(path), f"cannot be read ({exc.strerror or exc}): restore it from the repository") from None
    except ValueError as exc:
        raise _fail(str(path), f"is not JSON ({getattr(exc, 'msg', exc)} at line {getattr(exc, 'lineno', '?')}): "
                               "mend that line") from None
    return parse(doc, str(path))


def text(state: str, version: str, app: str = "", item: str = "", keychain: str = "",
         corpus: Corpus | None = None) -> str:
    """The sentence(s) the simulator draws for `state` on macOS `version` (lines joined by "\\n", no final newline)."""
    wording = (corpus or load()).wording_for(state, version)
    return wording.text.format(app=app, item=item, keychain=keychain)


def buttons(state: str, version: str, corpus: Corpus | None = None) -> tuple[str, ...]:
    return (corpus or load()).wording_for(state, version).buttons


# ------------------------------------------------------------------------------------------ comparing
_RETYPED_MARKS = str.maketrans("", "", "\"'\u201c\u201d\u2018\u2019`*")


def fold(sentence: str, retyped: bool) -> str:
    """What a report's text can vouch for: runs of spaces and line breaks are one space (reports join and wrap
    lines), a cut-off "…"/"..." ends nothing; when the marks are the reporter's (retyped) the quote marks and
    markdown emphasis go, and so does a sentence-final period (reporters drop it)."""
    out = re.sub(r"\s+", " ", sentence).strip()
    out = re.sub(r"(…|\.\.\.)$", "", out).strip()
    if retyped:
        out = re.sub(r"\s+", " ", out.translate(_RETYPED_MARKS)).strip()
        out = out.rstrip(".")
    return out


def agrees(report: Report, drawn: str) -> bool:
    """Does `drawn` (a dialog's whole text) say what `report` quotes, as far as the report can tell?"""
    retyped = report.quotes == "retyped"
    want = fold(report.text, retyped)
    if report.extent == "first-sentence":
        drawn = drawn.strip().splitlines()[0] if drawn.strip() else ""
    got = fold(drawn, retyped)
    if report.extent == "opening":                 # a beginning of it, cut at a word's end
        return bool(want) and got.startswith(want) and (len(got) == len(want) or not got[len(want)].isalnum())
    return got == want
