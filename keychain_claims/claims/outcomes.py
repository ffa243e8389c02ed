"""A scenario's run data: what a run (or an xdist worker) records about each scenario, and the
one reading of it -- the `user_properties` keys the plugins and steps write (`Prop`), and the
`Outcome` built from a pytest report that the verdict fold (claims/verdicts.py), the release
matrix, the merge and the Allure labels all read.

What produced a scenario's evidence (`provenance`):
  real       -- the real macOS `security` (or a real release) answered
  simulated  -- the simulator `keychain-sim` answered
  emulated   -- a dialog answer was applied without a dialog (its documented effect)
  predicted  -- derived from the item's ACL view, not observed
  fingerprint -- read from a release's code
A scenario's pytest item may carry the user property ("provenance", [...]); without one
it is "simulated" on a simulated backend and "real" otherwise (`provenance_kind`, backends/__init__.py).
"""
from __future__ import annotations

import re
from dataclasses import field

from pydantic.dataclasses import dataclass

from keychain_claims.backends import provenance_kind
from keychain_claims.redact import redact


class Prop:
    """The keys of the `user_properties` a scenario's report carries: written by the plugins
    (keychain_claims/plugins/), the fixtures and the steps, read back by `outcome_from_report`
    and the release plugin.  One name each, so a writer and the reader cannot drift apart."""
    CLAIMS = "claims"                  # the ledger IDs the scenario links (claims and omissions)
    REFUTES = "refutes"                # those it links with @refutes
    PROPOSES = "proposes"              # the IDs whose proposed replacement it states (@proposes)
    BACKEND = "backend"                # the backend's name
    SIMULATED = "simulated"            # whether that backend is simulated
    SCENARIO = "scenario"              # the scenario's name (its template, <placeholders> kept)
    EXAMPLE = "example"                # the outline's example row
    FEATURE = "feature"                # the feature's name
    RELEASE = "release"                # the Claude Code release's version (NO_RELEASE without one)
    RELEASE_CACHE = "release-cache"    # a line the release cache said in an xdist worker
    PROVENANCE = "provenance"          # what produced the evidence (PROVENANCES), a list
    SECURITY_CALLS = "security_calls"  # how many times `security` ran in the scenario's sandbox
    RELEASE_WRITE_FORM = "release_write_form"       # how a release wrote the credential
    RELEASE_EXTRA_ITEMS = "release_extra_items"     # items a release left besides its own
    RELEASE_FALLBACK = "release_fallback"           # what a release did when its keychain write failed
    FINDINGS = "findings"              # the IDs of the ledger findings whose own assertion failed again
    FAULTS = "faults"                  # the rehearsal's injected faults that fired in it ("<fault>: <where>")


@dataclass
class Outcome:
    """One scenario's outcome on one backend (and release): a row of outcomes.json (claims/files.py)."""
    nodeid: str
    scenario: str
    backend: str
    claims: list[str]
    result: str        # passed | failed | skipped | xfailed | xpassed
    reason: str = ""
    release: str = ""
    refutes: list[str] = field(default_factory=list)     # claims this scenario states the opposite of
    provenance: list[str] = field(default_factory=list)  # real | simulated | emulated | predicted | fingerprint
    example: dict = field(default_factory=dict)          # the outline's example row, if any
    feature: str = ""
    findings: list[str] = field(default_factory=list)   # IDs of the recorded findings that held (xfailed)
    proposes: list[str] = field(default_factory=list)    # IDs whose proposed replacement it states

    @property
    def ran(self) -> bool:
        return self.result != "skipped"

    @property
    def name(self) -> str:
        """The scenario's name with its example values filled in (no <placeholders>)."""
        return render_name(self.scenario, self.example, self.release)

    def result_for(self, claim: str) -> str:
        """The result as evidence about `claim`: a scenario that refutes the claim and passed is
        a contradiction (counted like a recorded one, xfailed); one that failed has stopped
        contradicting it (xpassed)."""
        if claim not in self.refutes:
            return self.result
        return {"passed": "xfailed", "failed": "xpassed"}.get(self.result, self.result)




NO_RELEASE = "no-release"        # the release id of a release scenario run without --claude-code
PROVENANCES = ("real", "simulated", "emulated", "predicted", "fingerprint")


def render_name(template: str, example: dict, release: str = "") -> str:
    """The scenario's name with its example row filled in; values the name does not show (they
    tell two rows apart) and the release follow in brackets."""
    name = re.sub(r"<([^<>]+)>", lambda m: str(example.get(m.group(1), m.group(0))), template)
    rest = [f"{k}: {v}" for k, v in example.items() if f"<{k}>" not in template]
    tail = "; ".join(rest + ([release] if release else []))
    return f"{name} [{tail}]" if tail else name


def provenance_of(props: list[tuple], simulated: bool) -> list[str]:
    """What produced a scenario's evidence: every ("provenance", [...]) property the scenario
    set (the union), else the backend's kind."""
    found: list[str] = []
    for key, value in props:
        if key == Prop.PROVENANCE:
            found += [v for v in ([value] if isinstance(value, str) else value) if v not in found]
    return found or [provenance_kind(simulated)]


def outcome_from_report(report) -> Outcome | None:
    """Build an Outcome from a TestReport (call phase, or a setup skip/failure)."""
    props = dict(report.user_properties)
    if Prop.CLAIMS not in props:
        return None
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if report.failed and str(report.longrepr).startswith("[XPASS(strict)]"):
            result, reason = "xpassed", str(report.longrepr)
        elif hasattr(report, "wasxfail"):
            result = "xfailed" if report.skipped else "xpassed"
            reason = report.wasxfail
        elif report.skipped:
            result = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = re.sub(r"^(?:[\w.]+\.)?\w*Skipped: ", "", reason)    # also a subclass: BackendSkipped
        else:
            result = report.outcome
            reason = "" if report.passed else (report.longreprtext.strip().splitlines() or [""])[-1]
        if result == "failed" and report.when == "setup":
            reason = "setup: " + reason
        release = props.get(Prop.RELEASE, "")
        release = "" if release == NO_RELEASE else release
        return Outcome(report.nodeid, props.get(Prop.SCENARIO, ""), props[Prop.BACKEND], list(props[Prop.CLAIMS]),
                       result, redact(reason)[:500], release, list(props.get(Prop.REFUTES, [])),
                       provenance_of(report.user_properties, bool(props.get(Prop.SIMULATED, True))),
                       dict(props.get(Prop.EXAMPLE) or {}), props.get(Prop.FEATURE, ""),
                       list(props.get(Prop.FINDINGS) or []) if result == "xfailed" else [],
                       list(props.get(Prop.PROPOSES, [])))
    return None
