"""With xdist (`-n 2`, as `make suite`'s users and the browser test run it) every scenario's Allure result is
written by its worker -- its steps, its status, its traceback -- not only the stand-in result made at the end
for a scenario that never reached Allure (found for issue 31: the workers had no --alluredir, so every
result in the report was a stand-in, "skipped")."""
from __future__ import annotations

import json

import pytest
from tests import child


@pytest.mark.suite
def test_workers_write_their_scenarios_allure_results(tmp_path):
    # no --alluredir: the results go where --reports-dir puts them, as in `make suite`
    result = child.run("--backend=sim", "-n", "2", "--claude-code=none", "-k", "proposed_recipe or update_invalidates",
                       f"--reports-dir={tmp_path / 'reports'}")
    assert result.returncode == 0, result.stdout[-1500:]
    # a -k run is partial: its results are published beside the complete run's, as allure-results.partial
    results = [json.loads(p.read_text()) for p in (tmp_path / "reports" / "allure-results.partial").glob("*-result.json")]
    scenarios = [r for r in results if any(l["name"] == "nodeid" for l in r["labels"])]
    assert len(scenarios) == 5
    written = [r["name"] for r in scenarios if any(l["name"] == "framework" for l in r["labels"])]
    assert len(written) == 5, [r["name"] for r in scenarios]
    assert all(r.get("steps") for r in scenarios)
    update = next(r for r in scenarios if r["name"] == "A Claude Code update invalidates the grant held by security")
    assert update["statusDetails"]["saw"].startswith("1 item dialog(s) shown, expected 2: item dialog “")
    assert any(a["name"] == "pytest traceback" for a in update["attachments"])
