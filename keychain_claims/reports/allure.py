"""The suite's own files in the Allure results directory: the run's environment (ENVIRONMENT_FILE),
the verdict table as a result of its own so reviewers see it inside
the report, and — once the run's verdicts are known — a `verdict` label and the evidence on
every scenario's result (`label_results`).  The report's first screen and categories are
Allure 3 configuration (`report_config`: the report's `name` and `variables` count the claims
by verdict, the findings and the omissions; `categories` by the `verdict` label), written into
allurerc by `keychain-claims report`."""
from __future__ import annotations

import glob
import re
import hashlib
import json
import os
import platform
import sys
import textwrap
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from keychain_claims.backends import backend_title, provenance_kind
from keychain_claims.claims.files import ClaimsTable
from keychain_claims.claims.verdict import OmissionVerdict, Verdict
from keychain_claims.redact import redact
from keychain_claims.claims.verdicts import evidence_text, fold_omission, omission_result, scenario_verdict
from keychain_claims.claims.ledger import OMISSION_PREFIX
from keychain_claims.claims.proposals import support_of

NODEID_LABEL = "nodeid"          # the pytest node id, to tie a result file to its outcome
VERDICT_LABEL = "verdict"        # holds | contradicted | fails | not-checkable | no-longer-contradicted
#                                  (a scenario that links only omissions: its omission verdict)
CLAIM_VERDICT_LABEL = "claim-verdict"   # "CAU-UPDATE — contradicted": the tree groups by it
OMISSION_LABEL = "omission"             # OMI-… the scenario links (what the article misses)
OMISSION_VERDICT_LABEL = "omission-verdict"   # reproduced | not reproduced | not-checkable (this scenario's)
CATEGORIES = [   # Allure 3 category rules (allurerc `categories`), first match wins
    {"id": "contradicted", "name": "Claim contradicted (the article is wrong here)",
     "matchers": {"labels": {VERDICT_LABEL: "^contradicted$"}}, "groupBy": [{"label": "claim"}], "expand": True},
    {"id": "fails", "name": "Claim fails (a new contradiction)",
     "matchers": {"labels": {VERDICT_LABEL: "^fails$"}}, "groupBy": [{"label": "claim"}], "expand": True},
    {"id": "no-longer-contradicted", "name": "Recorded contradiction no longer holds (update the ledger)",
     "matchers": {"labels": {VERDICT_LABEL: "^no-longer-contradicted$"}}, "groupBy": [{"label": "claim"}]},
    {"id": "omission-reproduced", "name": "Omission reproduced (a cause the article misses)",
     "matchers": {"labels": {VERDICT_LABEL: "^reproduced$"}}, "groupBy": [{"label": OMISSION_LABEL}], "expand": True},
    {"id": "omission-not-reproduced", "name": "Omission not reproduced (look at the scenario)",
     "matchers": {"labels": {VERDICT_LABEL: "^not reproduced$"}}, "groupBy": [{"label": OMISSION_LABEL}]},
    {"id": "not-checkable", "name": "Not checkable here",
     "matchers": {"labels": {VERDICT_LABEL: "^not-checkable$"}}, "groupBy": [{"label": "claim"}]},
    {"id": "harness", "name": "Harness error", "matchers": {"statuses": ["broken"]}},
]
VERDICT_TEXT = {**{v.value: v.headline for v in OmissionVerdict}, **{v.value: v.headline for v in Verdict}}
# The tree's first level (label `shows`): what a scenario's result says about the article, in words, so a
# contradicted scenario and a not-checkable one (both Allure status *skipped*) sit under different headings
SHOWS_LABEL = "shows"
SHOWS = {Verdict.CONTRADICTED.value: "CONTRADICTED — the article is wrong here",
         Verdict.FAILS.value: "FAILS — a new contradiction (or a harness error): look at it",
         Verdict.NO_LONGER_CONTRADICTED.value: "NO LONGER CONTRADICTED — update the ledger",
         OmissionVerdict.REPRODUCED.value: "OMISSION REPRODUCED — a cause the article misses",
         OmissionVerdict.NOT_REPRODUCED.value: "OMISSION NOT REPRODUCED — look at the scenario",
         Verdict.HOLDS.value: "holds — the article is right here",
         Verdict.NOT_CHECKABLE.value: "not checkable here — no evidence either way",
         "supported": "PROPOSED CORRECTION SUPPORTED — states a replacement the ledger proposes",
         "not supported": "PROPOSED CORRECTION NOT SUPPORTED — fix the ledger's proposed text"}
LEDGER_SHOWS = "the verdict table — every claim's verdict (claims.md)"   # a heading too: no leaf at the tree's root
VERDICT_TEXT.update({"supported": "PROPOSED CORRECTION SUPPORTED", "not supported": "PROPOSED CORRECTION NOT SUPPORTED"})


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


# The run's environment (host, tools, `security`, the article's sha256) is kept in the results under a name
# Allure does not read: as environment.properties it became the report's Metadata block, which pushed the
# tree below a 1280x800 screen and Allure then scrolled the headline away.  The verdict table's result
# shows it as its parameters; a merge joins the runs' files (reports/merge.py).
ENVIRONMENT_FILE = "keychain-claims-environment.properties"


def environment(backend, article, releases: str = "") -> dict[str, str]:
    """The run's environment: four short entries."""
    host = f"{platform.system()} {platform.release().split('-')[0]} {platform.machine()}"
    if sys.platform == "darwin":
        host = f"macOS {platform.mac_ver()[0]} {platform.machine()}"
    return {
        "host": host,
        "python": f"{platform.python_version()} · pytest {_version('pytest')} · bdd {_version('pytest-bdd')}",
        "security": " ".join(backend.security_command()),
        "article.sha256": article.sha256[:16] + (f" · claude-code {releases}" if releases else ""),
    }


def backend_label(name: str, simulated: bool) -> str:
    """The `backend` label of a result: the backend's name and what kind of `security` it drives."""
    return backend_title(name, simulated)


def write_environment(results: Path, backend, article, releases: str = "") -> None:
    """The run's environment (ENVIRONMENT_FILE; also the parameters of the verdict table's result),
    on CI with the run that made it."""
    results.mkdir(parents=True, exist_ok=True)
    env = environment(backend, article, releases)
    if os.environ.get("CI") or os.environ.get("GITHUB_ACTIONS"):
        # the CI run that made the results: a parameter of the verdict table's result, not executor.json --
        # Allure draws that as a Metadata block above the tree, which pushes the claims headline off a
        # 1280x800 first screen on every CI runner (the users' first use)
        server, repo, run = (os.environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
        env["CI run"] = f"{server}/{repo}/actions/runs/{run}" if run else os.environ.get("GITHUB_WORKFLOW", "local CI")
    (results / ENVIRONMENT_FILE).write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    for path, _, result in scenario_results(results, label=None):
        if str(result.get("historyId", "")).startswith("claims-ledger-"):
            result["parameters"] = [p for p in result.get("parameters", []) if p.get("name") not in env] + [
                {"name": k, "value": v} for k, v in env.items()]
            Path(path).write_text(json.dumps(result))


def verdict_result(results: Path, backends: dict[str, bool], claims_md: Path) -> None:
    """The verdict table (claims.md) as a result of its own, so reviewers see it inside the report;
    several backends (a merge) are one result named by all of them, real if any is."""
    name, simulated = "+".join(sorted(backends)), all(backends.values())
    results.mkdir(parents=True, exist_ok=True)
    source = f"{uuid.uuid4()}-attachment.md"
    (results / source).write_text(redact(claims_md.read_text()))
    now = int(time.time() * 1000)
    result = {
        "uuid": str(uuid.uuid4()), "historyId": f"claims-ledger-{name}",
        "name": f"Claims ledger: verdict per claim ({name})",
        "fullName": "keychain-claims: claims ledger", "status": "passed", "stage": "finished",
        "description": "The verdict table of this run (reports/claims.md): one row per claim and backend.",
        "labels": [{"name": "feature", "value": "Claims ledger"}, {"name": "suite", "value": "Claims ledger"},
                   {"name": SHOWS_LABEL, "value": LEDGER_SHOWS},
                   {"name": "backend", "value": backend_label(name, simulated)}],
        "parameters": [{"name": "backend", "value": name}],
        "attachments": [{"name": "claims.md", "source": source, "type": "text/markdown"}],
        "start": now, "stop": now,
    }
    (results / f"{result['uuid']}-result.json").write_text(json.dumps(result))


def scenario_results(results: Path, label: str | None = NODEID_LABEL):
    """(path, pytest node id, result) of every readable result file that names its scenario (`label=None`:
    every readable result, the node id None)."""
    for path in glob.glob(str(results / "*-result.json")):
        try:
            result = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue
        nodeid = next((l["value"] for l in result.get("labels", []) if l.get("name") == NODEID_LABEL), None)
        if nodeid or label is None:
            yield path, nodeid, result


def label_results(results: Path, outcomes, verdicts, ledger, omissions=()) -> int:
    """Give every scenario's result a `verdict` label (the scenario's own, polarity folded),
    one `claim-verdict` label per linked claim (the claim's verdict in this run), `provenance`
    labels, and its evidence as the status message and at the top of the description; a
    scenario that never reached Allure (skipped before it started) gets a result of its own.
    Returns how many results were labelled."""
    by_nodeid = {o.nodeid: o for o in outcomes}
    overall = {(v.claim, v.backend): v.verdict for v in verdicts}
    overall.update({(v.omission, v.backend): f"{v.verdict} (omission)" for v in omissions})
    findings = {c.id: {f.id: f.evidence for f in c.findings} for c in ledger}
    done: set[str] = set()
    for path, nodeid, result in scenario_results(results):
        outcome = by_nodeid.get(nodeid)
        if outcome is None:
            continue
        _label(result, outcome, overall, findings, evidence_text, scenario_verdict, results)
        Path(path).write_text(redact(json.dumps(result)))
        done.add(nodeid)
    for nodeid, outcome in by_nodeid.items():
        if nodeid in done:
            continue
        now = int(time.time() * 1000)
        full = f"{outcome.feature}:{outcome.scenario}"
        result = {"uuid": str(uuid.uuid4()), "name": outcome.name, "fullName": full,
                  "historyId": hashlib.md5(nodeid.encode()).hexdigest(),
                  "testCaseId": hashlib.md5(full.encode()).hexdigest(), "status": "skipped", "stage": "finished",
                  "statusDetails": {"message": outcome.reason}, "description": "", "start": now, "stop": now,
                  "labels": [{"name": "feature", "value": outcome.feature}, {"name": NODEID_LABEL, "value": nodeid},
                             *({"name": "claim", "value": c} for c in outcome.claims),
                             *({"name": "article-section", "value": s}
                               for s in sorted({ledger[c].section for c in outcome.claims if c in ledger})),
                             {"name": "backend", "value": outcome.backend}],
                  "parameters": [{"name": "backend", "value": outcome.backend},
                                 *([{"name": "claude_release", "value": outcome.release}] if outcome.release else [])]}
        _label(result, outcome, overall, findings, evidence_text, scenario_verdict)
        (results / f"{result['uuid']}-result.json").write_text(redact(json.dumps(result)))
        done.add(nodeid)
    return len(done)


def _label(result: dict, outcome, overall, findings, evidence_text, scenario_verdict, results: Path | None = None) -> None:
    """The labels and the words of one scenario's result.  The status message says the verdict and its
    evidence once (a recorded finding: its text); the description says the verdict and what the scenario
    saw, in words (the assertion's message), not the finding a second time; pytest's traceback becomes
    an attachment ("pytest traceback") instead of the page's text."""
    claims = [c for c in outcome.claims if not c.startswith(OMISSION_PREFIX)]
    omitted = [c for c in outcome.claims if c.startswith(OMISSION_PREFIX)]
    proposes = list(getattr(outcome, "proposes", []))
    omission_verdict = fold_omission([omission_result(outcome, c) for c in omitted])
    verdict = (scenario_verdict(outcome) if claims or not (omitted or proposes)
               else omission_verdict if omitted else support_of([outcome]))
    labels = [l for l in result.get("labels", [])
              if l.get("name") not in (VERDICT_LABEL, CLAIM_VERDICT_LABEL, "provenance", OMISSION_LABEL,
                                       OMISSION_VERDICT_LABEL, SHOWS_LABEL)]
    labels.append({"name": VERDICT_LABEL, "value": verdict})
    labels.append({"name": SHOWS_LABEL, "value": SHOWS[verdict]})
    labels += [{"name": CLAIM_VERDICT_LABEL, "value": f"{c} — {overall.get((c, outcome.backend), verdict)}"}
               for c in outcome.claims]
    labels += [{"name": CLAIM_VERDICT_LABEL, "value": f"{c} — proposed correction"} for c in proposes
               if not outcome.claims]
    labels += [{"name": OMISSION_LABEL, "value": c} for c in omitted]
    if omitted:
        labels.append({"name": OMISSION_VERDICT_LABEL, "value": omission_verdict})
    labels += [{"name": "provenance", "value": p} for p in outcome.provenance]
    result["labels"] = labels
    lines = [evidence_text(outcome, c, findings.get(c)) for c in claims]
    lines += [f"{c}: omission {omission_result(outcome, c) or 'not checkable here'} — "
              + ("this scenario states the cause the article misses" if c not in outcome.refutes
                 else "this scenario states the cause absent") + (f": {outcome.reason}" if outcome.reason else "")
              for c in omitted]
    lines += [f"{c}: proposed correction {support_of([outcome])} — this scenario states the ledger's proposed "
              f"text for {c}" for c in proposes]
    # the message (Allure shows it twice: at the top and after the steps) names a recorded finding; its text
    # is said once, in the description
    short = [line.split(FINDING_HOLDS, 1)[0] + FINDING_HOLDS.rstrip(": ") + " (the description says why)"
             if FINDING_HOLDS in line else line for line in lines]
    evidence = "\n".join(short)
    head = f"{VERDICT_TEXT[verdict]} — " + ("; ".join(evidence.splitlines()) if len(lines) > 1
                                           else re.sub(r"^[\w-]+: [^—]+ — ", "", evidence))
    details = result.get("statusDetails") or {}
    saw = _saw(details, result, results)
    details["message"] = head
    result["statusDetails"] = details
    block = (f"**Verdict: {verdict}** (evidence: {', '.join(outcome.provenance)})\n\n"
             + "\n".join(f"- {line}" for line in lines)
             + (f"\n\n**What the scenario saw:** {saw}" if saw else ""))
    original = result.get("description") or ""
    if original.startswith("**Verdict: "):          # labelled before (a merge): the scenario's own text stays
        original = original.split(BLOCK_END, 1)[1] if BLOCK_END in original else ""
    result["description"] = block + BLOCK_END + original
    result.pop("descriptionHtml", None)


FINDING_HOLDS = "recorded finding still holds: "    # claims/verdicts.py evidence_text says it so
BLOCK_END = "\n\n---\n\n"      # ends the verdict block the description starts with (a rule on the page)
_ERROR_LINE = re.compile(r"^(?:E\s+)?(?:[\w.]+\.)?(?:AssertionError|\w+Error|Failed): ?(.*)$")


def _saw(details: dict, result: dict, results: Path | None) -> str:
    """What the scenario saw when it failed, in words: the assertion's message from pytest's traceback.  The
    whole traceback is kept as an attachment; the page shows the message only."""
    trace = details.pop("trace", "") or ""
    if not trace:
        return details.get("saw", "")
    found = ""
    for line in trace.splitlines():
        m = _ERROR_LINE.match(line.strip())
        if m and m.group(1).strip():
            found = m.group(1).strip()
    if results is not None:
        source = f"{uuid.uuid4()}-attachment.txt"
        (results / source).write_text(redact(trace))
        result.setdefault("attachments", []).append({"name": "pytest traceback", "source": source,
                                                     "type": "text/plain"})
    details["saw"] = found
    return found


# ---------------------------------------------------------------- the report's first screen

def claim_counts(doc: ClaimsTable) -> dict:
    """From claims.json: the claims by verdict (worst over backends, with their IDs), the recorded
    findings and how many still hold, the omissions by verdict, the backends and releases."""
    from keychain_claims.reports.article import claim_views, omission_views
    views = claim_views(doc)
    by = {k: [cid for cid, v in views.items() if v["verdict"] == k]
          for k in (Verdict.CONTRADICTED, Verdict.FAILS, Verdict.NO_LONGER_CONTRADICTED, Verdict.HOLDS,
                    Verdict.NOT_CHECKABLE)}
    recorded = sum(len(v["findings"]) for v in views.values())
    holding = {(cid, s.get("template", s["scenario"])) for cid, v in views.items() for s in v["scenarios"]
               if s["result"] == "xfailed" and s.get("polarity") != "refutes"}
    stopped = {(cid, s.get("template", s["scenario"])) for cid, v in views.items() for s in v["scenarios"]
               if s["result"] == "xpassed" and s.get("polarity") != "refutes"}
    omissions = omission_views(doc)
    by_omission = {k: [oid for oid, v in omissions.items() if v["verdict"] == k]
                   for k in OmissionVerdict}
    kinds = {row.backend: provenance_kind(row.simulated) for row in doc.claims}
    releases = sorted({r for v in views.values() for r in v["releases"]})
    return {"title": doc.article_title or doc.article or "the article", "claims": len(views),
            "by": by, "findings": recorded, "findings_hold": len(holding), "findings_stopped": len(stopped),
            "omissions": len(omissions), "by_omission": by_omission,
            "backends": ", ".join(f"{name} ({kind})" for name, kind in sorted(kinds.items())) or "?",
            "releases": releases}


def _ids(ids: list[str]) -> str:
    return f" ({', '.join(ids)})" if ids else ""


def few_words(sentence: str, words: int = 3) -> str:
    """The start of a claim's sentence, whole words only: 'Updating Claude Code invalidates'."""
    parts = " ".join(sentence.split()).rstrip(".").split(" ")
    return " ".join(parts) if len(parts) <= words else " ".join(parts[:words]).rstrip(",;:—-")


def verdict_headline(doc: ClaimsTable) -> str:
    """The report's name: the first screen's headline (it wraps, nothing in it is cut).  Contradicted and
    failing claims are named by ID with the first words of their sentence; a recorded finding that stopped
    holding is a claim "no longer contradicted", so the findings need no count of their own (its wording,
    "8 of 8 hold (5 not exercised)", read as a contradiction).  Short enough that at 1280x800 the tree's
    first row is in view on load: Allure scrolls that row into view (below its sticky filter bar), which
    took the headline off the screen; for the same reason no variables grid and no Metadata block."""
    c = claim_counts(doc)
    by, om = c["by"], c["by_omission"]
    releases = c["releases"]
    where = c["backends"] + (f", Claude Code {releases[0]}" if len(releases) == 1 else
                             f", Claude Code {releases[0]}…{releases[-1]} ({len(releases)})" if releases else "")
    statements = {row.claim: row.statement or row.quote for row in doc.claims}

    def headline(words: int, sep: str = "; ") -> str:
        def named(kind: str) -> str:
            if not by[kind]:
                return ""
            return ": " + sep.join(f"{cid} “{few_words(statements.get(cid, ''), words)}…”" if words else cid
                                   for cid in by[kind])
        return (f"{c['claims']} claims — {len(by['contradicted'])} contradicted"
                f"{named('contradicted')}" + (f" · {len(by['fails'])} fail{named('fails')}" if by["fails"] else "")
                + (f" · {len(by['no-longer-contradicted'])} no longer contradicted{_ids(by['no-longer-contradicted'])}"
                   if by["no-longer-contradicted"] else "")
                + f" · {len(by['holds'])} hold · {len(by['not-checkable'])} not checkable"
                + f" | omissions {len(om['reproduced'])}/{c['omissions']} reproduced"
                + (f", {len(om['not reproduced'])} not reproduced{_ids(om['not reproduced'])}" if om["not reproduced"] else "")
                + f" | {where}")
    # as many first words per claim as keep the headline within four lines at 1280 px, down to the IDs alone,
    # then the IDs separated by a space only: with many contradicted claims the words go before the first
    # screen does.  Every contradicted ID stays, whole, even if nothing fits.
    candidates = [headline(3), headline(2), headline(1), headline(0), headline(0, " ")]
    return next((h for h in candidates if headline_fits(h)), candidates[-1])


HEADLINE_CHARS = 372      # measured: the name wraps into four lines of Allure's headline at 1280 px
HEADLINE_LINES = 4        # measured: a fifth line and Allure scrolls its tree's first row over the headline
HEADLINE_LINE_CHARS = 76  # a line at 1280 px, counted as if no claim ID broke at its hyphens


def headline_fits(headline: str) -> bool:
    """Whether the headline keeps within HEADLINE_LINES lines at 1280 px.  Its length alone is not enough:
    a headline of claim IDs wraps only between words where Chromium does not break an ID at a hyphen
    (11 contradicted IDs in 295 characters: four lines here, with three full ones, where Chromium broke
    IDs at hyphens and filled up to 87 characters a line; a reviewer's run saw the headline off screen),
    so the lines are counted with whole words, HEADLINE_LINE_CHARS characters a line."""
    lines = textwrap.wrap(headline, HEADLINE_LINE_CHARS, break_on_hyphens=False, break_long_words=False)
    return len(headline) <= HEADLINE_CHARS and len(lines) <= HEADLINE_LINES


def report_config(output: Path, history: Path, doc: ClaimsTable | None = None, attachments=()) -> dict:
    """The Allure 3 configuration (allurerc) of the report: the verdicts in its name and variables
    (the first screen), categories by the `verdict` label, the tree grouped by article section
    then claim, the annotated article, the matrix and claims.md as global attachments."""
    name = verdict_headline(doc) if doc else "keychain-claims: claims of the keychain ACL-invalidation article"
    return {"name": name, "output": str(output.resolve()), "historyPath": str(history.resolve()),
            "categories": CATEGORIES,
            "globalAttachments": [str(p.resolve()) for p in attachments if p.exists()],
            "plugins": {"awesome": {"options": {"reportLanguage": "en", "reportName": name,
                                                "groupBy": [SHOWS_LABEL, CLAIM_VERDICT_LABEL],
                                                "defaultSortBy": "name,asc",     # CONTRADICTED first
                                                "layout": "base"}}}}
