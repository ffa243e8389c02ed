"""The claims ledger: every checkable statement of the article, with an ID, the
exact quoted span, its section, the kind of evidence that can check it, and the
recorded findings (contradictions the suite expects to keep seeing) and the scenarios
that refute it (`refuted_by`: the scenarios tagged @refutes:<ID>, whose passing contradicts
the claim; claims/coverage.py keeps the list and the tags equal).

Per-run verdicts are derived from scenario outcomes, never written by hand (their definitions:
claims/verdict.py, `Verdict`).

The ledger also lists what the article *misses* (top-level `omissions:`): causes the field reports
that the article does not name.  An omission has an `id` (OMI-…), the `section` where the article
should have said it, an optional `anchor` (a span of that section the margin note attaches to; it
must occur in the article), a `statement`, its `evidence` (a list of public addresses, each with what
it shows) and optional `releases` (`>=2.1.199`).  It has no `quote`: the article does not say it.
Scenarios link to it with the same tags (@supports:OMI-… states the omitted cause); its verdicts are
kept apart from the claims' (claims/verdict.py, `OmissionVerdict`).

The ledger's file format is one model (pydantic v2: `LedgerFile`, `Claim` with its `Review`, `Finding`, `Omission`,
`Source`), which every reader of the ledger goes through (`Ledger(path)`): a field of the wrong type
or an unknown key, a value outside its list, a `releases` range that is no range and an entry over
its limits are each one line naming the entry.  The file is read only when it is a regular file of
at most MAX_BYTES, and parsed with a YAML loader that refuses aliases (an alias bomb), duplicate
keys (the second silently replaced the first) and nesting deeper than MAX_DEPTH.  A new field is
one annotated attribute of its model (with a default, so older ledgers still load).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from keychain_claims.claims.article import DEFAULT_PATH as ARTICLE_PATH, Article
from keychain_claims.backends import NAMES
from keychain_claims.atomic import Unreadable, read_utf8
from keychain_claims.errors import UserError

DEFAULT_PATH = ARTICLE_PATH.with_suffix(".claims.yaml")
SECTIONS = ("symptom", "cause", "triage", "fix-burst", "fix-reset", "fix-file-bypass", "caveats", "notes")
EVIDENCE = ("keychain-mechanics", "shell-recipe", "release-behaviour", "citation", "anecdote")
OMISSION_PREFIX = "OMI-"
_RELEASE_TERM = re.compile(r"^(>=|<=|==|>|<|=)?\d+(\.\d+)*$")
MAX_BYTES = 1 << 20           # a ledger file larger than this is refused unread
MAX_DEPTH = 20                # YAML nesting (the ledger needs 5)
MAX_ENTRIES = 1000            # claims, omissions, findings or list items of one entry
MAX_TEXT = 20_000             # characters of one text field


class LedgerError(UserError):
    """One-line, actionable reason the ledger cannot be used."""


def _backends() -> tuple[str, ...]:
    return ("any", *NAMES)


def _releases(value: str, owner: str) -> str:
    if value and not all(_RELEASE_TERM.match(t) for t in value.replace(",", " ").split()):
        raise ValueError(f"{owner} has releases {value!r}; write comparators such as `>=2.1.199` or `>=2.1.113 <2.2`")
    return value


def _entry(raw, kind: str, required: tuple[str, ...], wrong_id, why_wrong: str) -> str:
    """The checks every ledger entry starts with, as one line each: a mapping with an `id` (not a
    `wrong_id`), its `required` keys given, its section one of SECTIONS.  Returns the id."""
    if not isinstance(raw, dict) or not raw.get("id"):
        raise ValueError(f"every {kind} needs an `id` (got {raw!r:.80})")
    eid = raw["id"]
    if wrong_id(str(eid)):
        raise ValueError(f"{kind} {eid} {why_wrong}")
    missing = [k for k in required if raw.get(k) in (None, "", [])]
    if missing:
        raise ValueError(f"{kind} {eid} lacks {', '.join(missing)}")
    if required and raw["section"] not in SECTIONS:
        raise ValueError(f"{kind} {eid} has section {raw['section']!r}; use one of {', '.join(SECTIONS)}")
    return eid


def _names(value, owner: str):
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise ValueError(f"{owner} has `refuted_by` {value!r:.60}; make it a list of scenario names")
    return value


Text = Field(min_length=1, max_length=MAX_TEXT)


def _paragraph(value: str) -> str:
    """A `proposed:` text (the corrected article, claims/proposals.py): one paragraph, its spaces as one."""
    return " ".join(value.split())


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, str_max_length=MAX_TEXT)


class Finding(_Entry):
    """A recorded contradiction, known by its `id`: on `backend` (sim, macos, rehearsal or any) the
    scenario named `scenario` is expected to fail at its step `step` (the finding's own assertion),
    for the reason in `evidence`.  Only that step's AssertionError counts as the finding holding
    (claims/evidence.py); results carry the ID, never the scenario's name."""

    id: str = Text
    scenario: str = Text
    step: str = Text
    backend: str = "any"
    evidence: str = Text
    releases: str = ""          # optional version range for release-behaviour findings

    @field_validator("step")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return " ".join(value.split())

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in _backends():
            raise ValueError(f"backend {value!r} is not one of {', '.join(_backends())}")
        return value

    @field_validator("releases")
    @classmethod
    def _range(cls, value: str) -> str:
        return _releases(value, "the finding")

    def applies_to(self, backend: str) -> bool:
        return self.backend in ("any", backend)


class Review(_Entry):
    """A claim judged for what its sentence says (issue 33): what it asserts, what would make it false,
    the scenarios that show it, what kind of evidence they give (real, simulated or inferred), why the
    verdict is what it is (and why it changed, where it did), and the simulator assumptions a verdict
    reached on the simulator rests on (IDs of `keychain-claims assumptions`)."""

    asserts: str = Text
    false_if: str = Text
    shown_by: tuple[str, ...] = Field(default=(), max_length=MAX_ENTRIES)
    evidence_kind: Literal["real", "simulated", "inferred"]
    why: str = Text
    rests_on: tuple[str, ...] = Field(default=(), max_length=MAX_ENTRIES)


class Claim(_Entry):
    id: str = Text
    section: str
    quote: str = Text
    statement: str = Text
    evidence: str
    findings: tuple[Finding, ...] = Field(default=(), max_length=MAX_ENTRIES)
    note: str = ""
    refuted_by: tuple[str, ...] = Field(default=(), max_length=MAX_ENTRIES)   # scenarios tagged @refutes:<id> (checked by coverage)
    review: Review | None = None
    proposed: str = Field(default="", max_length=MAX_TEXT)   # what the article should say instead (@proposes:<id>)
    kind: ClassVar[str] = "claim"

    @field_validator("proposed")
    @classmethod
    def _one_paragraph(cls, value: str) -> str:
        return _paragraph(value)

    @property
    def rests_on(self) -> tuple[str, ...]:
        """The simulator assumptions a verdict reached on the simulator rests on (the review's)."""
        return self.review.rests_on if self.review is not None else ()

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, raw):
        cid = _entry(raw, "claim", ("section", "quote", "statement", "evidence"),
                     lambda cid: cid.startswith(OMISSION_PREFIX),
                     f"starts with {OMISSION_PREFIX}, which names omissions; list it under `omissions:` or rename it")
        if raw["evidence"] not in EVIDENCE:
            raise ValueError(f"claim {cid} has evidence {raw['evidence']!r}; use one of {', '.join(EVIDENCE)}")
        if raw.get("findings") is not None and not isinstance(raw["findings"], list):
            raise ValueError(f"claim {cid} has `findings` {raw['findings']!r:.60}; make it a list of "
                             "{scenario: …, backend: …, evidence: …}")
        return {**raw, "refuted_by": _names(raw.get("refuted_by"), f"claim {cid}"),
                "findings": raw.get("findings") or (), "note": raw.get("note") or ""}


class Source(_Entry):
    """One public address and what it shows."""

    address: str = Field(pattern=r"^https://\S+$", max_length=2000)
    shows: str = Text

    @field_validator("shows")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("`shows` is empty")
        return " ".join(value.split())


class Omission(_Entry):
    """A cause the article does not name: where it should have said it, what, and the public
    reports that show it.  No `quote` (the article does not say it) and no findings."""

    id: str = Text
    section: str
    statement: str = Text
    evidence: tuple[Source, ...] = Field(min_length=1, max_length=MAX_ENTRIES)
    releases: str = ""
    anchor: str = ""                                  # a span of `section` the margin note attaches to
    note: str = ""
    refuted_by: tuple[str, ...] = Field(default=(), max_length=MAX_ENTRIES)
    findings: tuple = ()                              # omissions have none; kept so links treat both alike
    proposed: str = Field(default="", max_length=MAX_TEXT)   # the paragraph to add at `anchor` (@proposes:<id>)
    kind: ClassVar[str] = "omission"

    @field_validator("proposed")
    @classmethod
    def _one_paragraph(cls, value: str) -> str:
        return _paragraph(value)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, raw):
        oid = _entry(raw, "omission", (), lambda oid: not oid.startswith(OMISSION_PREFIX),
                     f"needs an ID starting with {OMISSION_PREFIX}")
        if "quote" in raw:
            raise ValueError(f"omission {oid} has a `quote`; an omission is what the article "
                             "does not say — use `anchor` for where the note goes, or list it under `claims:`")
        if "findings" in raw:
            raise ValueError(f"omission {oid} has `findings`; an omission has none (its scenarios are its evidence)")
        _entry(raw, "omission", ("section", "statement", "evidence"), lambda oid: False, "")
        evidence = raw["evidence"]
        if not isinstance(evidence, list) or not all(
                isinstance(e, dict) and isinstance(e.get("address"), str) and e["address"].startswith("https://")
                and isinstance(e.get("shows"), str) and e["shows"].strip() for e in evidence):
            raise ValueError(f"omission {oid} needs `evidence` as a list of {{address: https://…, shows: what it shows}}")
        releases = raw.get("releases")
        releases = _releases(str(releases) if isinstance(releases, (int, float)) else releases or "", f"omission {oid}")
        statement = raw["statement"]
        return {**raw, "releases": releases, "anchor": raw.get("anchor") or "", "note": raw.get("note") or "",
                "statement": " ".join(statement.split()) if isinstance(statement, str) else statement,
                "refuted_by": _names(raw.get("refuted_by"), f"omission {oid}")}


class LedgerFile(BaseModel):
    """The ledger file as a whole."""
    model_config = ConfigDict(frozen=True, extra="forbid")

    article: str = ""
    claims: tuple[Claim, ...] = Field(min_length=1, max_length=MAX_ENTRIES)
    omissions: tuple[Omission, ...] = Field(default=(), max_length=MAX_ENTRIES)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, raw):
        if not isinstance(raw, dict) or not isinstance(raw.get("claims"), list):
            raise ValueError("needs a top-level `claims:` list")
        if raw.get("omissions") is not None and not isinstance(raw["omissions"], list):
            raise ValueError("`omissions:` must be a list of entries with id, section, statement and evidence")
        return {**raw, "omissions": raw.get("omissions") or ()}

    @model_validator(mode="after")
    def _unique(self):
        seen: set[str] = set()
        entries: tuple[Claim | Omission, ...] = (*self.claims, *self.omissions)
        for entry in entries:
            if entry.id in seen:
                raise ValueError(f"{entry.kind} {entry.id} is listed twice")
            seen.add(entry.id)
        findings: set[str] = set()
        for claim in self.claims:
            for finding in claim.findings:
                if finding.id in findings:
                    raise ValueError(f"finding {finding.id} is listed twice; give each finding its own id")
                findings.add(finding.id)
        return self


class _Loader(yaml.SafeLoader):
    """Safe YAML without the two ways a small file becomes a big or a wrong document: aliases
    (`*a`, the billion-laughs bomb) and a key given twice (the second silently wins); nesting is
    bounded too (a deep file exhausts the parser's recursion)."""
    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(event.start_mark, f"uses a YAML alias (*{event.anchor}); write the value out")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused(self.peek_event().start_mark, f"is nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                raise _Refused(key_node.start_mark, f"gives the key `{key}` twice; keep one")
            seen.add(key)
        return super().construct_mapping(node, deep)


class _Refused(Exception):
    def __init__(self, mark, why: str):
        super().__init__(f"line {mark.line + 1} {why}")


def _where(loc: tuple, data) -> str:
    """('claims', 3, 'findings', 0, 'scenario') -> 'claim CAU-X, findings[0].scenario'."""
    parts: list[str] = []
    node = data
    for n, key in enumerate(loc):
        if isinstance(key, int) and n and loc[n - 1] in ("claims", "omissions"):
            entry = node[key] if isinstance(node, list) and key < len(node) else None
            name = entry.get("id") if isinstance(entry, dict) else None
            parts[-1] = f"{'claim' if loc[n - 1] == 'claims' else 'omission'} {name or f'#{key + 1}'}"
        elif isinstance(key, int):
            parts[-1] += f"[{key}]"
        else:
            parts.append(str(key))
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
    return ", ".join(parts[:1] + [".".join(parts[1:])] if len(parts) > 1 else parts)


def _first_error(exc: ValidationError, data) -> str:
    """The first problem pydantic found, as one line that names the entry and the field."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(k for k in error["loc"] if not (isinstance(k, str) and k.startswith(("function-", "tuple["))))
    where = _where(loc, data)
    if error["type"] == "value_error":
        message = str(error["ctx"]["error"])
        return message if not where or message.startswith(("claim ", "omission ")) else f"{where}: {message}"
    if error["type"] == "extra_forbidden":
        owner = _where(loc[:-1], data) or "the top level"
        models: dict[str, type[BaseModel]] = {"claims": Claim, "omissions": Omission, "findings": Finding,
                                              "evidence": Source}
        model = models.get(next((k for k in reversed(loc[:-1]) if isinstance(k, str)), ""), LedgerFile)
        return f"{owner}: unknown key `{loc[-1]}`; the keys are {', '.join(model.model_fields)}"
    value = error.get("input")
    shown = f" (got {value!r:.60})" if error["type"] != "missing" and not isinstance(value, (dict, list)) else ""
    return f"{where}: {error['msg'][0].lower() + error['msg'][1:]}{shown}"


def parse(path: Path) -> LedgerFile:
    """The ledger file at `path`, read and checked against the model; LedgerError (one line) otherwise."""
    try:
        text = read_utf8(path, MAX_BYTES, "claims ledger")[1]
    except Unreadable as exc:
        raise LedgerError({
            "missing": f"claims ledger not found at {path}; restore it with `git checkout -- articles/`",
            "directory": f"claims ledger {path} is a directory; pass --ledger=<the .claims.yaml file>",
        }.get(exc.kind) or f"claims ledger {path} {exc.detail}; pass --ledger=<a readable .claims.yaml file>") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except _Refused as exc:
        raise LedgerError(f"claims ledger {path} {exc}; fix it or restore it from git") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise LedgerError(f"claims ledger {path}{where} is not valid YAML; fix it or restore it from git") from None
    try:
        return LedgerFile.model_validate(data)
    except ValidationError as exc:
        raise LedgerError(f"claims ledger {path}: {_first_error(exc, data)}") from None


class Ledger:
    def __init__(self, path: Path | str = DEFAULT_PATH):
        self.path = Path(path)
        doc = parse(self.path)
        self.claims: dict[str, Claim] = {c.id: c for c in doc.claims}
        self.omissions: dict[str, Omission] = {o.id: o for o in doc.omissions}

    def __getitem__(self, cid: str) -> Claim | Omission:
        """A claim or an omission, by ID (tags may name either)."""
        return self.claims[cid] if cid in self.claims else self.omissions[cid]

    def __contains__(self, cid: str) -> bool:
        return cid in self.claims or cid in self.omissions

    def __iter__(self):
        """The article's claims only; omissions are `self.omissions`, kept apart."""
        return iter(self.claims.values())

    def entries(self) -> list[Claim | Omission]:
        """Claims, then omissions: everything a tag may name."""
        return [*self.claims.values(), *self.omissions.values()]

    def unquoted(self, article: Article) -> list[Claim]:
        """Claims whose quoted span the rendered article no longer says (Article.says)."""
        return [c for c in self if not article.says(c.quote)]

    def unanchored(self, article: Article) -> list[Omission]:
        """Omissions whose `anchor` the rendered article no longer says."""
        return [o for o in self.omissions.values() if o.anchor and not article.says(o.anchor)]

    def findings_for(self, scenario: str, backend: str) -> list[tuple[Claim, Finding]]:
        return [(c, f) for c in self for f in c.findings if f.scenario == scenario and f.applies_to(backend)]

    def finding(self, fid: str) -> Finding | None:
        """A recorded contradiction by its ID."""
        return next((f for c in self for f in c.findings if f.id == fid), None)
