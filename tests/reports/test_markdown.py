"""claims.md and claims.json read by a newcomer (issue 31): each row leads with the claim's sentence, not
its ID; no text is cut inside a word; claims.json says what every verdict it uses means."""
from __future__ import annotations

import re

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.files import ClaimsTable
from keychain_claims.claims.verdicts import compute, compute_omissions, first_sentence
from keychain_claims.reports.markdown import write

LEDGER = Ledger()


def _written(tmp_path):
    outcomes = [Outcome("n1", "S1", "sim", ["SYM-DIALOG"], "passed"),
                Outcome("n2", "A Claude Code update invalidates the grant held by security", "sim", ["CAU-UPDATE"],
                        "xfailed", "recorded contradiction of CAU-UPDATE"),
                Outcome("n3", "S3", "sim", ["CAU-ITEM"], "failed", "the item was not there"),
                Outcome("n4", "S4", "sim", ["OMI-CO-WRITER"], "passed")]
    verdicts = compute(outcomes, LEDGER, Article(), {"sim": True})
    omissions = compute_omissions(outcomes, LEDGER, Article(), {"sim": True})
    return write(verdicts, tmp_path, Article(), {"sim": "simulated"}, omissions)


def test_every_row_leads_with_the_claims_sentence(tmp_path):
    _, md = _written(tmp_path)
    rows = [line for line in md.read_text().splitlines() if re.search(r"\| \[[A-Z]+-[A-Z0-9-]+\]\(#", line)
            and not line.startswith("| [OMI-")]
    assert len(rows) == len(LEDGER.claims)
    for row, claim in zip(rows, LEDGER):
        first = row.split(" | ")[0].removeprefix("| ")
        assert first == " ".join(claim.statement.split()).replace("|", "/"), (claim.id, first)


def test_nothing_in_claims_md_is_cut_inside_a_word(tmp_path):
    _, md = _written(tmp_path)
    text = md.read_text()
    update = next(line for line in text.splitlines() if "[CAU-UPDATE](#cau-update)" in line)
    assert re.findall(r"\w+…", text) == []          # "…" only after a whole word and a space
    assert "Always Allow e…" not in update
    long = "word " * 80
    assert first_sentence(long, 30).endswith("word …")


def test_claims_json_says_what_every_verdict_it_uses_means(tmp_path):
    js, _ = _written(tmp_path)
    doc = ClaimsTable.read(js)
    used = {row.verdict for row in doc.claims}
    assert {"holds", "contradicted", "fails", "not-checkable"} <= used
    assert all(doc.claim_verdicts.get(v, "").strip() for v in used), doc.claim_verdicts
    assert all(doc.omission_verdicts.get(row.verdict, "").strip() for row in doc.omissions)
