"""reports/article.html: the article under test as a reader sees it (Markdown rendered by
markdown-it-py), every claim's quoted span highlighted by its verdict, and on click the claim's
statement, verdict, coverage, backend(s), release(s), the finding's evidence and links to its
scenarios in the Allure report.  What the article misses (the ledger's omissions) is a margin
note at the section where it should have been said (beside its `anchor`, else the section's
heading); a click shows its statement, evidence addresses and verdicts.  Built by
`keychain-claims report` from claims.json."""
from __future__ import annotations

import dataclasses
import functools
import html
import re
from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, PackageLoader
from markdown_it import MarkdownIt
from markupsafe import Markup
from markdown_it.token import Token

from keychain_claims.claims.article import DEFAULT_PATH, Article
from keychain_claims.claims.files import ClaimsTable
from keychain_claims.claims.verdict import OmissionVerdict, Verdict
from keychain_claims.claims.verdicts import ClaimVerdict, OmittedCauseVerdict
from keychain_claims.reports.markdown import RESULT
from keychain_claims.redact import redact

# the ledger's sections -> the start of the article heading they are under (caveats are a paragraph
# of the bypass section, not a heading)
SECTION_HEADINGS = {"symptom": "Symptom", "cause": "Cause", "triage": "Triage", "fix-burst": "One-off burst",
                    "fix-reset": "Keeps returning", "fix-file-bypass": "Bypass the keychain",
                    "caveats": "Bypass the keychain", "notes": "Notes"}


@functools.cache
def _templates() -> Environment:
    """The page's templates (reports/templates/), autoescaped.  Values are escaped with
    html.escape (as the page always was: `&quot;`, `&#x27;`) rather than markupsafe's spelling."""
    return Environment(loader=PackageLoader("keychain_claims.reports"), autoescape=True, keep_trailing_newline=True,
                       finalize=lambda value: value if isinstance(value, Markup) else Markup(html.escape(str(value))))


def _parts():
    return _templates().get_template("article-parts.html.j2").module


def _plain(quote: str) -> str:
    """A ledger quote as the rendered text reads: no emphasis, code ticks or link targets;
    whitespace collapsed."""
    quote = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", quote)
    quote = re.sub(r"\*\*|__|`|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)", "", quote)
    return re.sub(r"\s+", " ", quote).strip()


def _views(rows: Sequence[ClaimVerdict] | Sequence[OmittedCauseVerdict], key: str,
           own: tuple[str, ...]) -> dict[str, dict]:
    """One view per claim or omission (`key`): its worst verdict over the backends in claims.json
    (by the verdict's rank), with the fields its card shows (`own`: copied from its first row)."""
    views: dict[str, dict] = {}
    for row in rows:
        view = views.setdefault(getattr(row, key), {key: getattr(row, key), **{f: getattr(row, f) for f in own},
                                                    "verdict": row.verdict, "why": row.why,
                                                    "backends": {}, "releases": {}, "scenarios": []})
        if row.verdict.rank < view["verdict"].rank:
            view["verdict"], view["why"] = row.verdict, row.why
        view["backends"][row.backend] = row.summary
        view["releases"].update(row.releases)
        view["scenarios"] += [{**s, "backend": row.backend} for s in row.scenarios]
    return views


def claim_views(table: ClaimsTable) -> dict[str, dict]:
    """One view per claim: the worst verdict over the backends, with everything the card shows."""
    return _views(table.claims, "claim", ("quote", "statement", "section", "findings"))


def omission_views(table: ClaimsTable) -> dict[str, dict]:
    """One view per omission: its verdict over the backends (a "not reproduced" on any backend
    shows), with everything its margin note and card show."""
    return _views(table.omissions, "omission", ("section", "anchor", "statement", "evidence", "release_range"))


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
    first = re.split(r"(?<=[.:;])\s", " ".join(view["statement"].split()), maxsplit=1)[0].rstrip(".:;")
    first = first if len(first) <= 90 else first[:89].rstrip() + "…"
    return str(_parts().note(view, first))


def _mark_inline(token: Token, spans: list[tuple[str, str]], verdicts: dict[str, Verdict], found: set[str]) -> None:
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
        marked = marks.get(i)
        if not marked:
            out.append(child)
            continue
        if child.type != "text":
            opening, closing = tag(set().union(*marked.values()))
            out += [opening, child, closing]
            continue
        current: set[str] | None
        run_start, current = 0, marked.get(0, set())
        for j in range(1, len(child.content) + 1):
            here = marked.get(j, set()) if j < len(child.content) else None
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


def _mark_open(claims: set[str], verdicts: dict[str, Verdict]) -> str:
    ids = sorted(claims, key=lambda c: (verdicts[c].rank, c))
    return str(_parts().mark_open(ids, verdicts[ids[0]]))


def render(article: Article, views: dict[str, dict], scenario_links: dict[str, str],
           omissions: dict[str, dict] | None = None, proposals: Sequence[dict] = ()) -> tuple[str, list[str]]:
    """The page, and the IDs of claims whose quote was not found in the rendered text.  `proposals`
    (claims.json's, claims/proposals.py) that are in make the page's "proposed corrections" view."""
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
    page = _templates().get_template("article.html.j2").render(
        name=article.path.name, verdicts=list(Verdict),
        counts=[(k, sum(v["verdict"] == k for v in views.values())) for k in Verdict],
        omissions=len(omissions),
        omission_counts=[(k, sum(o["verdict"] == k for o in omissions.values())) for k in OmissionVerdict]
        if omissions else [],
        claims=list(views.values()), omission_views=list(omissions.values()), links=scenario_links,
        results=RESULT, missing=missing, body=Markup(body),
        proposals=sorted((p for p in proposals if p.get("included")), key=lambda p: (p.get("line") or 10**6, p["kind"])))
    return redact(page), missing


def build(claims_path: Path, out: Path, scenario_links: dict[str, str] | None = None,
          article: Article | None = None) -> tuple[Path, list[str]]:
    """Write the annotated article to `out`; returns its path and the claims not located."""
    table = ClaimsTable.read(claims_path)
    if article is None:
        candidate = DEFAULT_PATH.with_name(table.article or DEFAULT_PATH.name)
        article = Article(candidate if candidate.exists() else DEFAULT_PATH)
    page, missing = render(article, claim_views(table), scenario_links or {}, omission_views(table),
                           [dataclasses.asdict(p) for p in table.proposals])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out, missing
