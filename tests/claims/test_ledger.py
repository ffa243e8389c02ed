"""The ledger, the article and the features cannot drift apart (issue 2)."""
from __future__ import annotations

import shutil

import pytest

from keychain_claims import PROJECT_ROOT
from keychain_claims.claims.article import Article, ArticleError
from keychain_claims.claims.coverage import FEATURES_DIR, problems, scenarios
from keychain_claims.claims.ledger import Ledger, LedgerError

VENDORED = PROJECT_ROOT / "articles" / "claude-code-keychain-acl-invalidation.md"
SHARED = PROJECT_ROOT.parent / "shared" / "article" / VENDORED.name

REQUIRED = ["SYM-DIALOG", "SYM-RETURNS", "SYM-LOGIN-WORKS", "CAU-ITEM", "CAU-READER", "CAU-BINDING", "CAU-UPDATE",
            "CAU-REFRESH", "CAU-BURST", "CAU-NOT-TIMEOUT", "TRI-NO-PROMPT", "TRI-METADATA", "TRI-INFO",
            "FIX-BURST-ALWAYS", "FIX-RESET-REBIND", "FIX-RESET-COST", "FIX-FILE-FALLBACK", "FIX-FILE-TOKEN",
            "FIX-FILE-MODE", "FIX-FILE-DELETE", "FIX-FILE-NO-ECHO", "CAV-PLAINTEXT", "CAV-REWRITE",
            "CAV-GUI-UNDOCUMENTED", "CAV-OAUTH-ENV", "REL-CONFIG"]


@pytest.fixture
def article_copy(tmp_path):
    path = tmp_path / VENDORED.name
    shutil.copy(VENDORED, path)
    shutil.copy(VENDORED.with_suffix(".claims.yaml"), tmp_path / VENDORED.with_suffix(".claims.yaml").name)
    return path


@pytest.mark.skipif(not SHARED.exists(), reason="shared/ article not beside this checkout")
def test_vendored_article_is_verbatim():
    assert VENDORED.read_bytes() == SHARED.read_bytes()


def test_ledger_article_and_features_agree():
    assert problems(Article(VENDORED), Ledger()) == []


def test_ledger_covers_the_statements_the_issue_names():
    ledger = Ledger()
    assert [cid for cid in REQUIRED if cid not in ledger] == []
    assert {c.section for c in ledger} == {"symptom", "cause", "triage", "fix-burst", "fix-reset",
                                          "fix-file-bypass", "caveats", "notes"}


def test_editing_a_quoted_span_is_caught(article_copy):
    text = article_copy.read_text()
    article_copy.write_text(text.replace("comes back even after clicking", "returns even after clicking"))
    found = set(problems(Article(article_copy), Ledger())) - set(problems(Article(VENDORED), Ledger()))
    assert len(found) == 1 and found.pop().startswith("claim SYM-RETURNS: its sentence")


def test_editing_a_command_is_caught(article_copy):
    text = article_copy.read_text()
    article_copy.write_text(text.replace("chmod 600 ~/.claude/.credentials.json", "chmod 0600 ~/.claude/.credentials.json"))
    found = problems(Article(article_copy), Ledger())
    assert any("command 'chmod 0600 ~/.claude/.credentials.json' is not typed verbatim" in p for p in found)
    assert any("types 'chmod 600 ~/.claude/.credentials.json', which is not a command" in p for p in found)


def features_with(tmp_path, feature: str, old: str, new: str):
    """A copy of features/ with `old` replaced by `new` in one feature file (which must hold it)."""
    features = tmp_path / "features"
    shutil.copytree(FEATURES_DIR, features)
    path = features / feature
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    return features


def test_unknown_tag_and_untagged_claim_are_caught(tmp_path):
    features = features_with(tmp_path, "symptom.feature", "@supports:SYM-DISTINCT", "@supports:SYM-DISTINCZ")
    found = problems(Article(VENDORED), Ledger(), features)
    assert any("tag @supports:SYM-DISTINCZ names no claim" in p for p in found)
    assert any(p.startswith("claim SYM-DISTINCT has no scenario") for p in found)


def test_every_article_command_is_typed_by_a_scenario():
    typed = {line for ref in scenarios() for line in ref.typed}
    assert {c.text for c in Article(VENDORED).commands} <= typed


def test_missing_article_is_one_line(tmp_path):
    with pytest.raises(ArticleError, match=r"^article not found at .*git checkout"):
        Article(tmp_path / "nope.md")


@pytest.mark.parametrize("content, message", [
    ("claims: [", "is not valid YAML"),
    ("other: 1", "needs a top-level `claims:` list"),
    ("claims:\n  - id: X\n    section: symptom\n", "claim X lacks quote, statement, evidence"),
    ("claims:\n  - {id: X, section: nowhere, quote: q, statement: s, evidence: shell-recipe}\n", "has section 'nowhere'"),
])
def test_broken_ledger_is_one_line(tmp_path, content, message):
    path = tmp_path / "l.claims.yaml"
    path.write_text(content)
    with pytest.raises(LedgerError, match=message) as info:
        Ledger(path)
    assert "\n" not in str(info.value)


@pytest.mark.suite
def test_suite_refuses_an_edited_article_in_one_line(run_suite, article_copy):
    """The article emptied: every claim's sentence is gone, and the run stops before collecting, in one
    line that names a claim and says what to do (it used to be given a missing article instead)."""
    article_copy.write_text("")
    result = run_suite("--collect-only", "-q", f"--article={article_copy}")
    assert result.returncode == 4, result.stdout[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "no longer occurs in" in errors[0] and "update the ledger entry or the article" in errors[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.suite
def test_suite_refuses_a_missing_article_in_one_line(run_suite, tmp_path):
    result = run_suite("--collect-only", "-q", f"--article={tmp_path / 'missing.md'}")
    assert result.returncode == 4
    assert "ERROR: article not found at" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.suite
def test_unknown_backend_is_one_line(run_suite):
    result = run_suite("--collect-only", "-q", "--backend=windows")
    assert result.returncode == 4
    assert "ERROR: unknown backend 'windows'; choose one of: auto, macos, sim" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_link_without_polarity_is_refused(tmp_path):
    features = features_with(tmp_path, "symptom.feature", "@supports:SYM-LOGIN-WORKS", "@claim:SYM-LOGIN-WORKS")
    found = problems(Article(VENDORED), Ledger(), features)
    assert any("tag @claim:SYM-LOGIN-WORKS says no polarity" in p and "@refutes:SYM-LOGIN-WORKS" in p for p in found)


def test_a_finding_must_name_a_supporting_scenario(tmp_path):
    features = features_with(tmp_path, "cause.feature", "  @supports:CAU-UPDATE @gui\n", "  @refutes:CAU-UPDATE @gui\n")
    found = problems(Article(VENDORED), Ledger(), features)
    assert any("its finding CAU-UPDATE/no-prompt-after-update names scenario "
               "'A Claude Code update invalidates the grant held by security'" in p
               for p in found)


def test_the_ledger_lists_every_refuting_scenario_and_only_those(tmp_path):
    """Polarity is written twice, in the tags and in the ledger's `refuted_by`: they cannot disagree."""
    ledger = Ledger()
    tagged = {(cid, ref.name) for ref in scenarios() for cid in ref.refutes}
    listed = {(c.id, name) for c in ledger for name in c.refuted_by}
    assert tagged == listed and ("CAU-REFRESH", "The release writes the token with add-generic-password -U, in place") in listed
    features = features_with(tmp_path, "release.feature", "@refutes:FIX-FILE-SAFE", "@supports:FIX-FILE-SAFE")
    found = problems(Article(VENDORED), ledger, features)
    assert any(p.startswith("claim FIX-FILE-SAFE: `refuted_by` names scenario \"With CLAUDE_CONFIG_DIR set") for p in found)
    text = ledger.path.read_text()
    edited = tmp_path / ledger.path.name
    edited.write_text(text.replace('      - "The release writes the token with add-generic-password -U, in place"\n', ""))
    found = problems(Article(VENDORED), Ledger(edited))
    assert found == ["claim CAU-REFRESH: scenario 'The release writes the token with add-generic-password -U, in place' "
                     "is tagged @refutes:CAU-REFRESH but not listed in its `refuted_by` in "
                     f"{ledger.path.name}; list it there or tag it @supports:CAU-REFRESH"]


def test_a_malformed_refuted_by_is_one_line(tmp_path):
    path = tmp_path / "l.claims.yaml"
    path.write_text("claims:\n  - {id: X, section: cause, quote: q, statement: s, evidence: shell-recipe, refuted_by: oops}\n")
    with pytest.raises(LedgerError, match=r"claim X has `refuted_by` 'oops'; make it a list of scenario names"):
        Ledger(path)


@pytest.mark.suite
def test_the_suite_refuses_a_tag_that_disagrees_with_refuted_by(run_suite, tmp_path):
    text = Ledger().path.read_text()
    edited = tmp_path / Ledger().path.name
    edited.write_text(text.replace('      - "The release writes the token with add-generic-password -U, in place"\n', ""))
    result = run_suite("--collect-only", "-q", f"--ledger={edited}")
    assert result.returncode == 4
    # the start-of-run check (keychain-claims check) names the scenario, its tag and `refuted_by`
    assert "is tagged @refutes:CAU-REFRESH but not listed in its `refuted_by`" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# ------------------------------------------------------------------ omissions (issue 22)
OMISSIONS = ["OMI-SEVERAL-ITEMS", "OMI-CONFIG-DIR-ITEMS", "OMI-CO-WRITER", "OMI-PARTITION-RESET", "OMI-CONCURRENT"]


def test_the_ledger_lists_what_the_article_misses_apart_from_its_claims():
    ledger = Ledger()
    assert list(ledger.omissions) == OMISSIONS
    assert not set(OMISSIONS) & {c.id for c in ledger}          # iterating the ledger gives claims only
    for omission in ledger.omissions.values():
        assert omission.kind == "omission" and omission.evidence
        assert all(s.address.startswith("https://github.com/") and s.shows for s in omission.evidence)
        assert omission.id in ledger and ledger[omission.id] is omission
    assert ledger["OMI-SEVERAL-ITEMS"].releases == ">=2.1.199"
    assert ledger.unanchored(Article(VENDORED)) == []


def test_a_tag_may_name_an_omission_and_an_untagged_one_is_only_refused_once_any_is_tagged(tmp_path):
    ledger = Ledger()
    before = problems(Article(VENDORED), ledger)
    if not any(cid.startswith("OMI-") for ref in scenarios() for cid in ref.claims):
        assert not any(p.startswith("omission ") for p in before)     # not-checkable: no scenario yet
    features = features_with(tmp_path, "symptom.feature", "@supports:SYM-LOGIN-WORKS",
                             "@supports:SYM-LOGIN-WORKS @supports:OMI-CONCURRENT")
    found = problems(Article(VENDORED), ledger, features)
    assert not any("OMI-CONCURRENT" in p for p in found)
    from keychain_claims.claims.coverage import unscenarioed_omissions
    missing = unscenarioed_omissions(ledger, features)
    assert "OMI-CONCURRENT" not in missing
    assert {p for p in found if p.startswith("omission ")} == {
        f"omission {oid} has no scenario; tag one with @supports:{oid} or @refutes:{oid}" for oid in missing}


def test_an_omission_whose_anchor_left_the_article_is_caught(article_copy):
    text = article_copy.read_text()
    article_copy.write_text(text.replace("producing a *burst* of prompts", "producing a *flurry* of prompts"))
    found = set(problems(Article(article_copy), Ledger())) - set(problems(Article(VENDORED), Ledger()))
    assert any(p.startswith("omission OMI-CONCURRENT: its anchor no longer occurs") for p in found)


@pytest.mark.parametrize("entry, message", [
    ("{id: OMI-X, section: cause, statement: s}", "omission OMI-X lacks evidence"),
    ("{id: X, section: cause, statement: s, evidence: []}", "needs an ID starting with OMI-"),
    ("{id: OMI-X, section: cause, quote: q, statement: s, evidence: [{address: 'https://a', shows: b}]}",
     "has a `quote`"),
    ("{id: OMI-X, section: cause, statement: s, evidence: [https://a]}", "needs `evidence` as a list of"),
    ("{id: OMI-X, section: cause, statement: s, evidence: [{address: 'https://a', shows: b}], releases: soon}",
     "has releases 'soon'"),
    ("{id: OMI-X, section: nowhere, statement: s, evidence: [{address: 'https://a', shows: b}]}",
     "has section 'nowhere'"),
])
def test_a_broken_omission_is_one_line(tmp_path, entry, message):
    path = tmp_path / "l.claims.yaml"
    path.write_text("claims:\n  - {id: C, section: cause, quote: q, statement: s, evidence: shell-recipe}\n"
                    f"omissions:\n  - {entry}\n")
    with pytest.raises(LedgerError, match=message) as info:
        Ledger(path)
    assert "\n" not in str(info.value)



# ---------------------------------------------------------------- issue 29, point 6: what a reader sees
@pytest.mark.parametrize("claim, sentence, edit", [
    ("FIX-RESET-COST", "Costs one re-login.", lambda s: f"<!-- {s} -->"),                 # hidden in a comment
    ("FIX-RESET-COST", "Costs one re-login.", lambda s: f"<!--\n{s}\n-->"),               # ... over lines
    ("CAU-ITEM", "Claude Code stores its OAuth token", lambda s: f"It is false that {s}"),  # negated before it
    ("FIX-RESET-COST", "Costs one re-login.", lambda s: f"A{s}"),                          # not a word boundary
    ("FIX-RESET-COST", "Costs one re-login.", lambda s: f'\n\n[x]: https://example.invalid "{s}"\n'),  # a link title
])
def test_a_sentence_the_rendered_article_does_not_say_is_unquoted(tmp_path, claim, sentence, edit):
    """Before: the check looked for the quote in the Markdown source, so a sentence inside
    <!-- … --> or prefixed "It is false that" still "held"."""
    text = VENDORED.read_text()
    assert sentence in text
    edited = tmp_path / VENDORED.name
    edited.write_text(text.replace(sentence, edit(sentence), 1))
    assert claim in {c.id for c in Ledger().unquoted(Article(edited))}
    assert Ledger().unquoted(Article(VENDORED)) == []


def test_a_second_scenario_with_a_findings_name_is_refused(tmp_path):
    """Before: findings were looked up by scenario name, so a second scenario called like a finding's,
    failing on an unrelated assertion, made that claim "contradicted — 2 of 2 ran"."""
    features = features_with(tmp_path, "caveats.feature",
                             "Scenario: A later keychain write by Claude Code after the bypass",
                             "Scenario: A Claude Code update invalidates the grant held by security")
    found = problems(Article(VENDORED), Ledger(), features)
    assert any("has the name of the scenario at" in p and "A Claude Code update invalidates" in p for p in found), found
# ------------------------------------------------------------------ a hostile ledger (issue 29, point 11)
_ONE = "claims:\n  - id: C\n    section: cause\n    quote: q\n    statement: s\n    evidence: shell-recipe\n"


@pytest.mark.parametrize("tail, message", [
    ("    findings:\n      - {id: F, step: t, backend: any, evidence: e}\n", r"claim C, findings\[0\]\.scenario: field required"),
    ("    findings:\n      - {id: F, step: t, scenario: s}\n", r"claim C, findings\[0\]\.evidence: field required"),
    ("    findings:\n      - {scenario: s, evidence: e, step: t}\n", r"claim C, findings\[0\]\.id: field required"),
    ("    findings:\n      - {id: F, scenario: s, evidence: e}\n", r"claim C, findings\[0\]\.step: field required"),
    ("    findings:\n      - {id: F, step: t, scenario: s, evidence: e}\n      - {id: F, step: u, scenario: s, evidence: e}\n",
     r"finding F is listed twice"),
    ("    findings:\n      - just a string\n", r"claim C, findings\[0\]: input should be a valid dictionary"),
    ("    findings:\n      scenario: x\n      evidence: y\n", r"claim C has `findings` .*make it a list"),
    ("    findings:\n      - {id: F, step: t, scenario: s, evidence: e, releases: '>=two.1'}\n",
     r"claim C, findings\[0\]\.releases: .*releases '>=two.1'; write comparators"),
    ("    findings:\n      - {id: F, step: t, scenario: s, evidence: e, backend: anny}\n",
     r"claim C, findings\[0\]\.backend: backend 'anny' is not one of any, macos, sim, rehearsal"),
    ("    findings:\n      - {scenario: s, evidence: e}\n    findings:\n      - {scenario: t, evidence: e}\n",
     r"line 9 gives the key `findings` twice"),
    ("    statment: typo\n", r"claim C: unknown key `statment`; the keys are id, section, quote"),
    ("  - {id: C, section: cause, quote: q, statement: s, evidence: shell-recipe}\n", r"claim C is listed twice"),
])
def test_a_hostile_ledger_entry_is_one_line(tmp_path, tail, message):
    """Each of these used to be a traceback (KeyError, TypeError) or was accepted and silently inert
    (a finding scoped to `>=two.1` or to backend `anny` never applies; a key given twice dropped a finding)."""
    path = tmp_path / "l.claims.yaml"
    path.write_text(_ONE + tail)
    with pytest.raises(LedgerError, match=message) as info:
        Ledger(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("quote, shown", [("5", "(got 5)"), ("[a, b]", ""), ("{a: 1}", "")])
def test_a_quote_that_is_not_text_is_one_line(tmp_path, quote, shown):
    path = tmp_path / "l.claims.yaml"
    path.write_text(_ONE.replace("quote: q", f"quote: {quote}"))
    with pytest.raises(LedgerError, match=r"claim C, quote: input should be a valid string") as info:
        Ledger(path)
    assert str(info.value).endswith(shown)


def test_a_yaml_alias_bomb_is_refused_before_it_grows(tmp_path):
    """Nine levels of nine aliases: 387 million nodes (MemoryError at 2-3.6 GB after minutes)."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [
        f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    path = tmp_path / "l.claims.yaml"
    path.write_text("\n".join(lines) + "\n" + _ONE)
    with pytest.raises(LedgerError, match=r"line 2 uses a YAML alias \(\*a0\); write the value out"):
        Ledger(path)


def test_a_deeply_nested_ledger_is_one_line(tmp_path):
    path = tmp_path / "l.claims.yaml"
    path.write_text("claims: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(LedgerError, match=r"line 1 is nested deeper than 20 levels"):
        Ledger(path)


def test_a_fifo_ledger_or_article_is_refused_without_waiting(tmp_path):
    """A FIFO with a writer that never writes: reading it used to wait for ever.  (The writer is
    closed after a while so the old code would end, with a wrong message, rather than hang.)"""
    import os
    import threading
    fifo = tmp_path / "l.claims.yaml"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)
    lock, closed = threading.Lock(), []

    def close():
        with lock:
            if not closed:
                os.close(writer)
                closed.append(True)
    timer = threading.Timer(10, close)
    timer.start()
    try:
        with pytest.raises(LedgerError, match=r"cannot be read \(not a regular file \(a FIFO\)"):
            Ledger(fifo)
        with pytest.raises(ArticleError, match=r"cannot be read \(not a regular file \(a FIFO\)"):
            Article(fifo)
    finally:
        timer.cancel()
        close()


def test_dev_zero_as_ledger_or_article_is_one_line_not_a_memory_bomb():
    """Run in a child limited to 1 GB of address space: the old reader read /dev/zero until MemoryError."""
    import resource
    import subprocess
    import sys
    code = ("from keychain_claims.claims.ledger import Ledger, LedgerError\n"
            "from keychain_claims.claims.article import Article, ArticleError\n"
            "for make, error in ((Ledger, LedgerError), (Article, ArticleError)):\n"
            "    try:\n        make('/dev/zero')\n    except error as exc:\n        print(exc)\n")

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=limit)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-300:]
    assert proc.stdout.splitlines() == [
        "claims ledger /dev/zero cannot be read (not a regular file (a character device): /dev/zero); "
        "pass --ledger=<a readable .claims.yaml file>",
        "article at /dev/zero cannot be read (not a regular file (a character device): /dev/zero); "
        "pass --article=<a readable .md file> or restore it from git"]


def test_a_crlf_article_is_recorded_with_the_hash_of_its_own_bytes(tmp_path):
    """A CRLF copy reads as the same text (its claims are found) but is not the same file: its
    sha256 (in claims.json and outcomes.json) is of the bytes as read, not of the LF text."""
    import hashlib
    crlf = tmp_path / VENDORED.name
    crlf.write_bytes(VENDORED.read_bytes().replace(b"\n", b"\r\n"))
    article, vendored = Article(crlf), Article(VENDORED)
    assert article.sha256 == hashlib.sha256(crlf.read_bytes()).hexdigest() != vendored.sha256
    assert article.text == vendored.text
    assert vendored.sha256 == hashlib.sha256(VENDORED.read_bytes()).hexdigest()


def test_every_claim_has_a_review_whose_scenarios_exist():
    """Issue 33: per claim what it asserts, what would make it false, which scenarios show it, what kind of
    evidence (real, simulated, inferred) and why its verdict is what it is; the scenarios named exist."""
    import re
    import yaml
    from keychain_claims.claims.ledger import DEFAULT_PATH
    root = DEFAULT_PATH.parent.parent
    names = {m.group(1).strip() for f in (root / "features").glob("*.feature")
             for m in re.finditer(r"^\s*Scenario(?: Outline)?: (.*)$", f.read_text(), re.M)}
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    for claim in raw["claims"]:
        review = claim.get("review")
        assert isinstance(review, dict), f"{claim['id']} has no review"
        assert {"asserts", "false_if", "shown_by", "evidence_kind", "why"} <= set(review), claim["id"]
        assert review["evidence_kind"] in ("real", "simulated", "inferred"), claim["id"]
        missing = [n for n in review["shown_by"] if n not in names]
        assert not missing, f"{claim['id']}: review names scenarios that do not exist: {missing}"


def test_a_claims_assumptions_are_probes_and_the_verdict_table_names_them(tmp_path):
    """Issue 33: a verdict reached on the simulator says which simulator assumption it rests on, and the
    probe that settles it; every assumption a claim names is a registered probe."""
    from keychain_claims.measures.assumptions import probe
    from keychain_claims.claims.article import Article
    from keychain_claims.claims.outcomes import Outcome
    from keychain_claims.claims.verdicts import compute
    import keychain_claims.measures.assumptions.settle  # noqa: F401  (importing it registers every probe)
    ledger = Ledger()
    unknown = {(c.id, a) for c in ledger for a in c.rests_on if a not in probe.REGISTRY}
    assert not unknown, f"assumption IDs no probe has: {sorted(unknown)}"
    claim = ledger.claims["FIX-FILE-FALLBACK"]
    assert claim.rests_on
    seen = [Outcome("n", "s", "sim", [claim.id], "passed"), Outcome("n", "s", "macos", [claim.id], "passed")]
    got = {v.backend: v for v in compute(seen, ledger, Article(), {"sim": True, "macos": False}) if v.claim == claim.id}
    assert got["sim"].rests_on == list(claim.rests_on) and claim.rests_on[0] in got["sim"].why
    assert "keychain-claims assumptions --settle" in got["sim"].why
    assert got["macos"].rests_on == [] and "rests on" not in got["macos"].why
