"""The release history: what each claim of the article (and each omission) said on every Claude
Code release that was run, kept from run to run.

One file, `release-history.json`, read and written through one model (`History`): a column per
release holding that release's scenario outcomes (the raw evidence), the suite commit and the
article's sha256 they were produced with, and whether the column is complete (every release
scenario of the feature set has a result for it).  The verdicts are never stored as input: the
page is folded from the outcomes with the suite's one fold (reports/matrix.py `cells`, the same
one the release matrix uses), so a history rebuilt on a later commit shows that commit's fold.

It accumulates.  A run with `--claude-code X` (plugins/publish.py -> reports/publish.py) reads the
history it finds -- its reports folder's `release-history.json`, else the committed one in
`docs/history/` -- and adds X's column: a complete run of X replaces X's column; a partial run
adds X only where X had no column or a partial one; every other column is kept.  `merge` folds the
histories of the folders it merges the same way, and `keychain-claims history` renders a history
file (e.g. into docs/history/).  A rerun of a sweep skips the releases whose column is complete
for the same suite commit (`done`).

The page (`render`): one row per claim and omission, one column per release, runs of releases
whose verdicts all agree grouped under one heading, the release current on the article's date
marked, a not-checkable cell's reason in its tooltip and in a legend (one key per reason), each
change of verdict with the first release that shows it -- exactly when no published release
between the two was left unrun, else the range `keychain-claims bisect` should search -- and the
evidence on both sides."""
from __future__ import annotations

import datetime as _dt
import html
import json
import re
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from keychain_claims import PROJECT_ROOT, atomic
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.verdict import OmissionVerdict, Verdict
from keychain_claims.claims.verdicts import first_sentence
from keychain_claims.claims.release_order import release_key
from keychain_claims.redact import redact
from keychain_claims.releases import npm
from keychain_claims.releases.cache import ReleaseError, cache_dir
from keychain_claims.releases.versions import chunks, published
from keychain_claims.errors import UserError

FORMAT = 1
HISTORY_FILE = "release-history.json"
DOCS_DIR = PROJECT_ROOT / "docs" / "history"
DOCS_FILE = DOCS_DIR / "history.json"


class HistoryError(UserError):
    """One line that says what to do."""


class Column(BaseModel):
    """One release's outcomes, as one run (or a merge of runs) produced them."""
    model_config = ConfigDict(extra="ignore")
    release: str
    suite_commit: str = ""          # `git describe` of the suite that ran it ("" when unknown)
    article_sha256: str = ""
    complete: bool = False          # every release scenario of the feature set has a result
    missing: list[str] = []         # the release scenarios without one (when not complete)
    backends: dict[str, bool] = {}  # backend name -> simulated
    recorded: str = ""              # when the column was made (UTC, ISO 8601)
    outcomes: list[Outcome] = []


class ArticleEra(BaseModel):
    release: str = ""               # the release newest on the article's date (npm's `time`)
    date: str = ""                  # the article's `created:` date


class History(BaseModel):
    """release-history.json.  `cells` and `changes` are what `render` folded (for a reader that
    does not run the suite); they are written, never read back as input."""
    model_config = ConfigDict(extra="ignore")
    format: int = FORMAT
    published: list[str] = []       # every release the registry listed when the history was last swept
    published_on: str = ""          # that day (UTC)
    article_era: ArticleEra = Field(default_factory=ArticleEra)
    sample: str = ""                # the rule that chose the releases, when not all were run
    columns: dict[str, Column] = {}
    cells: list[dict] = []          # derived: the fold of every column (reports/matrix.py `cells`)
    changes: list[dict] = []        # derived: every change of verdict (`changes`)

    def releases(self) -> list[str]:
        return sorted(self.columns, key=release_key)

    def outcomes(self) -> list[Outcome]:
        return [o for r in self.releases() for o in self.columns[r].outcomes]

    def not_swept(self) -> list[str]:
        return [r for r in self.published if r not in self.columns]


# ---------------------------------------------------------------- reading, adding, writing

def load(path: Path) -> History:
    """A history file; an empty history when there is none.  One line when it is not one."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return History()
    except OSError as exc:
        raise HistoryError(f"{path} cannot be read ({exc.strerror}); pass a readable {HISTORY_FILE}") from None
    try:
        return History.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "the document"
        raise HistoryError(f"{path} is not a release history ({where}: {first.get('msg')}); "
                           f"move it away and run again (a run starts from {DOCS_FILE.relative_to(PROJECT_ROOT)})") from None


def base_for(out: Path) -> History:
    """The history a run in reports folder `out` adds to: `out`'s own, else the committed one."""
    own = out / HISTORY_FILE
    return load(own if own.exists() else DOCS_FILE)


def release_scenarios() -> set[str]:
    """The names of the scenarios that run once per release (tag `release`)."""
    from keychain_claims.claims.coverage import scenarios     # pytest-bdd's parser: only when asked
    return {ref.name for ref in scenarios() if "release" in ref.markers}


def suite_commit() -> str:
    """The suite's commit (`git describe --always --dirty`), "" outside a git work tree."""
    try:
        proc = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def columns_of(outcomes: list[Outcome], backends: dict[str, bool], article_sha256: str,
               commit: str | dict[str, str] | None = None, expected: set[str] | None = None) -> list[Column]:
    """One column per release the outcomes hold; complete when every release scenario has a result.
    `commit`: the suite commit of every column, or per release (a merge of runs); None: this checkout's."""
    expected = release_scenarios() if expected is None else expected
    commit = suite_commit() if commit is None else commit
    by: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if o.release:
            by[o.release].append(o)
    columns = []
    for release, seen in sorted(by.items(), key=lambda kv: release_key(kv[0])):
        missing = sorted(expected - {o.scenario for o in seen})
        columns.append(Column(release=release, article_sha256=article_sha256,
                              suite_commit=commit.get(release, "") if isinstance(commit, dict) else commit,
                              complete=not missing, missing=missing,
                              backends={o.backend: backends.get(o.backend, True) for o in seen},
                              recorded=now(), outcomes=seen))
    return columns


def replaces(column: Column, old: Column | None, by_time: bool = False) -> bool:
    """Whether `column` takes the place of `old`, its release's column so far: a complete one replaces
    a partial one, never the other way.  Of two alike, a new run's replaces (`add` after a run: the
    column just made, whatever the clock said when the old one was recorded); in a fold
    (`by_time`), the one recorded later (a chunk of a sweep carries the history it started from, so
    an older copy of a release run again in another chunk comes back in a merge, in any order)."""
    if old is None:
        return True
    if column.complete != old.complete:
        return column.complete
    return column.recorded >= old.recorded if by_time else True


def add(history: History, columns: list[Column], by_time: bool = False) -> History:
    """`history` with `columns` added: a complete column replaces its release's, a partial one only
    a partial one (or none); of two alike in a fold (`by_time`), the later recorded (`replaces`); no
    other release is touched."""
    kept = dict(history.columns)
    for column in columns:
        if replaces(column, kept.get(column.release), by_time):
            kept[column.release] = column
    return history.model_copy(update={"columns": kept})


def fold(histories: list[History]) -> History:
    """Several histories as one (a merge of chunks): every column, the complete over the partial and
    the later recorded of two alike, whatever the order; the later published list."""
    out = History()
    for h in histories:
        out = add(out, [h.columns[r] for r in h.releases()], by_time=True)
        if len(h.published) >= len(out.published):
            out = out.model_copy(update={"published": h.published, "published_on": h.published_on})
        if h.article_era.release:
            out = out.model_copy(update={"article_era": h.article_era})
        if h.sample:
            out = out.model_copy(update={"sample": h.sample})
    return out


def made_on(history: History, commits: list[str]) -> History:
    """`history` with only the columns a suite commit starting with one of `commits` made (a column of
    two backends' runs names both); raises HistoryError when none is left."""
    def ours(column: Column) -> bool:
        return any(part.startswith(c) for part in column.suite_commit.split("+") for c in commits if c)
    kept = {r: c for r, c in history.columns.items() if ours(c)}
    if not kept:
        raise HistoryError(f"no column of this history was made on suite commit {', '.join(commits)}: its commits are "
                           f"{', '.join(sorted({c.suite_commit or 'unknown' for c in history.columns.values()}))}")
    return history.model_copy(update={"columns": kept})


def done(history: History, commit: str) -> set[str]:
    """The releases a rerun on `commit` can skip: their column is complete and made on that commit."""
    return {r for r, c in history.columns.items() if c.complete and commit and c.suite_commit == commit}


def columns_of_runs(outcomes: list[Outcome], runs: list[str], run_commits: dict[str, str],
                    backends: dict[str, bool], article_sha256: str) -> list[Column]:
    """The columns of several runs' outcomes (a merge): each run's column of a release on its own
    commit; of a release's columns the complete ones count (a partial one only when none is), the
    last run of a backend replaces an earlier one, and the columns of different backends (a Linux
    and a macOS run) are one column of their union."""
    expected = release_scenarios()
    by_run: dict[str, list[Outcome]] = defaultdict(list)
    for o, run in zip(outcomes, runs):
        by_run[run].append(o)
    by_release: dict[str, list[Column]] = defaultdict(list)
    for run, seen in by_run.items():
        for column in columns_of(seen, backends, article_sha256, run_commits.get(run, ""), expected):
            by_release[column.release].append(column)
    out = []
    for release, found in sorted(by_release.items(), key=lambda kv: release_key(kv[0])):
        chosen = [c for c in found if c.complete] or found
        per_backend = {tuple(sorted(c.backends)): c for c in chosen}
        if len(per_backend) == 1:
            out.append(next(iter(per_backend.values())))
            continue
        parts = list(per_backend.values())
        out.append(Column(release=release, article_sha256=article_sha256,
                          suite_commit="+".join(sorted({c.suite_commit for c in parts} - {""})),
                          complete=all(c.complete for c in parts),
                          missing=sorted({m for c in parts for m in c.missing}),
                          backends={k: v for c in parts for k, v in c.backends.items()}, recorded=now(),
                          outcomes=[o for c in parts for o in c.outcomes]))
    return out


def accumulate(out: Path, outcomes: list[Outcome], backends: dict[str, bool], article_sha256: str, ledger,
               more: Sequence[History] = (), runs: list[str] | None = None,
               run_commits: dict[str, str] | None = None) -> History | None:
    """A run's (or a merge's: `runs` names each outcome's run, `run_commits` each run's commit)
    releases added to the history it finds (`base_for`, and the `more` histories of the folders it
    merged), written back to `out` as release-history.{json,md,html}.  None when the outcomes hold
    no release and there is no history to carry."""
    if runs is None:
        columns = columns_of(outcomes, backends, article_sha256)
    else:
        columns = columns_of_runs(outcomes, runs, run_commits or {}, backends, article_sha256)
    base = fold([base_for(out), *more])
    if not columns and not base.columns:
        return None
    history = add(base, columns)
    write(history, ledger, out)
    return history


# ---------------------------------------------------------------- folding and rendering

def _era(history: History) -> str:
    return history.article_era.release


def fold_cells(history: History, ledger) -> tuple[list[str], list[dict]]:
    from keychain_claims.reports.matrix import cells
    return cells(history.outcomes(), ledger)


def _not_checkable_reasons(cell: dict) -> list[str]:
    """Why a cell could not be checked, one reason per skipped scenario (the same said once), each
    said of "the release" (not of its version), so releases that fail to check a claim for the same
    reason share one key of the legend."""
    version = re.escape(cell["release"])
    reasons = [re.sub(rf"(?:Claude Code )?(?<![@\w.]){version}\b", "the release",      # not in a package@version
                      first_sentence(re.sub(r"^not checkable:\s*", "", e["reason"], flags=re.I)))
               for e in cell["evidence"] if e["result"] == "skipped" and e["reason"]]
    return list(dict.fromkeys(reasons)) or ["no scenario for it ran"]


def _reason_keys(rows: list[dict]) -> dict[str, tuple[int, list[str]]]:
    """Every not-checkable reason of the page -> its key number (n1, n2 …) and the releases it holds for."""
    keys: dict[str, tuple[int, list[str]]] = {}
    for row in rows:
        if row["verdict"] == Verdict.NOT_CHECKABLE:
            for why in _not_checkable_reasons(row):
                n, seen = keys.setdefault(why, (len(keys) + 1, []))
                if row["release"] not in seen:
                    seen.append(row["release"])
    for _, seen in keys.values():
        seen.sort(key=release_key)
    return keys


def changes(history: History, releases: list[str], rows: list[dict]) -> list[dict]:
    """Each change of a row's verdict between two checkable releases A and B (consecutive among the
    releases that could check it): B, and whether B is the first release that shows it (every
    published release between A and B was run) or the releases bisect should search."""
    published = history.published
    index = {r: n for n, r in enumerate(published)}
    by: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in rows:
        by[row["claim"]][row["release"]] = row
    found = []
    for claim, cells in by.items():
        before = None
        for release in releases:
            cell = cells.get(release)
            if cell is None or cell["verdict"] == Verdict.NOT_CHECKABLE:
                continue
            if before is not None and cell["verdict"] != before["verdict"]:
                a, b = before["release"], release
                known = a in index and b in index          # without the registry's list, what lies between is unknown
                unrun = [r for r in published[index[a] + 1:index[b]] if r not in history.columns] if known else [b]
                found.append({"claim": claim, "kind": cell.get("kind", "claim"), "from": before["verdict"],
                              "to": cell["verdict"], "last_before": a, "first": b if not unrun else None,
                              "unrun_between": len(unrun) if known else None, "search": f"{a}..{b}" if unrun else "",
                              "evidence_before": before["evidence"], "evidence_after": cell["evidence"]})
            before = cell
    return found


def groups(releases: list[str], rows: list[dict]) -> list[list[str]]:
    """Consecutive releases whose every row has the same verdict: one group each."""
    vector = {r: tuple(sorted((row["claim"], str(row["verdict"])) for row in rows if row["release"] == r))
              for r in releases}
    out: list[list[str]] = []
    for r in releases:
        if out and vector[out[-1][-1]] == vector[r]:
            out[-1].append(r)
        else:
            out.append([r])
    return out


def _ranges(versions: list[str], published: list[str]) -> list[str]:
    """`versions` (a subset of `published`) as runs of consecutive published releases: 'A … B (n)'."""
    index = {r: n for n, r in enumerate(published)}
    out: list[list[str]] = []
    run: list[str] = []
    for v in versions:
        if run and index.get(v) == index.get(run[-1], -2) + 1:
            run.append(v)
        else:
            if run:
                out.append(run)
            run = [v]
    if run:
        out.append(run)
    return [r[0] if len(r) == 1 else f"{r[0]} … {r[-1]} ({len(r)})" for r in out]


def _inline(text: str) -> str:
    """Text from a reason or a quote as HTML: escaped, its `code` and **bold** spans rendered."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)


def _unmarked(text: str) -> str:
    """Text for a tooltip: the markdown marks dropped."""
    return re.sub(r"`|\*\*", "", text)


_MARK = {"holds": "✓", "contradicted": "C", "fails": "✗", "no-longer-contradicted": "N",
         "reproduced": "R", "not reproduced": "✗", "not-checkable": ""}


def _colour(row: dict) -> str:
    return (OmissionVerdict if row.get("kind") == "omission" else Verdict)(row["verdict"]).colour


def _label(row: dict) -> str:
    return (OmissionVerdict if row.get("kind") == "omission" else Verdict)(row["verdict"]).label


def coverage_line(history: History) -> str:
    swept, listed = len(history.columns), len(history.published)
    if not listed:
        return f"{swept} releases run"
    return f"{swept} of {listed} published releases run"


def sample_line(history: History) -> str:
    """Which list the releases were counted against, and the rule that chose them when not all ran."""
    if not history.published:
        return ""
    return (f"npm's list of {history.published_on or 'an unknown date'}"
            + (f"; the releases run were chosen by a rule written first: {history.sample}"
               if history.sample and len(history.columns) < len(history.published) else "") + ".")


def markdown(history: History, releases: list[str], rows: list[dict], found: list[dict]) -> str:
    era = _era(history)
    head = [f"# Claims × Claude Code releases: {coverage_line(history)}", ""] + (
        [sample_line(history), ""] if history.published else [])
    if era:
        head.append(f"Article era: **{era}** (the release current on the article's date, "
                    f"{history.article_era.date}), marked ★.")
        head.append("")
    names = [f"{r}{' ★' if r == era else ''}" for r in releases]
    table = ["| claim | " + " | ".join(names) + " |", "|---|" + "---|" * len(releases)]
    by = {(r["claim"], r["release"]): r for r in rows}
    keys = _reason_keys(rows)

    def cell(row: dict) -> str:
        if row["verdict"] != Verdict.NOT_CHECKABLE:
            return _label(row)
        return "not checkable (" + ", ".join(f"n{keys[w][0]}" for w in _not_checkable_reasons(row)) + ")"
    for claim in dict.fromkeys(r["claim"] for r in rows):
        table.append(f"| {claim} | " + " | ".join(
            (cell(by[(claim, r)]) if (claim, r) in by else "—") for r in releases) + " |")
    lines = head + table
    if keys:
        lines += ["", "## Why not checkable", ""] + [
            f"- n{n}: {why.replace('|', '/')} (on {', '.join(_ranges(seen, releases))})" for why, (n, seen) in keys.items()]
    lines += ["", "## Changes of verdict", ""]
    if not found:
        lines.append("No verdict changes between the releases run.")
    for c in found:
        where = (f"first shown by **{c['first']}** (last before: {c['last_before']})" if c["first"] else
                 f"between {c['last_before']} and {c['search'].split('..')[1]}: "
                 + (f"{c['unrun_between']} release(s) between not run" if c["unrun_between"] is not None else
                    "the releases between are not known (no registry list recorded)")
                 + f" (`keychain-claims bisect {c['claim']} --good {c['last_before']} "
                 f"--bad {c['search'].split('..')[1]}`)")
        lines.append(f"- {c['claim']}: {c['from']} → {c['to']}, {where}")
    skipped = history.not_swept()
    if skipped:
        lines += ["", f"## Not yet run ({len(skipped)})", "", ", ".join(_ranges(skipped, history.published))]
    return "\n".join(lines) + "\n"


def page(history: History, releases: list[str], rows: list[dict], found: list[dict], ledger) -> str:
    """The HTML page: a table (claims down, releases across, runs of agreeing releases grouped),
    a legend of verdicts and of the not-checkable reasons, the changes, the releases not run."""
    era = _era(history)
    esc = html.escape
    by = {(r["claim"], r["release"]): r for r in rows}
    keys = _reason_keys(rows)
    reasons = {why: n for why, (n, _) in keys.items()}
    reason_releases = {why: seen for why, (_, seen) in keys.items()}
    quotes = {c.id: c.quote for c in ledger}
    quotes.update({o.id: o.statement for o in getattr(ledger, "omissions", {}).values()})
    grouped = groups(releases, rows)
    changed = {(c["claim"], c["first"] or c["search"].split("..")[1]) for c in found}
    # header: one row of groups, one of releases
    top = "".join(
        f"<th colspan={len(g)} class='grp{' agree' if len(g) > 1 else ''}'"
        + (f" title='{esc(g[0])} … {esc(g[-1])}: every row has the same verdict'>{len(g)} agree" if len(g) > 1 else ">")
        + "</th>" for g in grouped)
    starts = {g[0] for g in grouped}
    second = "".join(
        f"<th class='rel{' era' if r == era else ''}{' gs' if r in starts else ''}'"
        f"{' title=' + chr(39) + 'article era: the release current on ' + esc(history.article_era.date) + chr(39) if r == era else ''}>"
        f"<span>{esc(r)}{' ★' if r == era else ''}</span></th>" for r in releases)
    body = []
    kinds = [("claim", [c for c in dict.fromkeys(r["claim"] for r in rows if r.get("kind") != "omission")]),
             ("omission", [c for c in dict.fromkeys(r["claim"] for r in rows if r.get("kind") == "omission")])]
    for kind, ids in kinds:
        if kind == "omission" and ids:
            body.append(f"<tr class=sep><th class=claim>What the article misses (omissions)</th>"
                        f"<td colspan={len(releases)}></td></tr>")
        for cid in ids:
            cells = []
            for r in releases:
                cls = (" era" if r == era else "") + (" gs" if r in starts else "")
                cell = by.get((cid, r))
                if cell is None:
                    cells.append(f"<td class='none{cls}' title='{esc(cid)} on {esc(r)}: no scenario'>·</td>")
                    continue
                verdict = str(cell["verdict"])
                if verdict == Verdict.NOT_CHECKABLE:
                    why = _not_checkable_reasons(cell)
                    text = f"n{reasons[why[0]]}" + ("+" if len(why) > 1 else "")
                    tip = (f"{cid} on {r}: not checkable — "
                           + "; ".join(f"n{reasons[w]} {_unmarked(w)}" for w in why))
                else:
                    text = _MARK.get(verdict, "?")
                    tip = f"{cid} on {r}: {_label(cell)} — {cell['coverage']['ran']} of {cell['coverage']['total']} scenarios ran"
                    if cell.get("in_range") is False:
                        tip += " (release outside the omission's releases)"
                mark = " chg" if (cid, r) in changed else ""
                cells.append(f"<td class='v{cls}{mark}' style='background:{_colour(cell)}' data-claim='{esc(cid)}' "
                             f"data-release='{esc(r)}' data-verdict='{esc(verdict)}' title='{esc(tip)}'>{esc(text)}</td>")
            body.append(f"<tr><th class=claim title='{esc(' '.join(quotes.get(cid, '').split()))}'>{esc(cid)}</th>"
                        + "".join(cells) + "</tr>")
    legend = "".join(f"<span class=key><i style='background:{v.colour}'>{_MARK.get(v.value, '')}</i>{esc(v.label)}</span>"
                     for v in Verdict if v != Verdict.NOT_CHECKABLE)
    if any(r.get("kind") == "omission" for r in rows):
        legend += " | omission: " + "".join(
            f"<span class=key><i style='background:{v.colour}'>{_MARK.get(v.value, '')}</i>{esc(v.label)}</span>"
            for v in OmissionVerdict if v != OmissionVerdict.NOT_CHECKABLE)
    legend += "<span class=key><i class=chgkey></i>verdict changed here</span>"
    legend = legend.replace(" | omission: ", " &nbsp; omission: ")
    why_list = "".join(
        f"<li><b>n{n}</b> {_inline(text)} <small>(on {esc(', '.join(_ranges(reason_releases[text], releases)))})</small></li>"
        for text, n in reasons.items())
    by_boundary: dict[tuple, list[dict]] = defaultdict(list)
    for c in found:
        by_boundary[(c["last_before"], c["first"] or c["search"].split("..")[1], c["first"] is not None,
                     c["unrun_between"])].append(c)
    change_items = []
    for (before, after, exact, unrun), items in by_boundary.items():
        where = (f"<b>{esc(after)}</b> is the first release that shows it (the one before, {esc(before)}, was run)"
                 if exact else
                 f"first shown between {esc(before)} and <b>{esc(after)}</b>: "
                 + (f"{unrun} release(s) between them not run yet " if unrun is not None else
                    "the releases between them are not known (<code>history render --registry</code> records npm's list) ")
                 +
                 f"(<code>keychain-claims bisect CLAIM --good {esc(before)} --bad {esc(after)} "
                 f"--history docs/history/history.json</code> finds the first)")
        rows_ = []
        for c in items:
            ev = "".join(f"<li>{esc(side)}: {esc(e['scenario'])} — {esc(e['result'])}"
                         f"{(' (' + _inline(first_sentence(e['reason'])) + ')') if e.get('reason') else ''}</li>"
                         for side, evidence in ((before, c["evidence_before"]), (after, c["evidence_after"]))
                         for e in evidence if e["result"] != "skipped")
            rows_.append(f"<li><b>{esc(c['claim'])}</b>: {esc(str(c['from']))} → <b>{esc(str(c['to']))}</b>"
                         f"<details><summary>evidence on {esc(before)} and {esc(after)}</summary><ul>{ev}</ul></details></li>")
        change_items.append(f"<li>{esc(before)} → {esc(after)}: {where}<ul>{''.join(rows_)}</ul></li>")
    unchecked = [c.id for c in ledger if c.id not in {r["claim"] for r in rows}]
    skipped = history.not_swept()
    commits = sorted({c.suite_commit or "unknown" for c in history.columns.values()})
    partial = [r for r in releases if not history.columns[r].complete]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Claims × Claude Code release history</title><style>"
        "body{font:13px Helvetica,Arial,sans-serif;margin:12px 16px;color:#212529}"
        "h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 6px}p{margin:4px 0}"
        ".wrap{overflow-x:auto;max-width:100%}table.h{border-collapse:collapse}"
        "table.h th,table.h td{border:1px solid #fff;padding:0;height:20px}"
        "th.claim{position:sticky;left:0;background:#fff;text-align:left;padding:0 8px 0 0;white-space:nowrap;"
        "font-weight:600;z-index:1}"
        "th.rel{height:74px;width:30px;vertical-align:bottom;font-weight:normal}"
        "th.rel span{display:inline-block;writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;"
        "padding-bottom:2px}"
        "th.grp{font-weight:normal;font-size:11px;color:#495057;text-align:left;white-space:nowrap;padding:0 2px}"
        "th.grp.agree{border-bottom:2px solid #868e96}"
        "td.v{width:30px;min-width:30px;font-size:10px;text-align:center;color:#fff;font-weight:700;cursor:help}"
        "td.none{text-align:center;color:#adb5bd;background:#f1f3f5}"
        ".gs{border-left:3px solid #fff!important}"
        "th.era{background:#fff3bf;font-weight:700}td.era{box-shadow:inset 0 0 0 2px #f08c00}"
        "td.chg{outline:2px solid #000;outline-offset:-2px}"
        "tr.sep th{padding-top:8px;color:#495057;font-style:italic}"
        ".key{margin-right:12px;white-space:nowrap}.key i{display:inline-block;min-width:16px;height:16px;"
        "margin-right:4px;vertical-align:middle;color:#fff;font-style:normal;font-weight:700;font-size:11px;"
        "text-align:center;line-height:16px}"
        "i.chgkey{outline:2px solid #000;outline-offset:-2px;background:#e9ecef}"
        "ul.why{columns:2;margin:4px 0;padding-left:18px}ul.why li{break-inside:avoid}"
        "</style></head><body>"
        f"<h1>Claims × Claude Code releases: {esc(coverage_line(history))}</h1>"
        + (f"<p><small>{esc(sample_line(history))}</small></p>" if history.published else "")
        +
        f"<p class=legend>{legend}"
        + (f" <span class=key><i style='background:#fff3bf;color:#000'>★</i>article era: {esc(era)}, current on "
           f"{esc(history.article_era.date)}</span>" if era else "")
        + "</p>"
        "<p><small>Cell text: the verdict's mark; <b>n1</b>, <b>n2</b> … not checkable, for the reason of that key "
        "(<b>n1+</b>: and more; hover a cell for all, or see “Why not checkable” below). Hover a claim for its quote."
        "</small></p>"
        f"<div class=wrap><table class=h><tr><th class=claim></th>{top}</tr><tr><th class=claim>claim</th>{second}</tr>"
        + "".join(body) + "</table></div>"
        + f"<h2>Why not checkable</h2><ul class=why>{why_list or '<li>every cell could be checked</li>'}</ul>"
        + f"<h2>Changes of verdict ({len(found)}, at {len(by_boundary)} boundar{'y' if len(by_boundary) == 1 else 'ies'})</h2><ul>{''.join(change_items) or '<li>no verdict changed between the releases run</li>'}</ul>"
        + (f"<h2>Not yet run ({len(skipped)} of {len(history.published)})</h2><p>{esc(', '.join(_ranges(skipped, history.published)))}</p>"
           if skipped else "")
        + (f"<h2>Claims no release scenario checks ({len(unchecked)})</h2><p>their verdict does not depend on "
           f"the release (claims.md has them): {esc(', '.join(unchecked))}</p>" if unchecked else "")
        + (f"<h2>Partial columns ({len(partial)})</h2><p>{esc(', '.join(partial))}: some release scenarios have no "
           "result (a later complete run replaces them)</p>" if partial else "")
        + f"<p><small>Suite commit(s): {esc(', '.join(commits))}. Folded from each column's scenario outcomes "
          "(release-history.json) by <code>keychain-claims history</code>.</small></p>"
        "</body></html>\n")


def write(history: History, ledger, out: Path, stem: str = "release-history") -> list[Path]:
    """history -> `stem`.json (the model, with the fold), `stem`.md and `stem`.html in `out`."""
    releases, rows = fold_cells(history, ledger)
    releases = history.releases()
    found = changes(history, releases, rows)
    doc = history.model_copy(update={"cells": [_plain(r) for r in rows], "changes": [_plain(c) for c in found]})
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.json", out / f"{stem}.md", out / f"{stem}.html"]
    atomic.write_text(paths[0], redact(doc.model_dump_json(indent=1)))
    atomic.write_text(paths[1], redact(markdown(history, releases, rows, found)))
    atomic.write_text(paths[2], redact(page(history, releases, rows, found, ledger)))
    return paths


def _plain(value):
    return json.loads(json.dumps(value, default=str))


# ---------------------------------------------------------------- the registry's list, the article era

def article_date(article) -> str:
    """The article's `created:` date (its front matter), "" when it names none."""
    found = re.search(r"^created:\s*['\"]?(\d{4}-\d{2}-\d{2})", article.text.split("\n---", 1)[0], re.M)
    return found[1] if found else ""


def registry_snapshot(history: History, article, package: str | None = None) -> History:
    """`history` with the registry's list of today (`published`, `published_on`) and the article
    era: the release published last on or before the article's date, by npm's `time` document
    (its stamps, not the list's order, say what was current that day)."""
    package = package or npm.PACKAGE
    try:
        versions, _ = published(package)
        stamps = json.loads(npm.run("view", package, "time", "--json"))
    except (ReleaseError, ValueError) as exc:
        raise HistoryError(f"the registry's list could not be read ({exc}); check the network and retry") from None
    day = article_date(article)
    era = max((v for v in versions if str(stamps.get(v, ""))[:10] <= day and v in stamps),
              key=lambda v: stamps[v], default="") if day else ""
    return history.model_copy(update={"published": versions, "published_on": now()[:10],
                                      "article_era": ArticleEra(release=era, date=day)})


# ---------------------------------------------------------------- a sweep in chunks that survive being stopped

COST_FILE = "cost.jsonl"


def _size(path: Path) -> int:
    total = 0
    for p in path.rglob("*") if path.exists() else ():
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            pass
    return total


def _downloaded(log: Path) -> int:
    """Bytes the release cache said it downloaded in a run (release-cache.log: 'downloaded …: 56 MB')."""
    try:
        text = log.read_text()
    except OSError:
        return 0
    return sum(int(float(n) * 1000 ** " KMG".index(u.upper())) for n, u in
               re.findall(r"downloaded [^:]+: ([\d.]+) ([kKMG])B", text))


def kept_in(runs: Path) -> History:
    """Every chunk's history under `runs`, folded."""
    return fold([load(p) for p in sorted(runs.glob(f"*/{HISTORY_FILE}"))])


def sweep(versions: list[str], runs: Path, chunk: int, pytest_args: Sequence[str] = (),
          say=print) -> list[dict]:
    """Run the release scenarios on `versions` in chunks of `chunk` releases, each chunk a pytest
    run of its own into a folder of its own under `runs` (its outcomes, results and history kept
    however the next one ends).  A release whose column under `runs` is complete for this suite
    commit is not run again, so a stopped sweep goes on where it stopped.  One line per chunk of
    what it cost goes to `runs`/cost.jsonl (wall and CPU seconds, bytes downloaded, the cache's and
    the runs' size after it); returns those lines."""
    import resource
    import sys
    import time
    runs.mkdir(parents=True, exist_ok=True)
    commit = suite_commit()
    if commit.endswith("-dirty") or not commit:
        say(f"note: the suite's work tree is {'not a git checkout' if not commit else 'changed'}: "
            "a rerun cannot tell its columns apart from another checkout's, so nothing is skipped")
    costs = []
    for part in chunks(versions, chunk):
        finished = done(kept_in(runs), commit) if commit and not commit.endswith("-dirty") else set()
        todo = [v for v in part if v not in finished]
        if not todo:
            say(f"skip {part[0]}..{part[-1]}: complete for {commit}")
            continue
        folder = runs / f"{todo[0]}..{todo[-1]}"
        n = 1
        while folder.exists():
            n += 1
            folder = runs / f"{todo[0]}..{todo[-1]}-{n}"
        cmd = [sys.executable, "-m", "pytest", "-m", "release", "-q", "-p", "no:cacheprovider",
               "--claude-code", ",".join(todo), f"--reports-dir={folder}",
               f"--alluredir={folder / 'allure-results'}", *pytest_args]
        say(f"run {','.join(todo)} -> {folder}")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        tail = (proc.stdout.strip().splitlines() or ["no output"])[-1]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "pytest.log").write_text(proc.stdout + proc.stderr)
        column = load(folder / HISTORY_FILE).columns
        cost: dict[str, Any] = {"releases": todo, "folder": folder.name, "exit": proc.returncode, "summary": tail,
                "complete": [v for v in todo if v in column and column[v].complete],
                "wall_s": round(time.monotonic() - started, 1),
                "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
                "downloaded_bytes": _downloaded(folder / "release-cache.log"),
                "cache_bytes": _size(cache_dir()), "runs_bytes": _size(runs), "at": now()}
        lines = [*(runs / COST_FILE).read_text().splitlines(), json.dumps(cost)] if (runs / COST_FILE).exists() \
            else [json.dumps(cost)]
        atomic.write_text(runs / COST_FILE, "\n".join(lines) + "\n")
        say(f"  {tail}  ({cost['wall_s']} s wall, {cost['cpu_s']} s CPU, "
            f"{cost['downloaded_bytes'] / 1e6:.0f} MB downloaded; complete: {', '.join(cost['complete']) or 'none'})")
        costs.append(cost)
    return costs


def cost_summary(runs: Path, total: int) -> list[str]:
    """What the chunks under `runs` cost (cost.jsonl), per release and extrapolated to `total` releases."""
    try:
        lines = [json.loads(l) for l in (runs / COST_FILE).read_text().splitlines() if l.strip()]
    except (OSError, ValueError):
        raise HistoryError(f"{runs / COST_FILE} is missing or unreadable; run `keychain-claims history run` first") from None
    n = sum(len(c["releases"]) for c in lines)
    if not n:
        return ["no release was run"]
    wall, cpu = sum(c["wall_s"] for c in lines), sum(c["cpu_s"] for c in lines)
    down = sum(c["downloaded_bytes"] for c in lines)
    peak = max(c["cache_bytes"] + c["runs_bytes"] for c in lines)
    out = [f"{n} releases in {len(lines)} chunk(s): {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU, "
           f"{down / 1e6:.0f} MB downloaded, peak disk {peak / 1e9:.2f} GB (cache + runs)",
           f"per release: {wall / n:.0f} s wall, {cpu / n:.0f} s CPU, {down / n / 1e6:.0f} MB downloaded"]
    if total > n:
        out.append(f"extrapolated to {total} releases (linear in releases; the sample's mix of JS-era and native "
                   f"releases, one process): {wall / n * total / 3600:.1f} h wall, {cpu / n * total / 3600:.1f} h CPU, "
                   f"{down / n * total / 1e9:.1f} GB downloaded; disk stays bounded by KEYCHAIN_CLAIMS_CACHE_MAX "
                   "(least recently used releases are evicted)")
    return out
