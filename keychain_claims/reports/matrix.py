"""Claims x Claude Code releases: one verdict per claim and release (the polarity of every
scenario folded in), written as reports/release-matrix.{json,md} and drawn as a grid
(reports/release-matrix.svg, claims down, releases across, one colour per verdict, a mark
where a verdict differs from the one of the last earlier release that could be checked)."""
from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path

from keychain_claims.claims.ledger import VERDICTS
from keychain_claims.claims.verdicts import _release_key, coverage_of, coverage_text, release_cell
from keychain_claims.redact import redact

COLOURS = {"holds": "#2f9e44", "contradicted": "#e8590c", "fails": "#c92a2a",
           "no-longer-contradicted": "#7048e8", "not-checkable": "#adb5bd"}
LEGEND = {"holds": "holds", "contradicted": "contradicted", "fails": "fails",
          "no-longer-contradicted": "no longer contradicted", "not-checkable": "not checkable"}


def cells(outcomes, ledger) -> tuple[list[str], list[dict]]:
    by_cell: dict[tuple[str, str], list] = defaultdict(list)
    for o in outcomes:
        if o.release:
            for cid in o.claims:
                by_cell[(cid, o.release)].append(o)
    releases = sorted({r for _, r in by_cell}, key=_release_key)
    rows = []
    for claim in ledger:
        previous = None
        for release in releases:
            seen = by_cell.get((claim.id, release), [])
            if not seen:
                continue
            verdict, summary = release_cell(seen, claim.id)
            checkable = verdict != "not-checkable"
            rows.append({"claim": claim.id, "release": release, "verdict": verdict, "summary": summary,
                         "changed": checkable and previous is not None and verdict != previous,
                         "coverage": coverage_of(seen),
                         "evidence": [{"scenario": o.name, "result": o.result, "reason": o.reason,
                                       "polarity": "refutes" if claim.id in o.refutes else "supports",
                                       "provenance": o.provenance} for o in seen]})
            previous = verdict if checkable else previous
    return releases, rows


def write_matrix(outcomes, ledger, out: Path) -> None:
    """Claims x releases: holds / contradicted / not checkable, with the evidence."""
    releases, rows = cells(outcomes, ledger)
    if not releases:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "release-matrix.json").write_text(redact(json.dumps({"releases": releases, "cells": rows}, indent=2)))
    head = "| claim | " + " | ".join(releases) + " |\n|---|" + "---|" * len(releases) + "\n"
    body = ""
    for cid in dict.fromkeys(r["claim"] for r in rows):
        by = {r["release"]: r for r in rows if r["claim"] == cid}
        body += f"| {cid} | " + " | ".join(
            (f"{by[r]['verdict']}{' (changed)' if by[r]['changed'] else ''} — "
             f"{coverage_text(by[r]['coverage'], 'not checkable')}"
             .replace("|", "/") if r in by else "—") for r in releases) + " |\n"
    (out / "release-matrix.md").write_text(redact("# Claims × Claude Code releases\n\n" + head + body))
    picture = svg(releases, rows)
    (out / "release-matrix.svg").write_text(redact(picture))
    (out / "release-matrix.html").write_text(redact(page(picture, rows)))


def page(picture: str, rows: list[dict]) -> str:
    """The grid and, below it, every cell's evidence: an HTML page of its own (also a global
    attachment of the Allure report)."""
    items = "".join(
        f"<tr><td>{html.escape(r['claim'])}</td><td>{html.escape(r['release'])}</td>"
        f"<td style='color:{COLOURS[r['verdict']]}'><b>{LEGEND[r['verdict']]}</b>{' (changed)' if r['changed'] else ''}</td>"
        f"<td>{html.escape(coverage_text(r['coverage'], 'not checkable'))}</td><td><ul>"
        + "".join(f"<li>{html.escape(e['scenario'])} — {e['result']} ({e['polarity']}, {'/'.join(e['provenance'])})</li>"
                  for e in r["evidence"]) + "</ul></td></tr>" for r in rows)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Claims × Claude Code releases</title>"
            f"<style>body{{font:14px Helvetica,Arial,sans-serif;margin:16px}}td{{vertical-align:top;padding:4px 8px;"
            f"border-bottom:1px solid #dee2e6}}ul{{margin:0;padding-left:16px}}</style></head><body>{picture}"
            f"<table><tr><th>claim</th><th>release</th><th>verdict</th><th>coverage</th><th>evidence</th></tr>"
            f"{items}</table></body></html>\n")


def svg(releases: list[str], rows: list[dict]) -> str:
    """The matrix as a picture: claims down, releases across, one colour per verdict; a black
    corner and a bold border where the verdict differs from the previous release's (the last
    earlier release where the claim could be checked)."""
    claims = list(dict.fromkeys(r["claim"] for r in rows))
    by = {(r["claim"], r["release"]): r for r in rows}
    left, top, cw, ch = 190, 56, 132, 26
    width = max(left + cw * len(releases) + 20, 660)        # the legend fits
    legend_y = top + ch * len(claims) + 24
    height = legend_y + 48
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           '<text x="10" y="22" font-size="15" font-weight="bold">Claims × Claude Code releases</text>']
    for j, release in enumerate(releases):
        out.append(f'<text x="{left + j * cw + cw / 2}" y="{top - 8}" text-anchor="middle" '
                   f'font-weight="bold">{html.escape(release)}</text>')
    for i, claim in enumerate(claims):
        y = top + i * ch
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
            title = html.escape(f"{claim} on {release}: {verdict} — {coverage_text(cover, 'not checkable')}")
            stroke = ' stroke="#000" stroke-width="3"' if cell["changed"] else ""
            out.append(f'<g class="cell" data-claim="{html.escape(claim)}" data-release="{html.escape(release)}" '
                       f'data-verdict="{verdict}"><title>{title}</title>'
                       f'<rect x="{x + 2}" y="{y + 2}" width="{cw - 4}" height="{ch - 4}" rx="3" '
                       f'fill="{COLOURS[verdict]}"{stroke}/>'
                       f'<text x="{x + cw / 2}" y="{y + ch / 2 + 4}" text-anchor="middle" fill="#fff">'
                       f'{html.escape(LEGEND[verdict])}</text>')
            if cell["changed"]:
                out.append(f'<path d="M{x + 2} {y + 2} h12 l-12 12 z" fill="#000"/>')
            out.append("</g>")
    x = 10
    for verdict in VERDICTS:
        out.append(f'<rect x="{x}" y="{legend_y}" width="14" height="14" rx="2" fill="{COLOURS[verdict]}"/>'
                   f'<text x="{x + 20}" y="{legend_y + 12}">{LEGEND[verdict]}</text>')
        x += 40 + 8 * len(LEGEND[verdict])
    out.append(f'<path d="M10 {legend_y + 26} h12 l-12 12 z" fill="#000"/>'
               f'<text x="30" y="{legend_y + 37}">verdict differs from the last earlier release that could check it</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
