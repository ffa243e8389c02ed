"""Claims x Claude Code releases: one verdict per claim and release (the polarity of every
scenario folded in), written as reports/release-matrix.{json,md} and drawn as a grid
(reports/release-matrix.svg, claims down, releases across, one colour per verdict, a mark
where a verdict differs from the one of the last earlier release that could be checked).
Below the claims, apart from them, one row per omission (what the article misses) that a
release scenario names: its own verdicts (reproduced / not reproduced / not checkable), and
whether the release lies in the omission's `releases`.

release-matrix.json is one model (`ReleaseMatrix`): written here, read by `keychain-claims changes`
(reports/merge.py)."""
from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from keychain_claims.claims.files import FormatError, first_error
from keychain_claims.claims.verdict import OmissionVerdict, Verdict
from keychain_claims.claims.verdicts import (coverage_of, coverage_text, skip_reasons,
                                             fold_omission, omission_result, release_cell)
from keychain_claims.redact import redact
from keychain_claims.claims.release_order import in_releases, release_key
from keychain_claims import atomic


class MatrixEvidence(BaseModel):
    """One scenario behind a cell."""
    model_config = ConfigDict(extra="ignore")
    scenario: str
    result: str
    reason: str = ""
    polarity: str = "supports"
    provenance: list[str] = []


class MatrixCell(BaseModel):
    """A claim's (or an omission's: `kind`) verdict on one release, with its scenarios."""
    model_config = ConfigDict(extra="ignore")
    claim: str
    kind: Literal["omission"] | None = None           # written only for an omission's row
    release: str
    verdict: str
    summary: str | None = None                        # a claim's: the verdict with how much of it ran
    in_range: bool | None = None                      # an omission's: the release is in its `releases`
    changed: bool = False
    coverage: dict[str, Any] = {}
    evidence: list[MatrixEvidence] = []

    @model_validator(mode="after")
    def _a_verdict_of_its_kind(self) -> "MatrixCell":
        (OmissionVerdict if self.kind == "omission" else Verdict)(self.verdict)     # ValueError: not one
        return self


class MatrixError(FormatError):
    """A file that is not a release matrix."""


class ReleaseMatrix(BaseModel):
    """release-matrix.json: the releases (columns, in version order) and one cell per entry and release."""
    model_config = ConfigDict(extra="ignore")
    releases: list[str]
    cells: list[MatrixCell]

    def dumps(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2)

    @classmethod
    def read(cls, path: Path) -> "ReleaseMatrix":
        """OSError when `path` cannot be read; MatrixError (one line) when it is not a release matrix."""
        raw = Path(path).read_bytes()
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise MatrixError(f"{path} is not a release matrix ({first_error(exc)}); run the suite again") from None


def _verdict(row: dict) -> Verdict | OmissionVerdict:
    return (OmissionVerdict if row.get("kind") == "omission" else Verdict)(row["verdict"])


def cells(outcomes, ledger) -> tuple[list[str], list[dict]]:
    by_cell: dict[tuple[str, str], list] = defaultdict(list)
    for o in outcomes:
        if o.release:
            for cid in o.claims:
                by_cell[(cid, o.release)].append(o)
    releases = sorted({r for _, r in by_cell}, key=release_key)
    rows = []

    def strip(entry_id: str, kind: dict, verdict_of) -> None:
        """One row per release for a claim or an omission; `verdict_of(seen, release)` gives its
        verdict and the fields of its own kind.  `changed` compares with the last checkable release."""
        previous = None
        for release in releases:
            seen = by_cell.get((entry_id, release), [])
            if not seen:
                continue
            verdict, own = verdict_of(seen, release)
            checkable = verdict != Verdict.NOT_CHECKABLE
            rows.append({"claim": entry_id, **kind, "release": release, "verdict": verdict, **own,
                         "changed": checkable and previous is not None and verdict != previous,
                         "coverage": coverage_of(seen),
                         "evidence": [{"scenario": o.name, "result": o.result, "reason": o.reason,
                                       "polarity": "refutes" if entry_id in o.refutes else "supports",
                                       "provenance": o.provenance} for o in seen]})
            previous = verdict if checkable else previous

    def claim_cell(cid: str):
        def verdict_of(seen, release):
            verdict, summary = release_cell(seen, cid)
            return verdict, {"summary": summary}
        return verdict_of

    def omission_cell(omission):
        def verdict_of(seen, release):
            return (fold_omission([omission_result(o, omission.id) for o in seen]),
                    {"in_range": not omission.releases or in_releases(release, omission.releases)})
        return verdict_of

    for claim in ledger:
        strip(claim.id, {}, claim_cell(claim.id))
    for omission in getattr(ledger, "omissions", {}).values():
        strip(omission.id, {"kind": "omission"}, omission_cell(omission))
    return releases, rows


def write_matrix(outcomes, ledger, out: Path, name: str = "release-matrix") -> None:
    """Claims x releases: holds / contradicted / not checkable, with the evidence (`name`.json/md/svg/html;
    a partial run writes release-matrix.partial.*).  The whole history, kept from run to run, is
    reports/history.py's."""
    releases, rows = cells(outcomes, ledger)
    if not releases:
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / f"{name}.json", redact(ReleaseMatrix.model_validate({"releases": releases, "cells": rows}).dumps()))
    head = "| claim | " + " | ".join(releases) + " |\n|---|" + "---|" * len(releases) + "\n"
    body = ""
    omitted = ""
    for cid in dict.fromkeys(r["claim"] for r in rows):
        by = {r["release"]: r for r in rows if r["claim"] == cid}
        line = f"| {cid} | " + " | ".join(
            (f"{by[r]['verdict']}{' (changed)' if by[r]['changed'] else ''}"
             f"{' (outside its releases)' if by[r].get('in_range') is False else ''} — "
             f"{coverage_text(by[r]['coverage'], 'not checkable')}"
             .replace("|", "/") if r in by else "—") for r in releases) + " |\n"
        if any(r.get("kind") == "omission" for r in by.values()):
            omitted += line
        else:
            body += line
    if omitted:
        body += ("\n## What the article misses (omissions) × releases\n\n"
                 + head.replace("| claim |", "| omission |") + omitted)
    atomic.write_text(out / f"{name}.md", redact("# Claims × Claude Code releases\n\n" + head + body))
    picture = svg(releases, rows)
    atomic.write_text(out / f"{name}.svg", redact(picture))
    atomic.write_text(out / f"{name}.html", redact(page(picture, rows)))


def page(picture: str, rows: list[dict]) -> str:
    """The grid and, below it, every cell's evidence: an HTML page of its own (also a global
    attachment of the Allure report).  A reason several cells share is given once, in the notes
    below the table; a cell names it by its number (its tooltip holds the reason)."""
    notes: dict[str, int] = {}

    def cover(c: dict) -> str:
        ran, total, skipped = c.get("ran", 0), c.get("total", 0), c.get("skipped", [])
        text = html.escape(f"{ran} of {total} scenario{'s' if total != 1 else ''} ran")
        if not skipped:
            return text
        marks = []
        for reason in skip_reasons(c):
            n = notes.setdefault(reason, len(notes) + 1)
            marks.append(f"<a href='#why-{n}' title='{html.escape(reason)}'>[{n}]</a>")
        return text + f"; {len(skipped)} not checkable " + " ".join(marks)
    items = "".join(
        f"<tr><td>{html.escape(r['claim'])}</td><td>{html.escape(r['release'])}</td>"
        f"<td style='color:{_verdict(r).colour}'><b>{_verdict(r).label}</b>{' (changed)' if r['changed'] else ''}"
        f"{' (release outside its range)' if r.get('in_range') is False else ''}</td>"
        f"<td>{cover(r['coverage'])}</td><td><ul>"
        + "".join(f"<li>{html.escape(e['scenario'])} — {e['result']} ({e['polarity']}, {'/'.join(e['provenance'])})</li>"
                  for e in r["evidence"]) + "</ul></td></tr>" for r in rows)
    why = "".join(f"<li id='why-{n}' value='{n}'>{html.escape(reason)}</li>" for reason, n in notes.items())
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>Claims × Claude Code releases</title>"
            f"<style>body{{font:14px Helvetica,Arial,sans-serif;margin:16px;max-width:1400px}}"
            f"svg{{max-width:100%;height:auto}}table{{border-collapse:collapse;width:100%}}"
            f"td{{vertical-align:top;padding:4px 8px;border-bottom:1px solid #dee2e6;overflow-wrap:anywhere}}"
            f"th{{text-align:left;padding:4px 8px}}ul{{margin:0;padding-left:16px}}ol.why li{{margin-bottom:4px}}"
            f"</style></head><body>{picture}"
            f"<table><tr><th>claim</th><th>release</th><th>verdict</th><th>coverage</th><th>evidence</th></tr>"
            f"{items}</table>"
            + (f"<h2>Why scenarios were not checkable</h2><ol class='why'>{why}</ol>" if why else "")
            + "</body></html>\n")


def svg(releases: list[str], rows: list[dict]) -> str:
    """The matrix as a picture: claims down, releases across, one colour per verdict; a black
    corner and a bold border where the verdict differs from the previous release's (the last
    earlier release where the claim could be checked)."""
    claims = list(dict.fromkeys(r["claim"] for r in rows if r.get("kind") != "omission"))
    omitted = list(dict.fromkeys(r["claim"] for r in rows if r.get("kind") == "omission"))
    by = {(r["claim"], r["release"]): r for r in rows}
    left, top, cw, ch = 190, 56, 132, 26
    width = max(left + cw * len(releases) + 20, 660)        # the legend fits
    gap = ch if omitted else 0                              # a heading row between claims and omissions
    legend_y = top + ch * (len(claims) + len(omitted)) + gap + 24
    height = legend_y + 48 + (24 if omitted else 0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           '<text x="10" y="22" font-size="15" font-weight="bold">Claims × Claude Code releases</text>']
    for j, release in enumerate(releases):
        out.append(f'<text x="{left + j * cw + cw / 2}" y="{top - 8}" text-anchor="middle" '
                   f'font-weight="bold">{html.escape(release)}</text>')
    if omitted:
        out.append(f'<text x="10" y="{top + ch * len(claims) + ch / 2 + 8}" font-weight="bold">'
                   'What the article misses (omissions)</text>')
    for i, claim in enumerate(claims + omitted):
        y = top + i * ch + (gap if i >= len(claims) else 0)
        out.append(f'<text x="{left - 10}" y="{y + ch / 2 + 4}" text-anchor="end">{html.escape(claim)}</text>')
        for j, release in enumerate(releases):
            x = left + j * cw
            cell = by.get((claim, release))
            if cell is None:
                out.append(f'<rect x="{x + 1}" y="{y + 1}" width="{cw - 2}" height="{ch - 2}" fill="#f1f3f5"/>'
                           f'<text x="{x + cw / 2}" y="{y + ch / 2 + 4}" text-anchor="middle" fill="#868e96">—</text>')
                continue
            verdict = cell["verdict"]
            cover = cell["coverage"]
            outside = " (release outside its range)" if cell.get("in_range") is False else ""
            title = html.escape(f"{claim} on {release}: {verdict}{outside} — {coverage_text(cover, 'not checkable')}")
            stroke = ' stroke="#000" stroke-width="3"' if cell["changed"] else ""
            kind = ' data-kind="omission"' if cell.get("kind") == "omission" else ""
            faded = ' fill-opacity="0.45"' if outside else ""
            out.append(f'<g class="cell" data-claim="{html.escape(claim)}" data-release="{html.escape(release)}" '
                       f'data-verdict="{verdict}"{kind}><title>{title}</title>'
                       f'<rect x="{x + 2}" y="{y + 2}" width="{cw - 4}" height="{ch - 4}" rx="3" '
                       f'fill="{_verdict(cell).colour}"{faded}{stroke}/>'
                       f'<text x="{x + cw / 2}" y="{y + ch / 2 + 4}" text-anchor="middle" fill="#fff">'
                       f'{html.escape(_verdict(cell).label)}</text>')
            if cell["changed"]:
                out.append(f'<path d="M{x + 2} {y + 2} h12 l-12 12 z" fill="#000"/>')
            out.append("</g>")
    x = 10
    for verdict in Verdict:
        out.append(f'<rect x="{x}" y="{legend_y}" width="14" height="14" rx="2" fill="{verdict.colour}"/>'
                   f'<text x="{x + 20}" y="{legend_y + 12}">{verdict.label}</text>')
        x += 40 + 8 * len(verdict.label)
    out.append(f'<path d="M10 {legend_y + 26} h12 l-12 12 z" fill="#000"/>'
               f'<text x="30" y="{legend_y + 37}">verdict differs from the last earlier release that could check it</text>')
    if omitted:
        x = 10
        for verdict in OmissionVerdict:
            if verdict == OmissionVerdict.NOT_CHECKABLE:
                continue
            out.append(f'<rect x="{x}" y="{legend_y + 50}" width="14" height="14" rx="2" fill="{verdict.colour}"/>'
                       f'<text x="{x + 20}" y="{legend_y + 62}">omission {verdict.label}</text>')
            x += 100 + 8 * len(verdict.label)
    out.append("</svg>")
    return "\n".join(out) + "\n"
