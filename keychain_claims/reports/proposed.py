"""reports/article.proposed.md: the corrected article the article's keeper asked for -- for each contradicted
claim the sentence as it stands and the proposed replacement, for each omission the paragraph to add at its
anchor, each with the evidence that supports it (the scenarios that state it and passed, the backends and
releases they passed on, the recorded finding, public addresses).  Only proposals that are in
(claims/proposals.py: still needed and supported) are proposed; the others are listed at the end with why."""
from __future__ import annotations

from pathlib import Path

from keychain_claims import atomic
from keychain_claims.claims.article import Article
from keychain_claims.redact import redact


def _evidence(p) -> list[str]:
    lines = []
    passed = [s for s in p.scenarios if s["result"] == "passed"]
    for s in passed:
        lines.append(f"- scenario “{s['scenario']}” passed on {s['backend']} ({'/'.join(s['provenance'])})")
    if p.releases:
        lines.append(f"- Claude Code releases: {', '.join(p.releases)}")
    for finding in p.findings:
        lines.append(f"- recorded finding: {' '.join(finding.split())}")
    for source in p.sources:
        lines.append(f"- <{source['address']}> — {source['shows']}")
    return lines


def render(article: Article, proposals: list, partial: str = "") -> str:
    from keychain_claims.reports.markdown import article_title
    title = article_title(article)
    shown = [p for p in proposals if p.included]
    out = [f"# Proposed corrections to “{title}”", "",
           f"`{article.path.name}` (sha256 `{article.sha256[:16]}`).  "
           f"{sum(p.kind == 'claim' for p in shown)} replaced sentence(s) and {sum(p.kind == 'omission' for p in shown)} "
           "added paragraph(s), in the article's order.  Each is the ledger's `proposed:` text, stated by a scenario "
           "(tagged `@proposes:<ID>`) that passed in this run; a proposal whose finding stops holding is left out.", ""]
    if partial:
        out[:0] = [f"> **Partial run** ({partial}): only what ran is proposed here.", ""]
    for p in sorted(shown, key=lambda p: (p.line or 10**6, p.kind)):
        where = f"line {p.line}, {p.section}" if p.line else p.section
        if p.kind == "claim":
            out += [f"## {p.id} ({where})", "", "The article says:", "", f"> {p.stands}", "",
                    "Proposed instead:", "", f"> {p.text}", ""]
        else:
            out += [f"## {p.id} — add ({where})", "",
                    (f"After “{p.stands}”, add:" if p.stands else f"In the section {p.section}, add:"), "",
                    f"> {p.text}", ""]
        out += ["Evidence:", "", *_evidence(p), ""]
    left = [p for p in proposals if not p.included]
    if left:
        out += ["## Not proposed in this run", ""] + [f"- {p.id}: {p.why}" for p in left] + [""]
    return "\n".join(out)


def write_proposed(path: Path, article: Article, proposals: list, partial: str = "") -> Path:
    atomic.write_text(path, redact(render(article, proposals, partial)))
    return path
