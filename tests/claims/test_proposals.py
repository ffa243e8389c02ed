"""The corrected article (issue 31): the ledger's `proposed:` text beside a finding is checked like a claim
(a scenario tagged @proposes:<ID> states it), proposed while its entry is contradicted (an omission
reproduced) and its scenario passes, and dropped the day the finding stops holding."""
from __future__ import annotations

import json
import shutil

from keychain_claims.claims.article import Article
from keychain_claims.claims.coverage import FEATURES_DIR, problems
from keychain_claims.claims.ledger import DEFAULT_PATH, Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.reports.article import build
from keychain_claims.reports.publish import publish

UPDATE = "A Claude Code update invalidates the grant held by security"
STATES = "After a Claude Code update security still reads the credential without a dialog"


def _publish(tmp_path, outcomes):
    done = publish(tmp_path, outcomes, Ledger(), Article(), {"sim": True}, {"sim": "simulated"})
    doc = json.loads(done.claims_json.read_text())
    return doc, {p["id"]: p for p in doc["proposals"]}, (tmp_path / "article.proposed.md").read_text()


def test_a_contradicted_claim_with_a_passing_proposal_is_proposed_with_its_evidence(tmp_path):
    doc, proposals, md = _publish(tmp_path, [
        Outcome("n1", UPDATE, "sim", ["CAU-UPDATE"], "xfailed", "recorded contradiction of CAU-UPDATE"),
        Outcome("n2", STATES, "sim", ["CAU-UPDATE"], "passed", refutes=["CAU-UPDATE"], proposes=["CAU-UPDATE"])])
    p = proposals["CAU-UPDATE"]
    assert p["included"] and p["support"] == "supported" and p["entry_verdict"] == "contradicted"
    ledger = Ledger()
    assert f"> {' '.join(ledger['CAU-UPDATE'].quote.split())}" in md          # the sentence as it stands
    assert f"> {ledger['CAU-UPDATE'].proposed}" in md                        # and its replacement
    assert f"scenario “{STATES}” passed on sim" in md
    assert "recorded finding: The binary asking is /usr/bin/security" in md
    # an omission's paragraph comes with its public addresses
    assert "CAU-REFRESH: left out: the claim is not-checkable" in md
    page, _ = build(tmp_path / "claims.json", tmp_path / "article.html", {"n2": "allure/index.html#x"})
    html = page.read_text()
    card = html.split('id="proposed-CAU-UPDATE"', 1)[1].split("</article>", 1)[0]
    assert ledger["CAU-UPDATE"].proposed.split("`")[0] in card and 'href="allure/index.html#x"' in card


def test_an_omission_is_proposed_at_its_anchor_with_its_public_addresses(tmp_path):
    _, proposals, md = _publish(tmp_path, [
        Outcome("n1", "S", "sim", ["OMI-CO-WRITER"], "passed", proposes=["OMI-CO-WRITER"])])
    assert proposals["OMI-CO-WRITER"]["included"]
    omission = Ledger().omissions["OMI-CO-WRITER"]
    section = md.split("## OMI-CO-WRITER — add", 1)[1].split("\n## ", 1)[0]
    assert f"After “{' '.join(omission.anchor.split())}”, add:" in section and omission.proposed in section
    assert all(f"<{e.address}>" in section for e in omission.evidence)


def test_the_proposal_is_dropped_the_day_its_finding_stops_holding(tmp_path):
    _, proposals, md = _publish(tmp_path, [
        Outcome("n1", UPDATE, "sim", ["CAU-UPDATE"], "xpassed", "[XPASS(strict)]"),
        Outcome("n2", STATES, "sim", [], "passed", proposes=["CAU-UPDATE"])])
    p = proposals["CAU-UPDATE"]
    assert not p["included"] and "no-longer-contradicted" in p["why"] and "update the ledger" in p["why"]
    assert "## CAU-UPDATE (" not in md and "- CAU-UPDATE: left out" in md


def test_a_proposal_whose_own_scenario_fails_is_not_proposed(tmp_path):
    _, proposals, md = _publish(tmp_path, [
        Outcome("n1", UPDATE, "sim", ["CAU-UPDATE"], "xfailed", "recorded contradiction of CAU-UPDATE"),
        Outcome("n2", STATES, "sim", [], "failed", "2 item dialogs shown", proposes=["CAU-UPDATE"])])
    p = proposals["CAU-UPDATE"]
    assert not p["included"] and p["support"] == "not supported" and "2 item dialogs shown" in p["why"]
    assert "## CAU-UPDATE (" not in md


def test_check_requires_a_scenario_for_every_proposed_text_and_a_text_for_every_tag(tmp_path):
    features = tmp_path / "features"
    shutil.copytree(FEATURES_DIR, features)
    cause = features / "cause.feature"
    cause.write_text(cause.read_text().replace("@refutes:CAU-UPDATE @proposes:CAU-UPDATE", "@refutes:CAU-UPDATE")
                     .replace("@supports:CAU-ITEM\n", "@supports:CAU-ITEM @proposes:CAU-ITEM\n", 1))
    found = problems(Article(), Ledger(DEFAULT_PATH), features)
    assert "claim CAU-UPDATE: its `proposed:` text has no scenario; tag the scenario that states it " \
           "@proposes:CAU-UPDATE" in found
    assert any("tag @proposes:CAU-ITEM names no entry with a `proposed:` text" in line for line in found)
    assert problems(Article(), Ledger(DEFAULT_PATH)) == []
