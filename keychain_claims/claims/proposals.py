"""The corrected article: the ledger's proposed replacement for each contradicted claim and the proposed
paragraph for each omission (`proposed:` beside its finding), checked like a claim.

A proposal is *supported* on a run when the scenarios tagged @proposes:<ID> that ran all passed (at least
one ran); *not supported* when one that ran failed; *not checkable* when none ran.  It is *in* the corrected
article only while its entry still needs it -- a claim contradicted on some backend, an omission reproduced
-- and while it is supported: the day its finding stops holding, or its own scenario fails, it is left out
and says why.  claims.json carries every proposal (`proposals`); reports/proposed.py writes
article.proposed.md from the ones that are in."""
from __future__ import annotations

from dataclasses import field

from pydantic.dataclasses import dataclass

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Claim, Ledger, Omission
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.verdict import OmissionVerdict, Verdict
from keychain_claims.claims.release_order import release_key

SUPPORTED, NOT_SUPPORTED, NOT_CHECKABLE = "supported", "not supported", "not-checkable"


@dataclass
class ProposalView:
    """One entry's proposed correction: a row of claims.json's `proposals` (claims/files.py)."""
    id: str
    kind: str                  # claim | omission
    section: str
    line: int | None           # where in the article (the claim's sentence, or the omission's anchor)
    stands: str                # the claim's sentence as it stands, or the omission's anchor
    text: str                  # the proposed replacement, or the paragraph to add
    entry_verdict: str         # the claim's (or omission's) worst verdict over the run's backends
    support: str               # supported | not supported | not-checkable
    included: bool
    why: str                   # why it is in the corrected article, or why not
    scenarios: list[dict] = field(default_factory=list)    # the @proposes scenarios and their results
    releases: list[str] = field(default_factory=list)      # the releases on which a scenario of it passed
    backends: list[str] = field(default_factory=list)      # the backends on which a scenario of it passed
    findings: list[str] = field(default_factory=list)      # the ledger's evidence for the contradiction
    sources: list[dict] = field(default_factory=list)      # public addresses (an omission's evidence)


def support_of(seen: list[Outcome]) -> str:
    ran = [o.result for o in seen if o.ran]
    if not ran:
        return NOT_CHECKABLE
    return SUPPORTED if all(r == "passed" for r in ran) else NOT_SUPPORTED


def compute_proposals(outcomes: list[Outcome], ledger: Ledger, article: Article, verdicts, omissions) -> list[ProposalView]:
    """One view per ledger entry with a `proposed:` text, from the run's outcomes and its verdicts."""
    worst: dict[str, str] = {}
    for v in verdicts:
        if v.claim not in worst or Verdict(v.verdict).rank < Verdict(worst[v.claim]).rank:
            worst[v.claim] = v.verdict
    for v in omissions:
        if v.omission not in worst or OmissionVerdict(v.verdict).rank < OmissionVerdict(worst[v.omission]).rank:
            worst[v.omission] = v.verdict
    views = []
    for entry in ledger.entries():
        if not entry.proposed:
            continue
        seen = [o for o in outcomes if entry.id in o.proposes]
        support = support_of(seen)
        verdict = worst.get(entry.id, Verdict.NOT_CHECKABLE.value)
        needed = verdict == (Verdict.CONTRADICTED if entry.kind == "claim" else OmissionVerdict.REPRODUCED)
        if not needed:
            why = (f"left out: the {entry.kind} is {verdict} in this run"
                   + (" — its finding stopped holding; update the ledger" if verdict == Verdict.NO_LONGER_CONTRADICTED
                      else ""))
        elif support != SUPPORTED:
            why = f"left out: its own scenarios say {support}" + "".join(
                f"; “{o.name}” {o.result}{': ' + o.reason if o.reason else ''}" for o in seen if o.result != "passed")[:400]
        else:
            why = (f"the {entry.kind} is {verdict}, and every scenario stating the proposal that ran passed "
                   f"({sum(o.ran for o in seen)} of {len(seen)})")
        passed = [o for o in seen if o.result == "passed"]
        text = entry.quote if isinstance(entry, Claim) else entry.anchor     # where it sits in the article
        views.append(ProposalView(
            entry.id, entry.kind, entry.section,
            article.locate(text) if (isinstance(entry, Claim) or text) else None,
            " ".join(text.split()),
            entry.proposed, verdict, support, needed and support == SUPPORTED, why,
            [{"scenario": o.name, "nodeid": o.nodeid, "backend": o.backend, "release": o.release,
              "result": o.result, "reason": o.reason, "provenance": o.provenance} for o in seen],
            sorted({o.release for o in passed if o.release}, key=release_key),
            sorted({o.backend for o in passed}),
            [f.evidence for f in entry.findings],
            [{"address": s.address, "shows": s.shows} for s in (entry.evidence if isinstance(entry, Omission) else ())]))
    return views
