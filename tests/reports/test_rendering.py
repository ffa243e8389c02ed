"""The verdicts are defined once (claims/verdict.py) and every report draws them from there; the
annotated article is built from autoescaped templates; the CLI's sub-commands say bad input in
one line (issue 24)."""
from __future__ import annotations

import json

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.verdict import OMISSION_VERDICTS, OmissionVerdict, Verdict
from keychain_claims.claims.verdicts import Outcome, compute, compute_omissions
from keychain_claims.claims.files import ClaimsTable
from keychain_claims.reports.article import build, claim_views, omission_views
from keychain_claims.reports.markdown import write
from keychain_claims.reports.matrix import write_matrix

LEDGER = Ledger()


def _run(tmp_path):
    outcomes = [Outcome("n1", "S1", "sim", ["SYM-DIALOG"], "passed", release="2.1.81"),
                Outcome("n2", "S2", "sim", ["SYM-DIALOG"], "failed", "it broke", release="2.1.113"),
                Outcome("n3", "S3", "sim", ["CAU-UPDATE"], "xfailed", "recorded", release="2.1.81")]
    verdicts = compute(outcomes, LEDGER, Article(), {"sim": True})
    write(verdicts, tmp_path, Article(), {"sim": "simulated"}, compute_omissions(outcomes, LEDGER, Article(), {"sim": True}))
    write_matrix(outcomes, LEDGER, tmp_path)
    return json.loads((tmp_path / "claims.json").read_text())


def test_claims_json_carries_the_verdicts_values_and_the_reports_their_labels_and_colours(tmp_path):
    doc = _run(tmp_path)
    assert list(doc["counts"]) == [v.value for v in Verdict]
    assert list(doc["omission_counts"]) == [v.value for v in OmissionVerdict]
    assert doc["omission_verdicts"] == OMISSION_VERDICTS == {v.value: v.meaning for v in OmissionVerdict}
    row = next(c for c in doc["claims"] if c["claim"] == "SYM-DIALOG")
    assert row["verdict"] == "fails" and row["releases"] == {"2.1.81": "holds", "2.1.113": "fails"}
    assert f"| {Verdict.FAILS.mark} |" in (tmp_path / "claims.md").read_text()
    svg = (tmp_path / "release-matrix.svg").read_text()
    assert all(f'fill="{v.colour}"/><text' in svg and f">{v.label}</text>" in svg for v in Verdict)
    matrix = json.loads((tmp_path / "release-matrix.json").read_text())
    assert {r["verdict"] for r in matrix["cells"] if r["claim"] == "SYM-DIALOG"} == {"holds", "fails"}


def test_a_claim_shown_once_takes_its_worst_verdict_by_rank():
    assert sorted(Verdict, key=lambda v: v.rank)[0] is Verdict.FAILS
    assert sorted(OmissionVerdict, key=lambda v: v.rank)[0] is OmissionVerdict.NOT_REPRODUCED
    head = {"article": "a.md", "article_sha256": "0", "backends": {}, "counts": {}}
    rows = [{"claim": "X", "quote": "q", "section": "cause", "line": None, "evidence_kind": "behaviour",
             "verdict": v, "backend": b, "simulated": True}
            for v, b in (("holds", "a"), ("contradicted", "b"), ("not-checkable", "c"))]
    assert claim_views(ClaimsTable(**head, claims=rows))["X"]["verdict"] is Verdict.CONTRADICTED
    rows = [{"omission": "OMI-X", "section": "cause", "anchor": "", "line": None, "statement": "s", "evidence": [],
             "release_range": "", "verdict": v, "backend": b, "simulated": True}
            for v, b in (("reproduced", "a"), ("not-checkable", "b"))]
    assert omission_views(ClaimsTable(**head, claims=[], omissions=rows))["OMI-X"]["verdict"] \
        is OmissionVerdict.REPRODUCED


def test_the_annotated_article_escapes_what_claims_json_says(tmp_path):
    doc = _run(tmp_path)
    row = next(c for c in doc["claims"] if c["claim"] == "SYM-DIALOG")
    row["statement"] = 'the <script>alert("x")</script> & it\'s'
    (tmp_path / "claims.json").write_text(json.dumps(doc))
    page, _ = build(tmp_path / "claims.json", tmp_path / "article.html",
                    {"n2": 'allure/index.html#a"b'})
    text = page.read_text()
    assert "<script>alert" not in text
    assert "the &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; it&#x27;s" in text
    assert '<a href="allure/index.html#a&quot;b" target="_blank">S2 [2.1.113]</a>' in text
    assert text.endswith("</body></html>\n") and text.startswith("<!doctype html>")


def test_every_sub_command_has_its_own_function_and_bad_input_is_one_line(tmp_path, capsys):
    from keychain_claims.cli import main, parser
    sub = {"report": [], "check": [], "sweep": [], "fidelity": [], "bisect": ["x", "--good", "1", "--bad", "2"],
           "merge": ["d", "--output", "o"], "versions": ["1"], "changes": ["d", "--from", "a", "--to", "b"]}
    runs = {name: parser().parse_args([name, *rest]).run for name, rest in sub.items()}
    assert len(set(runs.values())) == len(sub)
    assert main(["changes", str(tmp_path / "none"), "--from", "a", "--to", "b"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no folder {tmp_path / 'none'}" in err and "run the suite" not in err
    (tmp_path / "empty").mkdir()
    assert main(["changes", str(tmp_path / "empty"), "--from", "a", "--to", "b"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no release-matrix.json; run the suite with --claude-code first" in err
    assert main(["check", "--article", str(tmp_path / "none.md")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("keychain-claims: article not found")


def test_a_ci_run_draws_no_metadata_block_above_the_claims_headline(tmp_path, monkeypatch):
    """On CI the run used to write executor.json, which Allure draws as a Metadata block above the tree:
    on a 1280x800 screen that pushed the claims headline out of view on every CI runner (the fresh-clone
    CI's browser test).  The CI run is now a parameter of the verdict table's result."""
    from types import SimpleNamespace
    from keychain_claims.reports.allure import ENVIRONMENT_FILE, write_environment
    monkeypatch.setenv("CI", "true")
    for name in ("GITHUB_ACTIONS", "GITHUB_RUN_ID", "GITHUB_WORKFLOW"):
        monkeypatch.delenv(name, raising=False)
    backend = SimpleNamespace(security_command=lambda: ["keychain-sim"])      # all environment() asks of it
    write_environment(tmp_path, backend, Article())
    assert not (tmp_path / "executor.json").exists()
    assert "CI run=local CI" in (tmp_path / ENVIRONMENT_FILE).read_text()
