"""The suite's own files in the Allure results directory: environment.properties,
executor.json (on CI), the verdict table as a result of its own so reviewers see it inside
the report, and — once the run's verdicts are known — a `verdict` label and the evidence on
every scenario's result (`label_results`).  The report's categories (by the `verdict` label)
are Allure 3 configuration: `CATEGORIES`, written into allurerc by keychain_claims/cli.py."""
from __future__ import annotations

import glob
import re
import hashlib
import json
import os
import platform
import sys
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from keychain_claims.redact import redact

NODEID_LABEL = "nodeid"          # the pytest node id, to tie a result file to its outcome
VERDICT_LABEL = "verdict"        # holds | contradicted | fails | not-checkable | no-longer-contradicted
CLAIM_VERDICT_LABEL = "claim-verdict"   # "CAU-UPDATE — contradicted": the tree groups by it
CATEGORIES = [   # Allure 3 category rules (allurerc `categories`), first match wins
    {"id": "contradicted", "name": "Claim contradicted (the article is wrong here)",
     "matchers": {"labels": {VERDICT_LABEL: "^contradicted$"}}, "groupBy": [{"label": "claim"}], "expand": True},
    {"id": "fails", "name": "Claim fails (new contradiction or harness error)",
     "matchers": {"labels": {VERDICT_LABEL: "^fails$"}}, "groupBy": [{"label": "claim"}], "expand": True},
    {"id": "no-longer-contradicted", "name": "Recorded contradiction no longer holds (update the ledger)",
     "matchers": {"labels": {VERDICT_LABEL: "^no-longer-contradicted$"}}, "groupBy": [{"label": "claim"}]},
    {"id": "not-checkable", "name": "Not checkable here",
     "matchers": {"labels": {VERDICT_LABEL: "^not-checkable$"}}, "groupBy": [{"label": "claim"}]},
    {"id": "harness", "name": "Harness error", "matchers": {"statuses": ["broken"]}},
]
VERDICT_TEXT = {"holds": "HOLDS", "contradicted": "CONTRADICTED", "fails": "FAILS",
                "no-longer-contradicted": "NO LONGER CONTRADICTED", "not-checkable": "NOT CHECKABLE"}


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def environment(backend, article, releases: str = "") -> dict[str, str]:
    env = {
        "host.os": f"{platform.system()} {platform.release()}",
        "host.machine": platform.machine(),
        "backend": f"{backend.name} ({'simulated' if backend.simulated else 'real macOS'})",
        "security": " ".join(backend.security_command()),
        "python": platform.python_version(),
        "pytest": _version("pytest"), "pytest-bdd": _version("pytest-bdd"),
        "article": str(article.path.name), "article.sha256": article.sha256,
        "claude-code": releases or "none",
    }
    if sys.platform == "darwin":
        env["macos.version"] = platform.mac_ver()[0]
    return env


def write(results: Path, backend, article, claims_md: Path | None, releases: str = "") -> None:
    results.mkdir(parents=True, exist_ok=True)
    props = "".join(f"{k}={v}\n" for k, v in environment(backend, article, releases).items())
    (results / "environment.properties").write_text(props)
    if os.environ.get("CI") or os.environ.get("GITHUB_ACTIONS"):
        server, repo, run = (os.environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
        executor = {"name": "GitHub Actions" if os.environ.get("GITHUB_ACTIONS") else "CI", "type": "github",
                    "buildName": os.environ.get("GITHUB_WORKFLOW", "local CI"), "buildOrder": run,
                    "buildUrl": f"{server}/{repo}/actions/runs/{run}" if run else ""}
        (results / "executor.json").write_text(json.dumps(executor, indent=2))
    if claims_md and claims_md.exists():
        _verdict_result(results, backend, claims_md)


def _verdict_result(results: Path, backend, claims_md: Path) -> None:
    source = f"{uuid.uuid4()}-attachment.md"
    (results / source).write_text(redact(claims_md.read_text()))
    now = int(time.time() * 1000)
    result = {
        "uuid": str(uuid.uuid4()), "historyId": f"claims-ledger-{backend.name}",
        "name": f"Claims ledger: verdict per claim ({backend.name})",
        "fullName": "keychain-claims: claims ledger", "status": "passed", "stage": "finished",
        "description": "The verdict table of this run (reports/claims.md): one row per claim and backend.",
        "labels": [{"name": "feature", "value": "Claims ledger"}, {"name": "suite", "value": "Claims ledger"},
                   {"name": "backend", "value": f"{backend.name} ({'simulated' if backend.simulated else 'real macOS'})"}],
        "parameters": [{"name": "backend", "value": backend.name}],
        "attachments": [{"name": "claims.md", "source": source, "type": "text/markdown"}],
        "start": now, "stop": now,
    }
    (results / f"{result['uuid']}-result.json").write_text(json.dumps(result))


def scenario_results(results: Path):
    """(path, pytest node id, result) of every readable result file that names its scenario."""
    for path in glob.glob(str(results / "*-result.json")):
        try:
            result = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue
        nodeid = next((l["value"] for l in result.get("labels", []) if l.get("name") == NODEID_LABEL), None)
        if nodeid:
            yield path, nodeid, result


def label_results(results: Path, outcomes, verdicts, ledger) -> int:
    """Give every scenario's result a `verdict` label (the scenario's own, polarity folded),
    one `claim-verdict` label per linked claim (the claim's verdict in this run), `provenance`
    labels, and its evidence as the status message and at the top of the description; a
    scenario that never reached Allure (skipped before it started) gets a result of its own.
    Returns how many results were labelled."""
    from keychain_claims.claims.verdicts import evidence_text, scenario_verdict
    by_nodeid = {o.nodeid: o for o in outcomes}
    overall = {(v.claim, v.backend): v.verdict for v in verdicts}
    findings = {c.id: {f.scenario: f.evidence for f in c.findings} for c in ledger}
    done: set[str] = set()
    for path, nodeid, result in scenario_results(results):
        outcome = by_nodeid.get(nodeid)
        if outcome is None:
            continue
        _label(result, outcome, overall, findings, evidence_text, scenario_verdict)
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


def _label(result: dict, outcome, overall, findings, evidence_text, scenario_verdict) -> None:
    verdict = scenario_verdict(outcome)
    labels = [l for l in result.get("labels", [])
              if l.get("name") not in (VERDICT_LABEL, CLAIM_VERDICT_LABEL, "provenance")]
    labels.append({"name": VERDICT_LABEL, "value": verdict})
    labels += [{"name": CLAIM_VERDICT_LABEL, "value": f"{c} — {overall.get((c, outcome.backend), verdict)}"}
               for c in outcome.claims]
    labels += [{"name": "provenance", "value": p} for p in outcome.provenance]
    result["labels"] = labels
    evidence = "\n".join(evidence_text(outcome, c, findings.get(c)) for c in outcome.claims)
    head = f"{VERDICT_TEXT[verdict]} — " + ("; ".join(evidence.splitlines()) if len(outcome.claims) > 1
                                           else re.sub(r"^[\w-]+: [^—]+ — ", "", evidence))
    details = result.get("statusDetails") or {}
    original = details.get("message", "")
    if original.startswith("XFAIL "):
        original = original.removeprefix("XFAIL ")
    details["message"] = head + (f"\n\n{original}" if original and original not in head else "")
    result["statusDetails"] = details
    block = (f"**Verdict: {verdict}** (evidence: {', '.join(outcome.provenance)})\n\n"
             + "\n".join(f"- {line}" for line in evidence.splitlines()))
    result["description"] = block + ("\n\n" + result["description"] if result.get("description") else "")
    result.pop("descriptionHtml", None)
