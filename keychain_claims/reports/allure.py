"""The suite's own files in the Allure results directory: environment.properties,
categories.json, executor.json (on CI), and the verdict table as a result of its own so
reviewers see it inside the report."""
from __future__ import annotations

import json
import os
import platform
import sys
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from keychain_claims.redact import redact

CATEGORIES = [
    {"name": "Claim contradicted (new)", "matchedStatuses": ["failed"], "messageRegex": "(?s)(?!.*harness:).*"},
    {"name": "Recorded contradiction still holding", "matchedStatuses": ["skipped"],
     "messageRegex": "(?s).*recorded contradiction.*"},
    {"name": "Environment not able to check", "matchedStatuses": ["skipped"],
     "messageRegex": "(?s).*(not checkable|unavailable|cannot|needs|checked by the release).*"},
    {"name": "Harness error", "matchedStatuses": ["broken"]},
]


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
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2))
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
