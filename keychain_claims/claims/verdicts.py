"""Per-run verdicts: scenario outcomes folded into one verdict per claim and backend
(reports/markdown.py writes them to reports/claims.json and reports/claims.md).

Outcomes arrive as pytest reports (also from xdist workers) carrying the user
properties `claims` and `backend` that the plugins (keychain_claims/plugins/) attach to every scenario.

Every verdict says how much of it was checked (`coverage`: scenarios that ran of those
collected, and why the others skipped) and what produced its evidence (`provenance`: real,
simulated, emulated, predicted, fingerprint -- defined in claims/outcomes.py).
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import field

from pydantic import computed_field
from pydantic.dataclasses import dataclass

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import OMISSION_PREFIX, Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.verdict import OmissionVerdict, Verdict
from keychain_claims.claims.release_order import in_releases, release_key


@dataclass
class ClaimVerdict:
    """One claim's verdict on one backend: a row of claims.json (claims/files.py)."""
    claim: str
    section: str
    quote: str
    line: int | None
    evidence_kind: str
    backend: str
    simulated: bool
    verdict: Verdict
    scenarios: list[dict] = field(default_factory=list)
    note: str = ""
    statement: str = ""
    coverage: dict = field(default_factory=dict)     # {"ran": n, "total": m, "skipped": [{"scenario", "reason"}]}
    provenance: dict = field(default_factory=dict)   # kind -> scenarios that ran with evidence of that kind
    releases: dict = field(default_factory=dict)     # release -> verdict of its own scenarios (polarity folded)
    release_cells: dict = field(default_factory=dict)  # release -> that verdict with how much of the release ran
    findings: list[str] = field(default_factory=list)  # the ledger's evidence for its recorded contradictions
    why: str = ""                                    # one short sentence
    rests_on: list[str] = field(default_factory=list)  # simulator assumptions a simulated verdict rests on

    @computed_field       # type: ignore[prop-decorator]
    @property
    def summary(self) -> str:
        """'holds — 2 of 3 scenarios ran; 1 skipped: why'."""
        return f"{self.verdict} — {coverage_text(self.coverage)}"


def fold(results: list[str]) -> Verdict:
    if "failed" in results:
        return Verdict.FAILS
    if "xpassed" in results:
        return Verdict.NO_LONGER_CONTRADICTED
    if "xfailed" in results:
        return Verdict.CONTRADICTED
    if "passed" in results:
        return Verdict.HOLDS
    return Verdict.NOT_CHECKABLE


def scenario_verdict(outcome: Outcome) -> Verdict:
    """One scenario's own verdict: its results as evidence about each claim it links, folded
    (omissions it links have their own verdict: `omission_result`)."""
    return fold([outcome.result_for(cid) for cid in outcome.claims if not cid.startswith(OMISSION_PREFIX)])


def coverage_of(seen: list[Outcome]) -> dict:
    skipped = [{"scenario": o.name, "reason": o.reason} for o in seen if not o.ran]
    return {"ran": sum(o.ran for o in seen), "total": len(seen), "skipped": skipped}


def coverage_text(coverage: dict, skipped_as: str = "skipped") -> str:
    """'2 of 3 scenarios ran; 1 skipped: why' (reasons shared by several skips are given once)."""
    ran, total = coverage.get("ran", 0), coverage.get("total", 0)
    text = f"{ran} of {total} scenario{'s' if total != 1 else ''} ran"
    skipped = coverage.get("skipped", [])
    if skipped:
        text += f"; {len(skipped)} {skipped_as}: " + "; ".join(skip_reasons(coverage))
    return text


def skip_reasons(coverage: dict) -> list[str]:
    """The distinct reasons a coverage's skipped scenarios give, each in its first sentence."""
    return list(dict.fromkeys(first_sentence(_not_checkable_prefix.sub("", s["reason"])) or "no reason given"
                              for s in coverage.get("skipped", [])))


_not_checkable_prefix = re.compile(r"^not checkable:\s*", re.IGNORECASE)


def release_cell(seen: list[Outcome], claim: str) -> tuple[Verdict, str]:
    """A claim's verdict on one release and how much of the release was exercised for it:
    ('holds', 'holds — 3 of 4 scenarios ran; 1 not checkable: why').  A scenario the harness
    could not exercise on the release is a skip (never a failure), so it only lowers the count."""
    verdict = fold([o.result_for(claim) for o in seen])
    return verdict, f"{verdict} — {coverage_text(coverage_of(seen), 'not checkable')}"


def first_sentence(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    text = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0].rstrip(".;")
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]                       # at a word's end, never inside a word
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(",;:—- ") + " …"


def evidence_text(outcome: Outcome, claim: str, findings: dict[str, str] | None = None) -> str:
    """What one scenario says about one claim, in a sentence (`findings`: the claim's recorded
    findings' evidence by finding ID; a recorded contradiction quotes the findings that held)."""
    result = outcome.result_for(claim)
    if claim in outcome.refutes:
        if outcome.result == "passed":
            return f"{claim}: contradicted — this scenario states what contradicts the claim, and it passed"
        if outcome.result == "failed":
            return f"{claim}: no longer contradicted — this refutation failed: {outcome.reason}"
    if result == "xfailed":
        held = [(findings or {}).get(fid) for fid in outcome.findings]
        evidence = " ".join(e for e in held if e) or outcome.reason
        return f"{claim}: contradicted — recorded finding still holds: {evidence}"
    if result == "xpassed":
        return f"{claim}: no longer contradicted — the recorded finding's scenario passed"
    if result == "failed":
        return f"{claim}: fails — {outcome.reason or 'the scenario failed'}"
    if result == "skipped":
        return f"{claim}: not checkable here — {outcome.reason or 'skipped'}"
    return f"{claim}: holds — this scenario states the claim, and it passed"


def _why(verdict: Verdict, claim, seen: list[Outcome]) -> str:
    if verdict == Verdict.CONTRADICTED:
        refuting = [o for o in seen if claim.id in o.refutes and o.result == "passed"]
        recorded = [f.evidence for f in claim.findings
                    if any(f.id in o.findings and o.result == "xfailed" for o in seen)]
        if recorded:
            return first_sentence(recorded[0])
        if refuting:
            return f"refuted: “{refuting[0].name}” passed"
    if verdict in (Verdict.FAILS, Verdict.NO_LONGER_CONTRADICTED):
        bad = [o for o in seen if o.result_for(claim.id) in ("failed", "xpassed")]
        if bad:
            return first_sentence(f"“{bad[0].name}”: {bad[0].reason or bad[0].result}")
    if verdict == Verdict.HOLDS:
        passed = [o for o in seen if o.result_for(claim.id) == "passed"]
        return f"{len(passed)} scenario{'s' if len(passed) != 1 else ''} stating it passed"
    if seen:
        return first_sentence(seen[0].reason) or "skipped"
    return first_sentence(claim.note) or "no scenario for this claim ran in this run"


def in_order(outcomes: list[Outcome]) -> list[Outcome]:
    """The outcomes by node id (then release, backend): a verdict, its scenario list and its "why"
    come out the same whichever order the outcomes arrived in (xdist workers finish in any order)."""
    return sorted(outcomes, key=lambda o: (o.nodeid, o.release or "", o.backend))


def compute(outcomes: list[Outcome], ledger: Ledger, article: Article, backends: dict[str, bool]) -> list[ClaimVerdict]:
    by_claim: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in in_order(outcomes):
        if not o.provenance:        # built by hand, not from a report: the backend's kind
            o.provenance = ["simulated"] if backends.get(o.backend, True) else ["real"]
        for cid in o.claims:
            by_claim[(cid, o.backend)].append(o)
    verdicts = []
    for claim in ledger:
        findings = {f.id: f.evidence for f in claim.findings}
        for backend, simulated in sorted(backends.items()):
            seen = by_claim.get((claim.id, backend), [])
            verdict = fold([o.result_for(claim.id) for o in seen]) if seen else Verdict.NOT_CHECKABLE
            note = claim.note
            if not seen:
                note = (note + " " if note else "") + "No scenario for this claim ran in this run."
            by_release: dict[str, list[Outcome]] = defaultdict(list)
            for o in seen:
                if o.release:
                    by_release[o.release].append(o)
            verdicts.append(ClaimVerdict(
                claim.id, claim.section, claim.quote, article.locate(claim.quote), claim.evidence, backend,
                simulated, verdict,
                [{"scenario": o.name, "template": o.scenario, "nodeid": o.nodeid, "result": o.result,
                  "reason": o.reason, "polarity": "refutes" if claim.id in o.refutes else "supports",
                  "provenance": o.provenance, "evidence": evidence_text(o, claim.id, findings),
                  **({"example": o.example} if o.example else {}),
                  **({"release": o.release} if o.release else {})} for o in seen],
                note.strip(), claim.statement, coverage_of(seen),
                dict(Counter(p for o in seen if o.ran for p in o.provenance)),
                {r: fold([o.result_for(claim.id) for o in by_release[r]])
                 for r in sorted(by_release, key=release_key)},
                {r: release_cell(by_release[r], claim.id)[1] for r in sorted(by_release, key=release_key)},
                [f.evidence for f in claim.findings if f.applies_to(backend)],
                *_resting(verdict, claim, simulated, _why(verdict, claim, seen))))
    return verdicts


def suite_failures(outcomes: list[Outcome]) -> list[dict]:
    """Scenarios that failed without linking any claim or omission: no verdict can hold them, so
    they are the suite's own failures (a scenario missing its tag, a broken step) and every table
    reports them apart -- never a silent "0 fails"."""
    return [{"scenario": o.name, "nodeid": o.nodeid, "result": o.result, "reason": o.reason}
            for o in outcomes if not o.claims and o.result in ("failed", "xpassed")]


PROBE = "keychain-claims assumptions --settle --backend macos"


def _resting(verdict: Verdict, claim, simulated: bool, why: str) -> tuple[str, list[str]]:
    """(why, the assumptions): a verdict reached on a simulated backend names the simulator assumptions
    it rests on (the ledger's `review.rests_on`) and the probe that settles them on a Mac."""
    if not simulated or verdict == Verdict.NOT_CHECKABLE or not claim.rests_on:
        return why, []
    return f"{why}; rests on simulator assumption {', '.join(claim.rests_on)} (probe: `{PROBE}`)", list(claim.rests_on)


def counts(verdicts: list[ClaimVerdict]) -> dict[str, int]:
    """How many claims got each verdict, in the ledger's order of verdicts."""
    found = Counter(v.verdict for v in verdicts)
    return {k.value: found.get(k, 0) for k in Verdict}


# ---------------------------------------------------------------- omissions: what the article misses
# An omission (ledger `omissions:`) is a cause the article does not name.  Its scenarios state the
# cause (@supports:OMI-…) or what would show it absent (@refutes:OMI-…); per backend its verdict is
# an OmissionVerdict (claims/verdict.py; claims.json carries the definitions, claims.md prints them).
NO_SCENARIO_YET = "no scenario yet: no scenario is tagged @supports:{id} or @refutes:{id}"


@dataclass
class OmittedCauseVerdict:
    """One omission's verdict on one backend: a row of claims.json's `omissions` (claims/files.py)."""
    omission: str
    section: str
    anchor: str
    line: int | None                   # article line of the anchor (where the note goes)
    statement: str
    evidence: list[dict]               # [{"address", "shows"}]
    release_range: str                 # the ledger's `releases`: the releases it is reported for
    backend: str
    simulated: bool
    verdict: OmissionVerdict
    scenarios: list[dict] = field(default_factory=list)
    coverage: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    releases: dict = field(default_factory=dict)      # release -> verdict of its own scenarios
    why: str = ""

    @computed_field       # type: ignore[prop-decorator]
    @property
    def summary(self) -> str:
        return f"{self.verdict} — {coverage_text(self.coverage)}"


def omission_result(outcome: Outcome, oid: str) -> OmissionVerdict | None:
    """What one scenario says about an omission: "reproduced", "not reproduced", or None (it did
    not run).  Polarity folded: a @refutes:OMI-… scenario that passed shows the cause absent."""
    if outcome.result == "skipped":
        return None
    passed = outcome.result in ("passed", "xpassed")        # its steps passed (xpassed: a strict xfail did)
    return OmissionVerdict.REPRODUCED if passed != (oid in outcome.refutes) else OmissionVerdict.NOT_REPRODUCED


def fold_omission(results: list[str | None]) -> OmissionVerdict:
    """A scenario that ran and did not show the cause outweighs one that did (the same strictness
    as a claim's `fails`): someone has to look at it."""
    if OmissionVerdict.NOT_REPRODUCED in results:
        return OmissionVerdict.NOT_REPRODUCED
    if OmissionVerdict.REPRODUCED in results:
        return OmissionVerdict.REPRODUCED
    return OmissionVerdict.NOT_CHECKABLE


def _omission_why(verdict: OmissionVerdict, omission, seen: list[Outcome], ignored: list[Outcome]) -> str:
    if not seen and not ignored:
        return NO_SCENARIO_YET.format(id=omission.id)
    if verdict == OmissionVerdict.REPRODUCED:
        shown = [o for o in seen if omission_result(o, omission.id) == OmissionVerdict.REPRODUCED]
        return f"{len(shown)} scenario{'s' if len(shown) != 1 else ''} showed it: “{shown[0].name}”"
    if verdict == OmissionVerdict.NOT_REPRODUCED:
        bad = next(o for o in seen if omission_result(o, omission.id) == OmissionVerdict.NOT_REPRODUCED)
        return first_sentence(f"“{bad.name}”: {bad.reason or bad.result}")
    if ignored and not seen:
        return (f"its scenarios ran only on releases outside {omission.releases} "
                f"({', '.join(sorted({o.release for o in ignored}, key=release_key))})")
    return first_sentence(seen[0].reason) or "skipped"


def compute_omissions(outcomes: list[Outcome], ledger: Ledger, article: Article,
                      backends: dict[str, bool]) -> list[OmittedCauseVerdict]:
    """One verdict per omission and backend, apart from the claims' (compute): releases outside the
    omission's `releases` are shown per release but do not count towards its verdict."""
    by_entry: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in in_order(outcomes):
        if not o.provenance:
            o.provenance = ["simulated"] if backends.get(o.backend, True) else ["real"]
        for cid in o.claims:
            if cid in ledger.omissions:
                by_entry[(cid, o.backend)].append(o)
    found = []
    for omission in ledger.omissions.values():
        for backend, simulated in sorted(backends.items()):
            linked = by_entry.get((omission.id, backend), [])
            seen = [o for o in linked if not (o.release and omission.releases and not in_releases(o.release, omission.releases))]
            ignored = [o for o in linked if o not in seen]
            verdict = fold_omission([omission_result(o, omission.id) for o in seen])
            by_release: dict[str, list[Outcome]] = defaultdict(list)
            for o in linked:
                if o.release:
                    by_release[o.release].append(o)
            found.append(OmittedCauseVerdict(
                omission.id, omission.section, omission.anchor,
                article.locate(omission.anchor) if omission.anchor else None, omission.statement,
                [{"address": e.address, "shows": e.shows} for e in omission.evidence], omission.releases,
                backend, simulated, verdict,
                [{"scenario": o.name, "template": o.scenario, "nodeid": o.nodeid, "result": o.result,
                  "reason": o.reason, "polarity": "refutes" if omission.id in o.refutes else "supports",
                  "provenance": o.provenance, "omission_result": omission_result(o, omission.id) or "skipped",
                  "counted": o in seen, **({"release": o.release} if o.release else {})} for o in linked],
                coverage_of(seen), dict(Counter(p for o in seen if o.ran for p in o.provenance)),
                {r: fold_omission([omission_result(o, omission.id) for o in by_release[r]])
                 for r in sorted(by_release, key=release_key)},
                _omission_why(verdict, omission, seen, ignored)))
    return found


def omission_counts(omissions: list[OmittedCauseVerdict]) -> dict[str, int]:
    found = Counter(v.verdict for v in omissions)
    return {k.value: found.get(k, 0) for k in OmissionVerdict}
