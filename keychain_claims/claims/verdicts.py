"""Per-run verdicts: scenario outcomes folded into one verdict per claim and backend,
written to reports/claims.json and reports/claims.md.

Outcomes arrive as pytest reports (also from xdist workers) carrying the user
properties `claims` and `backend` that plugin.py attaches to every scenario.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.redact import redact


@dataclass
class Outcome:
    nodeid: str
    scenario: str
    backend: str
    claims: list[str]
    result: str        # passed | failed | skipped | xfailed | xpassed
    reason: str = ""
    release: str = ""
    refutes: list[str] = field(default_factory=list)     # claims this scenario states the opposite of

    def result_for(self, claim: str) -> str:
        """The result as evidence about `claim`: a scenario that refutes the claim and passed is
        a contradiction (counted like a recorded one, xfailed); one that failed has stopped
        contradicting it (xpassed)."""
        if claim not in self.refutes:
            return self.result
        return {"passed": "xfailed", "failed": "xpassed"}.get(self.result, self.result)


@dataclass
class Verdict:
    claim: str
    section: str
    quote: str
    line: int | None
    evidence_kind: str
    backend: str
    simulated: bool
    verdict: str
    scenarios: list[dict] = field(default_factory=list)
    note: str = ""


def outcome_from_report(report) -> Outcome | None:
    """Build an Outcome from a TestReport (call phase, or a setup skip/failure)."""
    props = dict(report.user_properties)
    if "claims" not in props:
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
            reason = reason.removeprefix("Skipped: ")
        else:
            result = report.outcome
            reason = "" if report.passed else (report.longreprtext.strip().splitlines() or [""])[-1]
        if result == "failed" and report.when == "setup":
            reason = "setup: " + reason
        return Outcome(report.nodeid, props.get("scenario", ""), props["backend"], list(props["claims"]),
                       result, redact(reason)[:500], props.get("release", ""), list(props.get("refutes", [])))
    return None


def fold(results: list[str]) -> str:
    if "failed" in results:
        return "fails"
    if "xpassed" in results:
        return "no-longer-contradicted"
    if "xfailed" in results:
        return "contradicted"
    if "passed" in results:
        return "holds"
    return "not-checkable"


def compute(outcomes: list[Outcome], ledger: Ledger, article: Article, backends: dict[str, bool]) -> list[Verdict]:
    by_claim: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        for cid in o.claims:
            by_claim[(cid, o.backend)].append(o)
    verdicts = []
    for claim in ledger:
        for backend, simulated in sorted(backends.items()):
            seen = by_claim.get((claim.id, backend), [])
            verdict = fold([o.result_for(claim.id) for o in seen]) if seen else "not-checkable"
            note = claim.note
            if not seen:
                note = (note + " " if note else "") + "No scenario for this claim ran in this run."
            verdicts.append(Verdict(
                claim.id, claim.section, claim.quote, article.locate(claim.quote), claim.evidence, backend,
                simulated, verdict,
                [{"scenario": o.scenario, "nodeid": o.nodeid, "result": o.result, "reason": o.reason,
                  "polarity": "refutes" if claim.id in o.refutes else "supports",
                  **({"release": o.release} if o.release else {})} for o in seen],
                note.strip()))
    return verdicts


def write(verdicts: list[Verdict], out_dir: Path, article: Article, backends: dict[str, str]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"article": str(article.path.name), "article_sha256": article.sha256,
           "backends": backends, "claims": [asdict(v) for v in verdicts]}
    json_path, md_path = out_dir / "claims.json", out_dir / "claims.md"
    _atomic_write(json_path, redact(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n")
    _atomic_write(md_path, redact(render_markdown(verdicts, article, backends)))
    return json_path, md_path


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


MARK = {"holds": "holds", "contradicted": "CONTRADICTED (recorded)", "fails": "FAILS",
        "no-longer-contradicted": "NO LONGER CONTRADICTED", "not-checkable": "not checkable"}


def render_markdown(verdicts: list[Verdict], article: Article, backends: dict[str, str]) -> str:
    lines = [f"# Claims of `{article.path.name}`", "",
             f"Article sha256 `{article.sha256[:16]}`.  Backends: "
             + ", ".join(f"**{name}** ({label})" for name, label in backends.items()) + ".", "",
             "A verdict on a simulated backend is evidence about the model of macOS, not about macOS.", "",
             "| claim | line | section | backend | verdict | evidence |", "|---|---|---|---|---|---|"]
    for v in verdicts:
        why = "; ".join(f"{s['result']}: {s['scenario']}" + (f" — {s['reason']}" if s["reason"] else "")
                        for s in v.scenarios) or v.note
        backend = f"{v.backend} ({'simulated' if v.simulated else 'real'})"
        lines.append(f"| {v.claim} | {v.line or '?'} | {v.section} | {backend} | {MARK[v.verdict]} | "
                     f"{why.replace('|', '/').replace(chr(10), ' ')} |")
    counts = defaultdict(int)
    for v in verdicts:
        counts[v.verdict] += 1
    lines += ["", "Totals: " + ", ".join(f"{MARK[k]}: {n}" for k, n in sorted(counts.items())), ""]
    return "\n".join(lines)
