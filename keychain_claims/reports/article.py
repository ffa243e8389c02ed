"""reports/article.html: the article under test as a reader sees it (Markdown rendered by
markdown-it-py), every claim's quoted span highlighted by its verdict, and on click the claim's
statement, verdict, coverage, backend(s), release(s), the finding's evidence and links to its
scenarios in the Allure report.  What the article misses (the ledger's omissions) is a margin
note at the section where it should have been said (beside its `anchor`, else the section's
heading); a click shows its statement, evidence addresses and verdicts.  Built by
`keychain-claims report` from claims.json."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from keychain_claims.claims.article import Article
from keychain_claims.claims.verdict import OmissionVerdict, Verdict
from keychain_claims.reports.markdown import RESULT
from keychain_claims.redact import redact

# the ledger's sections -> the start of the article heading they are under (caveats are a paragraph
# of the bypass section, not a heading)
SECTION_HEADINGS = {"symptom": "Symptom", "cause": "Cause", "triage": "Triage", "fix-burst": "One-off burst",
                    "fix-reset": "Keeps returning", "fix-file-bypass": "Bypass the keychain",
                    "caveats": "Bypass the keychain", "notes": "Notes"}


def _plain(quote: str) -> str:
    """A ledger quote as the rendered text reads: no emphasis, code ticks or link targets;
    whitespace collapsed."""
    quote = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", quote)
    quote = re.sub(r"\*\*|__|`|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)", "", quote)
    return re.sub(r"\s+", " ", quote).strip()


def claim_views(claims_json: dict) -> dict[str, dict]:
    """One view per claim: the worst verdict over the backends in claims.json, with everything
    the card shows."""
    views: dict[str, dict] = {}
    for row in claims_json.get("claims", []):
        view = views.setdefault(row["claim"], {"claim": row["claim"], "quote": row["quote"],
                                               "statement": row.get("statement", ""), "section": row["section"],
                                               "verdict": row["verdict"], "backends": {}, "releases": {},
                                               "findings": row.get("findings", []), "scenarios": [],
                                               "why": row.get("why", "")})
        if Verdict(row["verdict"]).rank < Verdict(view["verdict"]).rank:
            view["verdict"], view["why"] = row["verdict"], row.get("why", "")
        view["backends"][row["backend"]] = row.get("summary") or row["verdict"]
        view["releases"].update(row.get("releases", {}))
        view["scenarios"] += [{**s, "backend": row["backend"]} for s in row.get("scenarios", [])]
    return views


def omission_views(claims_json: dict) -> dict[str, dict]:
    """One view per omission: its verdict over the backends (a "not reproduced" on any backend
    shows), with everything its margin note and card show."""
    views: dict[str, dict] = {}
    for row in claims_json.get("omissions", []):
        view = views.setdefault(row["omission"], {
            "omission": row["omission"], "section": row["section"], "anchor": row.get("anchor", ""),
            "statement": row.get("statement", ""), "evidence": row.get("evidence", []),
            "release_range": row.get("release_range", ""), "verdict": row["verdict"], "why": row.get("why", ""),
            "backends": {}, "releases": {}, "scenarios": []})
        if OmissionVerdict(row["verdict"]).rank < OmissionVerdict(view["verdict"]).rank:
            view["verdict"], view["why"] = row["verdict"], row.get("why", "")
        view["backends"][row["backend"]] = row.get("summary") or row["verdict"]
        view["releases"].update(row.get("releases", {}))
        view["scenarios"] += [{**s, "backend": row["backend"]} for s in row.get("scenarios", [])]
    return views


def _place_notes(tokens: list[Token], omissions: dict[str, dict]) -> dict[str, int]:
    """Token index before which each omission's margin note goes: the block holding its anchor
    (first occurrence), else the heading of its section."""
    placed: dict[str, int] = {}
    for oid, view in omissions.items():
        anchor = _plain(view["anchor"]) if view["anchor"] else ""
        for i, token in enumerate(tokens):
            if not anchor:
                break
            if token.type == "inline" and anchor in _plain(token.content):
                placed[oid] = i - 1 if i and tokens[i - 1].type.endswith("_open") else i
                break
            if token.type == "fence" and anchor in " ".join(token.content.split()):
                placed[oid] = i
                break
        if oid in placed:
            continue
        heading = SECTION_HEADINGS.get(view["section"], "")
        for i, token in enumerate(tokens):
            if token.type == "inline" and heading and token.content.startswith(heading) \
                    and i and tokens[i - 1].type == "heading_open":
                placed[oid] = i + 2          # after heading_close
                break
    return placed


def _note(view: dict) -> str:
    v = view["verdict"]
    first = re.split(r"(?<=[.:;])\s", " ".join(view["statement"].split()), maxsplit=1)[0].rstrip(".:;")
    first = first if len(first) <= 90 else first[:89].rstrip() + "…"
    return (f'<aside class="omission" id="note-{html.escape(view["omission"])}" data-omission="{html.escape(view["omission"])}" '
            f'data-verdict="{html.escape(v)}" data-section="{html.escape(view["section"])}" tabindex="0" '
            f'title="What the article misses here (click for the evidence)">'
            f'<b>Missing here: {html.escape(view["omission"])}</b> '
            f'<span class="verdict" style="background:{OmissionVerdict(v).note_colour}">{html.escape(v)}</span>'
            f'<br>{html.escape(first)}</aside>\n')


def _omission_card(view: dict, scenario_links: dict[str, str]) -> str:
    v = view["verdict"]
    backends = "".join(f"<li>{html.escape(b)}: {html.escape(s)}</li>" for b, s in view["backends"].items())
    releases = ", ".join(f"{html.escape(r)}: {html.escape(x)}" for r, x in view["releases"].items()) or "none run"
    evidence = "".join(f'<li><a href="{html.escape(e["address"])}" target="_blank" rel="noopener">'
                       f'{html.escape(e["address"].removeprefix("https://github.com/"))}</a> — {html.escape(e["shows"])}</li>'
                       for e in view["evidence"])
    items = []
    for s in view["scenarios"]:
        name = html.escape(s["scenario"])
        link = scenario_links.get(s.get("nodeid", ""))
        name = f'<a href="{html.escape(link)}" target="_blank">{name}</a>' if link else name
        items.append(f"<li>{name} — <i>{html.escape(s.get('omission_result', s['result']))}</i></li>")
    return (f'<section class="card" id="omission-{html.escape(view["omission"])}" data-verdict="{html.escape(v)}">'
            f'<h2>{html.escape(view["omission"])} <span class="verdict" style="background:{OmissionVerdict(v).note_colour}">'
            f'{html.escape(v)}</span></h2><p><i>What the article misses:</i> {html.escape(view["statement"])}</p>'
            f'<p><b>Why this verdict:</b> {html.escape(view["why"])}</p>'
            f'<p><b>Reported for:</b> {html.escape(view["release_range"] or "any release")}</p>'
            f'<p><b>Evidence:</b></p><ul>{evidence}</ul><p><b>Backends:</b></p><ul>{backends}</ul>'
            f'<p><b>Releases:</b> {releases}</p><p><b>Scenarios:</b></p>'
            f'<ul>{"".join(items) or "<li>none tagged yet</li>"}</ul></section>')


def _mark_inline(token: Token, spans: list[tuple[str, str]], verdicts: dict[str, str], found: set[str]) -> None:
    """Wrap the parts of an inline token's children that fall inside a quoted span in <mark>."""
    children = token.children or []
    chars = [((i, j), ch) for i, child in enumerate(children)
             for j, ch in enumerate(child.content if child.type in ("text", "code_inline") else (
                 " " if child.type in ("softbreak", "hardbreak") else ""))]
    flat_text, where = _collapsed(chars)      # where: (child index, char index) per flat char
    marks: dict[int, dict[int, set[str]]] = {}
    for cid, quote in spans:
        start = flat_text.find(quote) if cid not in found else -1
        if start < 0 or not quote:
            continue
        found.add(cid)
        for k in range(start, start + len(quote)):
            i, j = where[k]
            marks.setdefault(i, {}).setdefault(j, set()).add(cid)
    if not marks:
        return
    out: list[Token] = []

    def tag(claims: set[str]) -> tuple[Token, Token]:
        opening = Token("html_inline", "", 0)
        opening.content = _mark_open(claims, verdicts)
        closing = Token("html_inline", "", 0)
        closing.content = "</mark>"
        return opening, closing

    for i, child in enumerate(children):
        chars = marks.get(i)
        if not chars:
            out.append(child)
            continue
        if child.type != "text":
            opening, closing = tag(set().union(*chars.values()))
            out += [opening, child, closing]
            continue
        run_start, current = 0, chars.get(0, set())
        for j in range(1, len(child.content) + 1):
            here = chars.get(j, set()) if j < len(child.content) else None
            if here != current:
                piece = Token("text", "", 0)
                piece.content = child.content[run_start:j]
                if current:
                    opening, closing = tag(current)
                    out += [opening, piece, closing]
                else:
                    out.append(piece)
                run_start, current = j, here
    token.children = out


def _collapsed(chars: list) -> tuple[str, list]:
    """(position, char) pairs -> the text with every run of whitespace one space, and the position
    each of its characters came from (quotes are matched on collapsed whitespace)."""
    flat: list[str] = []
    where: list = []
    for pos, ch in chars:
        if ch.isspace():
            if flat and flat[-1] == " ":
                continue
            ch = " "
        flat.append(ch)
        where.append(pos)
    return "".join(flat), where


def _runs(text: str, spans: list[tuple[str, str]], found: set[str]) -> list[tuple[str, set[str]]]:
    """`text` cut into runs, each with the claims whose quote covers it (whitespace collapsed
    when matching, so a quote may cross line breaks)."""
    flat_text, where = _collapsed(list(enumerate(text)))
    per_char: dict[int, set[str]] = {}
    for cid, quote in spans:
        if cid in found:          # a claim is marked where its quote first occurs
            continue
        start = flat_text.find(quote) if quote else -1
        if start < 0:
            continue
        found.add(cid)
        first, last = where[start], where[start + len(quote) - 1]
        for j in range(first, last + 1):
            per_char.setdefault(j, set()).add(cid)
    runs: list[tuple[str, set[str]]] = []
    for j, ch in enumerate(text):
        claims = per_char.get(j, set())
        if runs and runs[-1][1] == claims:
            runs[-1] = (runs[-1][0] + ch, claims)
        else:
            runs.append((ch, claims))
    return runs


def _mark_open(claims: set[str], verdicts: dict[str, str]) -> str:
    ids = sorted(claims, key=lambda c: (Verdict(verdicts[c]).rank, c))
    verdict = verdicts[ids[0]]
    return (f'<mark class="claim v-{verdict}" data-claims="{" ".join(ids)}" data-verdict="{verdict}" tabindex="0" '
            f'title="{html.escape(", ".join(ids))}: {html.escape(Verdict(verdict).label)} (click for the evidence)">')


def render(article: Article, views: dict[str, dict], scenario_links: dict[str, str],
           omissions: dict[str, dict] | None = None) -> tuple[str, list[str]]:
    """The page, and the IDs of claims whose quote was not found in the rendered text."""
    omissions = omissions or {}
    text = re.sub(r"\A---\n.*?\n---\n", "", article.text, flags=re.S)
    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(text)
    placed = _place_notes(tokens, omissions)
    for index in sorted(set(placed.values()), reverse=True):
        note = Token("html_block", "", 0)
        note.content = "".join(_note(omissions[oid]) for oid, i in placed.items() if i == index)
        tokens.insert(index, note)
    spans = [(cid, _plain(v["quote"])) for cid, v in views.items()]
    verdicts = {cid: v["verdict"] for cid, v in views.items()}
    found: set[str] = set()
    for token in tokens:
        if token.type == "inline":
            _mark_inline(token, spans, verdicts, found)

    def fence(renderer, tokens, idx, options, env):
        runs = _runs(tokens[idx].content, spans, found)
        code = "".join(_mark_open(c, verdicts) + html.escape(t) + "</mark>" if c else html.escape(t) for t, c in runs)
        return f"<pre><code>{code}</code></pre>\n"
    md.add_render_rule("fence", fence)
    body = md.renderer.render(tokens, md.options, {})
    missing = [cid for cid in views if cid not in found] + [oid for oid in omissions if oid not in placed]
    counts = {k: sum(v["verdict"] == k for v in views.values()) for k in Verdict}
    legend = "".join(f'<span class="key v-{k}">{k.label} <b>{n}</b></span>' for k, n in counts.items())
    if omissions:
        legend += ('<span class="key omissions">what the article misses <b>' + str(len(omissions)) + "</b> ("
                   + ", ".join(f"{sum(o['verdict'] == k for o in omissions.values())} {k}" for k in OmissionVerdict)
                   + ")</span>")
    cards = "".join(_card(v, scenario_links) for v in views.values())
    cards += "".join(_omission_card(v, scenario_links) for v in omissions.values())
    missing_note = (f'<p class="missing">Quotes not found in the rendered article: {", ".join(missing)}</p>'
                    if missing else "")
    style = "".join(f".v-{k}{{background:{c}33;border-bottom:3px solid {c}}} .key.v-{k}{{background:{c};color:#fff}}"
                    for k, c in ((v, v.colour) for v in Verdict))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Annotated article: {html.escape(article.path.name)}</title>
<style>
body{{font:16px/1.55 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#212529}}
header{{position:sticky;top:0;background:#fff;border-bottom:1px solid #dee2e6;padding:10px 24px;z-index:2}}
header h1{{font-size:17px;margin:0 0 6px}}
main{{max-width:700px;margin:0 0 80px 260px;padding-right:380px}}
aside.omission{{float:left;clear:left;width:210px;margin:4px 0 8px -244px;padding:5px 8px;font-size:12.5px;
  line-height:1.4;background:#e7f5ff;border-left:4px solid #1971c2;border-radius:3px;cursor:pointer}}
aside.omission .verdict{{padding:0 6px;border-radius:8px;color:#fff;font-size:11.5px}}
aside.omission.active{{outline:2px solid #000}}
li aside.omission{{margin-left:-284px}}
.key.omissions{{background:#e7f5ff;border:1px solid #1971c2}}
mark.claim{{cursor:pointer;color:inherit;padding:0 1px;border-radius:2px}}
mark.claim.active{{outline:2px solid #000}}
.key{{display:inline-block;padding:2px 8px;margin-right:6px;border-radius:10px;font-size:13px}}
pre{{background:#f8f9fa;padding:10px;overflow:auto}} code{{font-size:14px}}
blockquote{{border-left:4px solid #ced4da;margin-left:0;padding-left:14px;color:#495057}}
#panel{{position:fixed;right:0;top:86px;bottom:0;width:360px;overflow:auto;border-left:1px solid #dee2e6;
  background:#fcfcfd;padding:12px 16px;font-size:14px}}
.card{{display:none}} .card.shown{{display:block;border-bottom:1px solid #dee2e6;padding-bottom:10px}}
.card h2{{font-size:16px;margin:6px 0}} .card .verdict{{padding:1px 8px;border-radius:8px;color:#fff}}
.card li{{margin-bottom:4px}} .missing{{color:#c92a2a}}
@media (max-width: 1000px) {{ main{{padding-right:0;margin:0 12px 45vh}}
  aside.omission, li aside.omission{{float:none;width:auto;margin:8px 0}}
  #panel{{top:auto;left:0;width:auto;height:40vh;border-left:0;border-top:2px solid #adb5bd}} }}
{style}
</style></head><body>
<header><h1>{html.escape(article.path.name)} — each claim highlighted by its verdict</h1>
<div class="legend">{legend}<span style="font-size:13px;color:#495057">click a highlight for the claim,
its verdict and evidence</span></div></header>
<div id="panel"><p id="hint">Click a highlighted passage to see its claim, or a note in the left margin for what the
article misses there.</p>{cards}</div>
<main>{missing_note}{body}</main>
<script>
document.querySelectorAll("mark.claim").forEach(function (m) {{
  function show() {{
    document.querySelectorAll(".card.shown").forEach(function (c) {{ c.classList.remove("shown"); }});
    document.querySelectorAll("mark.active").forEach(function (c) {{ c.classList.remove("active"); }});
    m.dataset.claims.split(" ").forEach(function (id) {{
      var card = document.getElementById("claim-" + id);
      if (card) card.classList.add("shown");
      document.querySelectorAll('mark[data-claims~="' + id + '"]').forEach(function (x) {{ x.classList.add("active"); }});
    }});
    document.getElementById("hint").style.display = "none";
  }}
  m.addEventListener("click", show);
  m.addEventListener("keydown", function (e) {{ if (e.key === "Enter") show(); }});
}});
document.querySelectorAll("aside.omission").forEach(function (n) {{
  function show() {{
    document.querySelectorAll(".card.shown").forEach(function (c) {{ c.classList.remove("shown"); }});
    document.querySelectorAll("mark.active, aside.active").forEach(function (c) {{ c.classList.remove("active"); }});
    var card = document.getElementById("omission-" + n.dataset.omission);
    if (card) card.classList.add("shown");
    n.classList.add("active");
    document.getElementById("hint").style.display = "none";
  }}
  n.addEventListener("click", show);
  n.addEventListener("keydown", function (e) {{ if (e.key === "Enter") show(); }});
}});
</script>
</body></html>
"""
    return redact(page), missing


def _card(view: dict, scenario_links: dict[str, str]) -> str:
    v = view["verdict"]
    backends = "".join(f"<li>{html.escape(b)}: {html.escape(s)}</li>" for b, s in view["backends"].items())
    releases = ", ".join(f"{html.escape(r)}: {html.escape(x)}" for r, x in view["releases"].items()) or "none run"
    findings = "".join(f"<blockquote>{html.escape(' '.join(f.split()))}</blockquote>" for f in view["findings"])
    items = []
    for s in view["scenarios"]:
        name = html.escape(s["scenario"])
        link = scenario_links.get(s.get("nodeid", ""))
        name = f'<a href="{html.escape(link)}" target="_blank">{name}</a>' if link else name
        said = RESULT.get(s["result"], s["result"]) + (f": {s['reason']}" if s["result"] == "skipped" else "")
        polarity = "states what contradicts it" if s.get("polarity") == "refutes" else "states it"
        items.append(f"<li>{name} — <i>{html.escape(said)}</i> ({polarity}; "
                     f"{html.escape('/'.join(s.get('provenance', [])))})</li>")
    return (f'<section class="card" id="claim-{html.escape(view["claim"])}" data-verdict="{v}">'
            f'<h2>{html.escape(view["claim"])} <span class="verdict" style="background:{Verdict(v).colour}">'
            f'{Verdict(v).label}</span></h2><p>{html.escape(view["statement"])}</p>'
            f'<p><b>Why:</b> {html.escape(view["why"])}</p><p><b>Backends:</b></p><ul>{backends}</ul>'
            f'<p><b>Releases:</b> {releases}</p>{findings}<p><b>Scenarios:</b></p><ul>{"".join(items)}</ul>'
            f'</section>')


def build(claims_path: Path, out: Path, scenario_links: dict[str, str] | None = None,
          article: Article | None = None) -> tuple[Path, list[str]]:
    """Write the annotated article to `out`; returns its path and the claims not located."""
    doc = json.loads(claims_path.read_text(encoding="utf-8"))
    if article is None:
        from keychain_claims.claims.article import DEFAULT_PATH
        candidate = DEFAULT_PATH.with_name(doc.get("article") or DEFAULT_PATH.name)
        article = Article(candidate if candidate.exists() else DEFAULT_PATH)
    page, missing = render(article, claim_views(doc), scenario_links or {}, omission_views(doc))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out, missing
