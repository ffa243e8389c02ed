"""claims.json and claims.md: a run's verdicts (claims/verdicts.py folds them) as the table a
reader opens first and the JSON every other report (annotated article, Allure first screen,
merge) is built from.  A partial run writes claims.partial.* so the last complete table stays."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from keychain_claims import atomic
from keychain_claims.claims.article import Article
from keychain_claims.claims.verdict import CLAIM_VERDICTS, OMISSION_VERDICTS, OmissionVerdict, Verdict
from keychain_claims.backends import provenance_kind
from keychain_claims.claims.outcomes import PROVENANCES
from keychain_claims.claims.files import ClaimsTable
from keychain_claims.claims.verdicts import (ClaimVerdict, OmittedCauseVerdict, counts, coverage_text, first_sentence,
                                             omission_counts)
from keychain_claims.redact import redact


def write(verdicts: list[ClaimVerdict], out_dir: Path, article: Article, backends: dict[str, str],
          omissions: Sequence[OmittedCauseVerdict] = (), name: str = "claims", partial: str = "",
          failures: Sequence[dict] = (), proposals: Sequence = ()) -> tuple[Path, Path]:
    """`name`.json (the model claims/files.py) and `name`.md; a partial run (`partial` says why) writes claims.partial.*.
    `failures`: scenarios that failed without a claim (claims/verdicts.py, `suite_failures`); `proposals`
    (claims/proposals.py) go into the JSON as they are."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = ClaimsTable(article=str(article.path.name), article_sha256=article.sha256,
                        article_title=article_title(article), backends=backends, counts=counts(verdicts),
                        partial=partial, claim_verdicts=CLAIM_VERDICTS, claims=list(verdicts),
                        omission_verdicts=OMISSION_VERDICTS, omission_counts=omission_counts(list(omissions)),
                        omissions=list(omissions), suite_failures=list(failures), proposals=list(proposals))
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    atomic.write_text(json_path, redact(table.dumps()))
    note = f"> **Partial run** ({partial}): these verdicts cover only what ran; claims.md holds the last complete run's.\n\n"
    atomic.write_text(md_path, redact((note if partial else "") + render_markdown(verdicts, article, backends, list(omissions),
                                                                                   list(failures))))
    return json_path, md_path


def article_title(article: Article) -> str:
    """The article's own title (front matter `title:`, else its first heading), else its file name."""
    match = (re.search(r'^title:\s*"?(.*?)"?\s*$', article.text.split("\n---", 1)[0], re.M)
             if article.text.startswith("---") else None) or re.search(r"^# (.+)$", article.text, re.M)
    return match.group(1).strip() if match else article.path.name


RESULT = {"passed": "passed", "failed": "FAILED", "skipped": "skipped", "xfailed": "finding holds (xfail)",
          "xpassed": "finding stopped holding (XPASS)"}


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def provenance_text(provenance: dict) -> str:
    return ", ".join(f"{n} {kind}" for kind in PROVENANCES if (n := provenance.get(kind))) or "—"


def render_markdown(verdicts: list[ClaimVerdict], article: Article, backends: dict[str, str],
                    omissions: Sequence[OmittedCauseVerdict] = (), failures: Sequence[dict] = ()) -> str:
    total = counts(verdicts)
    lines = [f"# Claims of `{article.path.name}`", "", f"“{article_title(article)}”", "",
             f"Article sha256 `{article.sha256[:16]}`.  Backends: "
             + ", ".join(f"**{name}** ({label})" for name, label in backends.items()) + ".", "",
             "**" + ", ".join(f"{n} {k}" for k, n in total.items() if n) + "** "
             f"({len(verdicts)} claim{'s' if len(verdicts) != 1 else ''}).  "
             "A verdict on a simulated backend is evidence about the model of macOS, not about macOS; "
             "the evidence column says what produced it (real, simulated, emulated, predicted, fingerprint).", "",
             *suite_failures_markdown(list(failures))]
    lines += [f"- *{Verdict(k).label}*: {meaning}" for k, meaning in CLAIM_VERDICTS.items()]
    lines += ["", "| claim | verdict | why | ID | backend | releases | coverage | evidence |",
              "|---|---|---|---|---|---|---|---|"]
    for v in verdicts:
        backend = f"{v.backend} ({provenance_kind(v.simulated)})"
        releases = ", ".join(f"{r}: {x}" for r, x in v.releases.items()) or "—"
        cover = f"{v.coverage.get('ran', 0)} of {v.coverage.get('total', 0)} ran"
        lines.append(f"| {_cell(v.statement or ' '.join(v.quote.split()))} | {Verdict(v.verdict).mark} | {_cell(v.why)} | "
                     f"[{v.claim}](#{v.claim.lower()}) | {backend} | {releases} | {cover} | "
                     f"{provenance_text(v.provenance)} |")
    lines += _omissions_markdown(list(omissions))
    lines += ["", "## Scenarios per claim", ""]
    for v in verdicts:
        lines += [f"### {v.claim}", "", f"**{_cell(v.statement)}**" if v.statement else "", "",
                  f"{Verdict(v.verdict).mark} on {v.backend} — {coverage_text(v.coverage)}.  "
                  f"Article line {v.line or '?'} ({v.section}): “{_cell(' '.join(v.quote.split()))}”", ""]
        for finding in v.findings:
            lines.append(f"> Recorded finding: {' '.join(finding.split())}")
        if v.findings:
            lines.append("")
        for s in v.scenarios:
            polarity = "states what contradicts it" if s["polarity"] == "refutes" else "states it"
            reason = f" — {_cell(first_sentence(s['reason'], 200))}" if s["reason"] and s["result"] != "xfailed" else ""
            lines.append(f"- {RESULT.get(s['result'], s['result'])} ({'/'.join(s['provenance'])}, {polarity}): "
                         f"{_cell(s['scenario'])}{reason}")
        if not v.scenarios:
            lines.append(f"- {v.note}")
        lines.append("")
    return "\n".join(lines)


def suite_failures_markdown(failures: list[dict]) -> list[str]:
    """The suite's own failures (a failing scenario without a claim), above the claims' table."""
    if not failures:
        return []
    return [f"**SUITE FAILURE: {len(failures)} scenario{'s' if len(failures) != 1 else ''} failed without a claim** "
            "(no verdict can hold them: tag each with the claim it checks, or mend it):", "",
            *[f"- “{_cell(f['scenario'])}” ({f['nodeid']}): {_cell(first_sentence(f['reason']) or f['result'])}"
              for f in failures], ""]


def _omissions_markdown(omissions: list[OmittedCauseVerdict]) -> list[str]:
    """claims.md's section on what the article misses: kept apart from the claims' table and counts."""
    if not omissions:
        return []
    total = omission_counts(omissions)
    ids = list(dict.fromkeys(v.omission for v in omissions))
    lines = ["", "## What the article misses (omissions)", "",
             f"**{len(ids)} omission{'s' if len(ids) != 1 else ''}: "
             + ", ".join(f"{n} {k}" for k, n in total.items() if n) + "** (per omission and backend; "
             "not counted among the claims above).  Causes public reports show that the article does not name; "
             "each verdict says what this run's scenarios showed:", ""]
    lines += [f"- *{k}*: {meaning}" for k, meaning in OMISSION_VERDICTS.items()]
    lines += ["", "| omission | verdict | backend | reported for | releases | coverage | should be in | why |",
              "|---|---|---|---|---|---|---|---|"]
    for v in omissions:
        backend = f"{v.backend} ({provenance_kind(v.simulated)})"
        releases = ", ".join(f"{r}: {x}" for r, x in v.releases.items()) or "—"
        cover = f"{v.coverage.get('ran', 0)} of {v.coverage.get('total', 0)} ran"
        where = f"{v.section}" + (f", line {v.line}" if v.line else "")
        lines.append(f"| [{v.omission}](#{v.omission.lower()}) | {OmissionVerdict(v.verdict).mark} | {backend} | "
                     f"{v.release_range or 'any release'} | {releases} | {cover} | {where} | {_cell(v.why)} |")
    seen: set[str] = set()
    for v in omissions:
        if v.omission in seen:
            continue
        seen.add(v.omission)
        lines += ["", f"### {v.omission}", "", _cell(v.statement), "",
                  f"Should be said in *{v.section}*" + (f" (near line {v.line}: “{_cell(' '.join(v.anchor.split()))}”)"
                                                        if v.line else "")
                  + (f"; reported for releases `{v.release_range}`." if v.release_range else "."), "", "Evidence:"]
        lines += [f"- <{e['address']}> — {_cell(e['shows'])}" for e in v.evidence]
        rows = [o for o in omissions if o.omission == v.omission]
        for o in rows:
            lines.append("")
            lines.append(f"{OmissionVerdict(o.verdict).mark} on {o.backend} — {coverage_text(o.coverage)}.")
            for s in o.scenarios:
                polarity = "states its absence" if s["polarity"] == "refutes" else "states it"
                counted = "" if s["counted"] else f" (release outside {o.release_range}: not counted)"
                lines.append(f"- {s['omission_result']} ({'/'.join(s['provenance'])}, {polarity}): "
                             f"{_cell(s['scenario'])}{counted}")
            if not o.scenarios:
                lines.append(f"- {o.why}")
    return lines
