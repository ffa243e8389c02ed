"""A real run becomes an HTML report that answers a reviewer at a glance (issue 6, issue 16):
the first screen names the verdicts and the contradicted claims, every scenario result carries
its verdict, the annotated article highlights every claim, and the claims x releases matrix is
drawn.  Real Chromium looks at all three; its screenshots go to reports/screenshots/, and refresh
docs/ only when KEYCHAIN_CLAIMS_REFRESH_DOCS=1 (issue 22)."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.verdict import OMISSION_VERDICTS
from keychain_claims.claims.verdicts import compute, compute_omissions
from keychain_claims.reports.markdown import write
from keychain_claims.reports.allure import SHOWS, few_words
from keychain_claims.claims.files import ClaimsTable
from keychain_claims.reports.article import SECTION_HEADINGS, _plain, build, claim_views, omission_views
from tests import ROOT, child

CHECK = ROOT / "tests" / "browser" / "report_check.cjs"
DOCS = ROOT / "docs"
SHOTS = ROOT / "reports" / "screenshots"       # git-ignored; docs/ only on request
REFRESH_DOCS = "KEYCHAIN_CLAIMS_REFRESH_DOCS"
RELEASE = "2.1.81"
ARTICLE_TITLE = "Claude Code Keychain Prompt Keeps Reappearing on macOS (ACL Invalidation)"


def _labels(result: dict, name: str) -> list[str]:
    return [label["value"] for label in result.get("labels", []) if label.get("name") == name]


@pytest.fixture(scope="module")
def built_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    # the whole feature set with one release: recorded contradictions (CAU-UPDATE), passing refutations
    # (CAU-REFRESH), and the release's own scenarios that refute CAU-REFRESH and FIX-FILE-SAFE
    proc = child.run("--backend=sim", "-n", "2", f"--claude-code={RELEASE}", f"--alluredir={tmp / 'results'}",
                     f"--reports-dir={tmp / 'reports'}", timeout=None)
    assert proc.returncode == 0, proc.stdout[-2000:]
    cli = Path(sys.executable).with_name("keychain-claims")
    proc = subprocess.run([str(cli), "report", "--results", str(tmp / "results"),
                           "--output", str(tmp / "reports" / "allure-report"), "--claims", str(tmp / "reports" / "claims.json"),
                           "--history", str(tmp / "history.jsonl")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp / "reports" / "allure-report" / "index.html").exists() and (tmp / "history.jsonl").exists()
    return tmp


def _release_ran(claims: dict) -> bool:
    return any(s.get("release") == RELEASE and s["result"] != "skipped" for c in claims["claims"] for s in c["scenarios"])


@pytest.mark.suite
@pytest.mark.release
def test_report_holds_no_secret(built_report):
    leaks = [p for p in built_report.rglob("*") if p.is_file()
             and (b"KCCANARY" in p.read_bytes() or b"sk-ant-o" in p.read_bytes())]
    assert leaks == []


@pytest.mark.suite
@pytest.mark.release
def test_every_scenario_result_says_its_verdict_and_no_contradiction_looks_like_a_skip(built_report):
    results = [json.loads(p.read_text()) for p in (built_report / "results").glob("*-result.json")]
    scenarios = [r for r in results if _labels(r, "nodeid")]
    assert len(scenarios) >= 6
    assert [r["name"] for r in scenarios if len(_labels(r, "verdict")) != 1] == []
    for r in scenarios:
        verdict = _labels(r, "verdict")[0]
        linked = _labels(r, "claim")
        only_omissions = all(c.startswith("OMI-") for c in linked)
        assert verdict in (("supported", "not supported", "not-checkable") if not linked else
                           OMISSION_VERDICTS if only_omissions else
                           ("holds", "contradicted", "fails", "not-checkable", "no-longer-contradicted")), r["name"]
        assert r["description"].startswith(f"**Verdict: {verdict}**"), r["name"]
        if r["status"] == "skipped":
            assert r["statusDetails"]["message"].split(" — ")[0] in ("CONTRADICTED", "NOT CHECKABLE",
                                                                     "OMISSION NOT REPRODUCED"), r["name"]
            assert (verdict == "contradicted") == ("recorded finding still holds" in r["statusDetails"]["message"])
            assert "AssertionError" not in r["statusDetails"]["message"] + r["statusDetails"].get("trace", "")
    contradicted = {r["name"] for r in scenarios if _labels(r, "verdict") == ["contradicted"]}
    assert "A Claude Code update invalidates the grant held by security" in contradicted            # strict xfail
    assert "A token refresh updates the item in place and keeps the grant held by security" in contradicted  # refutation
    ledger = [r for r in results if r["name"].startswith("Claims ledger: verdict per claim")]
    assert len(ledger) == 1


@pytest.mark.suite
@pytest.mark.release
def test_the_corrected_article_covers_every_contradicted_claim_and_reproduced_omission(built_report):
    claims = json.loads((built_report / "reports" / "claims.json").read_text())
    contradicted = {r["claim"] for r in claims["claims"] if r["verdict"] == "contradicted"}
    reproduced = {r["omission"] for r in claims["omissions"] if r["verdict"] == "reproduced"}
    proposals = {p["id"]: p for p in claims["proposals"]}
    assert {cid for cid, p in proposals.items() if p["included"]} == contradicted | reproduced, \
        {cid: proposals.get(cid, {}).get("why") for cid in contradicted | reproduced}
    md = (built_report / "reports" / "article.proposed.md").read_text()
    for cid in contradicted | reproduced:
        assert proposals[cid]["text"] in md and proposals[cid]["support"] == "supported"
        assert any(s["result"] == "passed" and s["backend"] == "sim" for s in proposals[cid]["scenarios"]), cid


@pytest.mark.suite
@pytest.mark.release
def test_release_scenarios_contradict_refresh_and_file_safe_for_that_release(built_report):
    """Polarity: 2.1.81 passing "writes … in place" and "item name carries the config-dir hash"
    contradicts CAU-REFRESH and FIX-FILE-SAFE (issue 16's done-when)."""
    claims = json.loads((built_report / "reports" / "claims.json").read_text())
    if not _release_ran(claims):
        pytest.skip(f"Claude Code {RELEASE} could not be loaded here (no network and no cached copy)")
    matrix = json.loads((built_report / "reports" / "release-matrix.json").read_text())
    cells = {(c["claim"], c["release"]): c for c in matrix["cells"]}
    for cid, scenario in [("CAU-REFRESH", "The release writes the token with add-generic-password -U, in place"),
                          ("FIX-FILE-SAFE", "With CLAUDE_CONFIG_DIR set the release's item name carries the config-dir hash")]:
        cell = cells[(cid, RELEASE)]
        assert cell["verdict"] == "contradicted"
        evidence = [(e["scenario"], e["polarity"], e["result"]) for e in cell["evidence"]]
        assert (f"{scenario} [{RELEASE}]", "refutes", "passed") in evidence
        assert all(polarity == "refutes" and result == "passed" for _, polarity, result in evidence), evidence
        row = next(c for c in claims["claims"] if c["claim"] == cid)
        assert row["releases"][RELEASE] == "contradicted"
    md = (built_report / "reports" / "claims.md").read_text()
    assert f"| {RELEASE}: contradicted |" in md.split("| [CAU-REFRESH](#cau-refresh) |", 1)[1].split("\n", 1)[0] + "|"


@pytest.mark.suite
@pytest.mark.release
@pytest.mark.browser
def test_browser_shows_verdicts_article_and_matrix(built_report):
    if not shutil.which("chromium"):
        pytest.skip("chromium is not installed: apt-get install chromium (.ci/run does)")
    if not (ROOT / "node_modules" / "playwright-core").exists():
        pytest.skip("playwright-core is not installed: npm install (keychain-claims report does)")
    reports = built_report / "reports"
    claims = ClaimsTable.read(reports / "claims.json")
    views = claim_views(claims)
    omissions = omission_views(claims)
    contradicted = [cid for cid, v in views.items() if v["verdict"] == "contradicted"]
    assert {"CAU-UPDATE", "CAU-REFRESH"} <= set(contradicted)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(reports))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    shots = built_report / "shots"
    shots.mkdir()
    results = [json.loads(p.read_text()) for p in (built_report / "results").glob("*-result.json")]
    refuting = next(r for r in results if r["name"].startswith("A token refresh updates the item in place"))
    finding = next(r for r in results if r["name"] == "A Claude Code update invalidates the grant held by security")
    expect = {"contradicted": contradicted, "claims": {cid: v["verdict"] for cid, v in views.items()},
              "scenarioId": hashlib.md5(refuting["uuid"].encode()).hexdigest(),     # Allure 3 names a result so
              "findingScenarioId": hashlib.md5(finding["uuid"].encode()).hexdigest(),
              "groups": [SHOWS["contradicted"], SHOWS["not-checkable"]],
              "headlineStart": f"{len(views)} claims — "}
    try:
        proc = subprocess.run(["node", str(CHECK), f"http://127.0.0.1:{server.server_address[1]}/", str(shots),
                               json.dumps(expect)], capture_output=True, text=True, timeout=180, cwd=ROOT)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    # screenshots: reports/screenshots/ always; docs/ only when asked
    SHOTS.mkdir(parents=True, exist_ok=True)
    targets = [SHOTS] + ([DOCS] if os.environ.get(REFRESH_DOCS) == "1" else [])
    for png in shots.glob("*.png"):
        for target in targets:
            shutil.copy(png, target / png.name)
    headline = found["headline"]
    # the first screen, without a click: the claims counted by verdict, the contradicted ones, the omissions
    assert headline.startswith(f"{len(views)} claims — {len(contradicted)} contradicted: "), headline
    assert ARTICLE_TITLE in found["title"] or found["title"].startswith(f"{len(views)} claims")
    assert found["contradictedCount"] == len(contradicted), headline
    assert sorted(found["contradictedIds"]) == sorted(contradicted) and found["headlineVisible"], headline
    for kind, word in [("holds", "hold"), ("not-checkable", "not checkable")]:
        assert f" {sum(v['verdict'] == kind for v in views.values())} {word}" in headline, (word, headline)
    assert not any(v["verdict"] == "fails" for v in views.values()) or " fail" in headline
    reproduced = [oid for oid, v in omissions.items() if v["verdict"] == "reproduced"]
    assert f"omissions {len(reproduced)}/{len(omissions)} reproduced" in headline
    assert "sim (simulated)" in headline
    # no claim ID on the first screen is cut short, and every contradicted one is there whole
    assert found["cutIds"] == [], found["cutIds"]
    assert set(contradicted) <= set(found["firstScreenIds"]), found["firstScreenIds"]
    assert not any(i.endswith("-") or "…" in i for i in found["firstScreenIds"]), found["firstScreenIds"]
    assert found["scenarioVerdict"] == "contradicted" and found["scenarioCategory"]
    # at a laptop's 1280x800 and at 1920x1080, on load and without a scroll: the headline and every contradicted
    # claim's ID inside the window (their boxes, not merely the DOM)
    for size, screen in found["firstScreens"].items():
        assert screen["headlineInView"], (size, screen)
        assert screen["idsInView"] == {cid: True for cid in contradicted}, (size, screen["idsInView"])
        # the tree shows a contradicted scenario and a not-checkable one under different headings
        assert all(screen["groups"].values()), (size, screen["groups"], screen["treeRows"])
    assert all(found["firstScreens"]["1920x1080"]["groupsInView"].values()), found["firstScreens"]["1920x1080"]
    # a recorded finding's page: the finding once, the evidence in words (no Python repr of a prompt)
    text = found["findingPageText"]
    evidence = Ledger()["CAU-UPDATE"].findings[0].evidence
    assert text.count(" ".join(evidence.split())[:60]) == 1, text[:3000]
    assert "Prompt(" not in text and "kind='" not in text and "What the scenario saw:" in text, text[:3000]
    assert "not exercised" not in headline
    # the article: every ledger claim highlighted with its verdict, and a click shows its card with links
    assert found["highlighted"] == {c.id: views[c.id]["verdict"] for c in Ledger()}
    assert found["cardShown"] and contradicted[0] in found["cardText"] and found["cardLinks"] >= 1
    # ... and every omission a margin note, left of the text, under the heading of its section
    ledger = Ledger()
    assert sorted(n["id"] for n in found["notes"]) == sorted(ledger.omissions)
    for note in found["notes"]:
        section = ledger.omissions[note["id"]].section
        assert note["heading"].startswith(SECTION_HEADINGS[section]), note
        assert note["inMargin"] and note["verdict"] == omissions[note["id"]]["verdict"], note
    assert found["noteCardShown"] and found["noteCardLinks"] >= 1
    # the article reads well at 1280 px and at a phone's 390 px: no text under the side panel, no line cut
    for size, layout in found["articleLayout"].items():
        assert layout["before"]["bad"] == [] and layout["after"]["bad"] == [], (size, layout)
        assert not layout["before"]["pageWiderThanWindow"] and layout["cardVisible"], (size, layout)
    # its proposed corrections: every one the run proposes, the sentence as it stands and the replacement
    proposals = [p for p in claims.proposals if p.included]
    assert sorted(p["id"] for p in found["proposed"]) == sorted(p.id for p in proposals) and found["proposedMainHidden"]
    assert all(p["instead"] and p["evidence"] >= 1 for p in found["proposed"])
    assert all(p["stands"] for p in found["proposed"] if not p["id"].startswith("OMI-"))
    # the matrix
    matrix = json.loads((reports / "release-matrix.json").read_text())
    for reason in found["matrixReasons"] or []:      # a shared skip reason is said once, in the notes
        assert found["matrixText"].count(reason) == 1, reason
    assert not found["matrixWiderThanWindow"]
    assert sorted(map(tuple, found["matrix"])) == sorted((c["claim"], c["release"], c["verdict"]) for c in matrix["cells"])


# ---------------------------------------------------------------- the annotated article, without a browser

def _claims_json(tmp_path, outcomes):
    verdicts = compute(outcomes, Ledger(), Article(), {"sim": True})
    omissions = compute_omissions(outcomes, Ledger(), Article(), {"sim": True})
    json_path, _ = write(verdicts, tmp_path, Article(), {"sim": "simulated"}, omissions)
    return json_path


def test_article_highlights_every_claim_even_across_markdown_formatting(tmp_path):
    outcomes = [Outcome("n1", "S1", "sim", ["CAU-ITEM"], "passed"),
                Outcome("n2", "S2", "sim", ["CAU-UPDATE"], "xfailed", "recorded contradiction of CAU-UPDATE")]
    page, missing = build(_claims_json(tmp_path, outcomes), tmp_path / "article.html",
                          {"n2": "allure-report/index.html#abc"})
    html = page.read_text()
    assert missing == []
    marked = {cid for ids in re.findall(r'<mark class="claim[^"]*" data-claims="([^"]+)"', html) for cid in ids.split()}
    assert marked == {c.id for c in Ledger()}
    assert 'data-claims="CAU-UPDATE" data-verdict="contradicted"' in html
    assert 'data-claims="CAU-ITEM" data-verdict="holds"' in html
    # CAU-ITEM's quote crosses **login keychain** and a code span: marked in pieces, nothing lost
    pieces = re.findall(r'<mark class="claim v-holds" data-claims="CAU-ITEM"[^>]*>(.*?)</mark>', html)
    text = re.sub(r"<[^>]+>", "", "".join(pieces))
    assert len(pieces) >= 3 and text.replace(" ", "") == _plain(Ledger()["CAU-ITEM"].quote).replace(" ", "")
    assert 'href="allure-report/index.html#abc"' in html
    assert "KCCANARY" not in html


def test_article_puts_each_omission_in_the_margin_of_its_section(tmp_path):
    """Without a browser: one margin note per omission, before the block holding its anchor (or after
    its section's heading), with its verdict; its card lists the evidence addresses."""
    outcomes = [Outcome("n1", "S1", "sim", ["OMI-CO-WRITER"], "failed", "no second writer")]
    page, missing = build(_claims_json(tmp_path, outcomes), tmp_path / "article.html")
    html = page.read_text()
    assert missing == []
    notes = re.findall(r'<aside class="omission" id="note-([A-Z-]+)" data-omission="[^"]+" data-verdict="([^"]+)"', html)
    assert dict(notes) == {oid: ("not reproduced" if oid == "OMI-CO-WRITER" else "not-checkable")
                           for oid in Ledger().omissions}
    # the note for a fenced command sits before that code block, in the reset section
    reset = html.index("Keeps returning after updates")
    assert reset < html.index('id="note-OMI-SEVERAL-ITEMS"') < html.index("<pre><code>", reset)
    card = html.split('id="omission-OMI-CO-WRITER"', 1)[1].split("</section>", 1)[0]
    assert 'href="https://github.com/anthropics/claude-code/issues/62213"' in card
    assert "“S1”: no second writer" in card


def test_report_command_without_results_is_one_line(tmp_path):
    cli = Path(sys.executable).with_name("keychain-claims")
    proc = subprocess.run([str(cli), "report", "--results", str(tmp_path / "none")], capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "run the suite first" in proc.stderr


def test_report_config_names_the_article_and_counts_claims_findings_and_omissions(tmp_path):
    from keychain_claims.cli import _config
    outcomes = [Outcome("n1", "S1", "sim", ["CAU-ITEM"], "passed"),
                Outcome("n2", "S2", "sim", ["CAU-REFRESH"], "passed", release="2.1.81", refutes=["CAU-REFRESH"]),
                Outcome("n3", "S3", "sim", ["CAU-UPDATE"], "xfailed", "recorded contradiction of CAU-UPDATE"),
                Outcome("n4", "S4", "sim", ["OMI-PARTITION-RESET"], "passed")]
    doc = ClaimsTable.read(_claims_json(tmp_path, outcomes))
    path = _config(tmp_path / "html", tmp_path / "history.jsonl", doc, [tmp_path / "claims.json"])
    conf = json.loads(path.read_text().removeprefix("export default ").rstrip().rstrip(";"))
    shutil.rmtree(path.parent)
    claims = len(Ledger().claims)
    ledger = Ledger()
    # the contradicted claims by ID, each with the first words of its sentence (whole words)
    assert conf["name"].startswith(
        f"{claims} claims — 2 contradicted: CAU-UPDATE “{few_words(ledger['CAU-UPDATE'].statement)}…”; "
        f"CAU-REFRESH “{few_words(ledger['CAU-REFRESH'].statement)}…” · 1 hold · "), conf["name"]
    assert "CAU-UPDATE “Updating Claude Code…”" in conf["name"]
    assert f" · {claims - 3} not checkable | " in conf["name"]
    # no count of recorded findings: its words ("8 of 8 hold (5 not exercised)") read as a contradiction, and a
    # finding that stopped holding is a claim "no longer contradicted", named among the counts
    assert "finding" not in conf["name"] and "not exercised" not in conf["name"]
    assert "| omissions 1/5 reproduced |" in conf["name"]
    assert conf["name"].endswith("| sim (simulated), Claude Code 2.1.81")
    assert conf["plugins"]["awesome"]["options"]["reportName"] == conf["name"]
    # no variables grid: it pushed the tree below a laptop's first screen, and Allure scrolls to the tree
    assert "variables" not in conf
    # the tree's first level says what a scenario shows: a contradicted one and a not-checkable one apart
    assert conf["plugins"]["awesome"]["options"]["groupBy"] == ["shows", "claim-verdict"]
    contradicted = next(c for c in conf["categories"] if c["id"] == "contradicted")
    assert contradicted["matchers"] == {"labels": {"verdict": "^contradicted$"}}
    reproduced = next(c for c in conf["categories"] if c["id"] == "omission-reproduced")
    assert reproduced["matchers"] == {"labels": {"verdict": "^reproduced$"}}
    assert conf["globalAttachments"] == [str((tmp_path / "claims.json").resolve())]
