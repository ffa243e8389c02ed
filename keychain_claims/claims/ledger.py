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
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from keychain_claims.claims.article import DEFAULT_PATH as ARTICLE_PATH, Article

DEFAULT_PATH = ARTICLE_PATH.with_suffix(".claims.yaml")
SECTIONS = ("symptom", "cause", "triage", "fix-burst", "fix-reset", "fix-file-bypass", "caveats", "notes")
EVIDENCE = ("keychain-mechanics", "shell-recipe", "release-behaviour", "citation", "anecdote")
OMISSION_PREFIX = "OMI-"
_RELEASE_TERM = re.compile(r"^(>=|<=|==|>|<|=)?\d+(\.\d+)*$")


class LedgerError(Exception):
    """One-line, actionable reason the ledger cannot be used."""


@dataclass(frozen=True)
class Finding:
    """A recorded contradiction, known by its `id`: on `backend` (sim, macos or any) the scenario
    named `scenario` is expected to fail at its step `step` (the finding's own assertion), for the
    reason in `evidence`.  Only that step's AssertionError counts as the finding holding
    (claims/evidence.py); results carry the ID, never the scenario's name."""

    id: str
    scenario: str
    step: str
    backend: str
    evidence: str
    releases: str = ""          # optional version range for release-behaviour findings

    def applies_to(self, backend: str) -> bool:
        return self.backend in ("any", backend)


@dataclass(frozen=True)
class Claim:
    id: str
    section: str
    quote: str
    statement: str
    evidence: str
    findings: tuple[Finding, ...] = field(default=())
    note: str = ""
    refuted_by: tuple[str, ...] = field(default=())   # scenarios tagged @refutes:<id> (checked by coverage)
    kind = "claim"


@dataclass(frozen=True)
class Source:
    """One public address and what it shows."""

    address: str
    shows: str


@dataclass(frozen=True)
class Omission:
    """A cause the article does not name: where it should have said it, what, and the public
    reports that show it.  No `quote` (the article does not say it) and no findings."""

    id: str
    section: str
    statement: str
    evidence: tuple[Source, ...]
    releases: str = ""
    anchor: str = ""                                  # a span of `section` the margin note attaches to
    note: str = ""
    refuted_by: tuple[str, ...] = field(default=())
    findings: tuple = field(default=())               # omissions have none; kept so links treat both alike
    kind = "omission"


class Ledger:
    def __init__(self, path: Path | str = DEFAULT_PATH):
        self.path = Path(path)
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LedgerError(f"claims ledger not found at {self.path}; restore it with `git checkout -- articles/`") from None
        except IsADirectoryError:
            raise LedgerError(f"claims ledger {self.path} is a directory; pass --ledger=<the .claims.yaml file>") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise LedgerError(f"claims ledger {self.path} cannot be read ({getattr(exc, 'strerror', None) or exc}); "
                              "pass --ledger=<a readable .claims.yaml file>") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise LedgerError(f"claims ledger {self.path}{where} is not valid YAML; fix it or restore it from git") from None
        if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
            raise LedgerError(f"claims ledger {self.path} needs a top-level `claims:` list")
        self.claims: dict[str, Claim] = {}
        self._finding_ids: set[str] = set()
        for raw in data["claims"]:
            claim = self._parse(raw)
            if claim.id in self.claims:
                raise LedgerError(f"claims ledger {self.path}: claim {claim.id} is listed twice")
            self.claims[claim.id] = claim
        raw_omissions = data.get("omissions") or []
        if not isinstance(raw_omissions, list):
            raise LedgerError(f"claims ledger {self.path}: `omissions:` must be a list of entries with id, "
                              "section, statement and evidence")
        self.omissions: dict[str, Omission] = {}
        for raw in raw_omissions:
            omission = self._parse_omission(raw)
            if omission.id in self.omissions or omission.id in self.claims:
                raise LedgerError(f"claims ledger {self.path}: {omission.id} is listed twice")
            self.omissions[omission.id] = omission

    def _parse(self, raw: dict) -> Claim:
        if not isinstance(raw, dict) or not raw.get("id"):
            raise LedgerError(f"claims ledger {self.path}: every claim needs an `id` (got {raw!r:.80})")
        cid = raw["id"]
        if str(cid).startswith(OMISSION_PREFIX):
            raise LedgerError(f"claims ledger: claim {cid} starts with {OMISSION_PREFIX}, which names omissions; "
                              "list it under `omissions:` or rename it")
        missing = [k for k in ("section", "quote", "statement", "evidence") if not raw.get(k)]
        if missing:
            raise LedgerError(f"claims ledger {self.path}: claim {cid} lacks {', '.join(missing)}")
        if raw["section"] not in SECTIONS:
            raise LedgerError(f"claims ledger: claim {cid} has section {raw['section']!r}; use one of {', '.join(SECTIONS)}")
        if raw["evidence"] not in EVIDENCE:
            raise LedgerError(f"claims ledger: claim {cid} has evidence {raw['evidence']!r}; use one of {', '.join(EVIDENCE)}")
        findings = tuple(self._parse_finding(cid, f) for f in raw.get("findings") or ())
        refuted_by = raw.get("refuted_by") or []
        if not isinstance(refuted_by, list) or not all(isinstance(n, str) for n in refuted_by):
            raise LedgerError(f"claims ledger: claim {cid} has `refuted_by` {refuted_by!r:.60}; "
                              "make it a list of scenario names")
        return Claim(cid, raw["section"], raw["quote"], raw["statement"], raw["evidence"], findings,
                     raw.get("note", ""), tuple(refuted_by))

    def _parse_finding(self, cid: str, raw) -> Finding:
        missing = [k for k in ("id", "scenario", "step", "evidence")
                   if not (isinstance(raw, dict) and isinstance(raw.get(k), str) and raw[k].strip())]
        if missing:
            raise LedgerError(f"claims ledger {self.path}: a finding of claim {cid} lacks {', '.join(missing)} "
                              "(each finding needs an id, the scenario, the step whose assertion it records "
                              "and its evidence)")
        fid = raw["id"]
        if fid in self._finding_ids:
            raise LedgerError(f"claims ledger {self.path}: finding {fid} is listed twice; give each finding its own id")
        self._finding_ids.add(fid)
        return Finding(fid, raw["scenario"], " ".join(raw["step"].split()), raw.get("backend", "any"),
                       raw["evidence"], str(raw.get("releases") or ""))

    def _parse_omission(self, raw) -> Omission:
        if not isinstance(raw, dict) or not raw.get("id"):
            raise LedgerError(f"claims ledger {self.path}: every omission needs an `id` (got {raw!r:.80})")
        oid = raw["id"]
        if not str(oid).startswith(OMISSION_PREFIX):
            raise LedgerError(f"claims ledger: omission {oid} needs an ID starting with {OMISSION_PREFIX}")
        if "quote" in raw:
            raise LedgerError(f"claims ledger: omission {oid} has a `quote`; an omission is what the article "
                              "does not say — use `anchor` for where the note goes, or list it under `claims:`")
        missing = [k for k in ("section", "statement", "evidence") if not raw.get(k)]
        if missing:
            raise LedgerError(f"claims ledger {self.path}: omission {oid} lacks {', '.join(missing)}")
        if raw["section"] not in SECTIONS:
            raise LedgerError(f"claims ledger: omission {oid} has section {raw['section']!r}; "
                              f"use one of {', '.join(SECTIONS)}")
        evidence = raw["evidence"]
        if not isinstance(evidence, list) or not all(
                isinstance(e, dict) and isinstance(e.get("address"), str) and e["address"].startswith("https://")
                and isinstance(e.get("shows"), str) and e["shows"].strip() for e in evidence):
            raise LedgerError(f"claims ledger: omission {oid} needs `evidence` as a list of "
                              "{address: https://…, shows: what it shows}")
        releases = str(raw.get("releases") or "")
        if releases and not all(_RELEASE_TERM.match(t) for t in releases.replace(",", " ").split()):
            raise LedgerError(f"claims ledger: omission {oid} has releases {releases!r}; "
                              "write comparators such as `>=2.1.199` or `>=2.1.113 <2.2`")
        refuted_by = raw.get("refuted_by") or []
        if not isinstance(refuted_by, list) or not all(isinstance(n, str) for n in refuted_by):
            raise LedgerError(f"claims ledger: omission {oid} has `refuted_by` {refuted_by!r:.60}; "
                              "make it a list of scenario names")
        return Omission(oid, raw["section"], " ".join(str(raw["statement"]).split()),
                        tuple(Source(e["address"], " ".join(e["shows"].split())) for e in evidence),
                        releases, str(raw.get("anchor") or ""), str(raw.get("note") or ""), tuple(refuted_by))

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
        """Omissions whose `anchor` no longer occurs in the article."""
        return [o for o in self.omissions.values() if o.anchor and not article.says(o.anchor)]

    def findings_for(self, scenario: str, backend: str) -> list[tuple[Claim, Finding]]:
        return [(c, f) for c in self for f in c.findings if f.scenario == scenario and f.applies_to(backend)]

    def finding(self, fid: str) -> Finding | None:
        """A recorded contradiction by its ID."""
        return next((f for c in self for f in c.findings if f.id == fid), None)
