"""The dialog corpus (keychain_claims/security/dialogs.json): SecurityAgent's sentences as public reports from 2024 on
quote them, each report's state replayed in the simulator at its macOS version, and the wording the simulator draws."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from keychain_claims.security import dialogs, prompts
from keychain_claims.measures import behaviour
from keychain_claims.sim import agent


@pytest.fixture(scope="module")
def corpus():
    return dialogs.load()


@pytest.fixture
def raw():
    return json.loads(dialogs.CORPUS.read_text(encoding="utf-8"))


def _write(tmp_path: Path, doc) -> Path:
    path = tmp_path / "dialogs.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False))
    return path


# ------------------------------------------------------------------------------------------ the corpus itself
def test_the_corpus_keeps_reports_from_2024_on_with_their_sources(corpus):
    assert len(corpus.reports) >= 15
    drawn = [r for r in corpus.reports if r.drawn]
    assert len(drawn) >= 14
    assert {r.state for r in drawn} == set(dialogs.STATES)
    for r in corpus.reports:
        assert r.source.startswith("https://") and r.date[:4] >= "2024", r.id
    assert sorted(r.found for r in corpus.reports) == list(range(1, len(corpus.reports) + 1))


def test_the_held_out_reports_follow_the_rule_written_down_first(corpus):
    """fixtures/behaviour/SOURCES.md: of the drawn reports found before the fit every 4th, in the order found, was
    held out of it; every report found after it is held out by nature."""
    drawn = sorted((r for r in corpus.reports if r.drawn), key=lambda r: r.found)
    before = [r for r in drawn if not r.after_fit]
    assert [r.id for r in drawn if r.held_out] == [r.id for r in before[3::4]] + [r.id for r in drawn if r.after_fit]
    assert not any(r.held_out for r in corpus.reports if not r.drawn)
    assert all(r.found > max(b.found for b in corpus.reports if not b.after_fit) for r in drawn if r.after_fit)


@pytest.mark.parametrize("mutate, says", [
    (lambda d: d["reports"][0].pop("source"), "report codexbar-624: lacks source"),
    (lambda d: d["reports"][0].update(date="2023-05-29"), "report codexbar-624: date '2023-05-29'"),
    (lambda d: d["reports"][0].update(state="frozen"), "report codexbar-624: state 'frozen'"),
    (lambda d: d["reports"][2].update(macos="27.0 (26A428)"), "report pi-web-access-9: macOS '27.0 (26A428)'"),
    (lambda d: d["reports"][0].update(form="verbatim", extent="most"), "report codexbar-624: extent 'most'"),
    (lambda d: d["reports"][0].update(colour="red"), "report codexbar-624: has unknown field(s) colour"),
    (lambda d: d["reports"][1].update(id="codexbar-624"), "codexbar-624 used twice"),
    (lambda d: d["wording"][1].update(macos=["14", "26"]), "0 wordings for state partition on macOS 15"),
    (lambda d: d["wording"][2].update(text="{app} wants {item}"), "wording locked: text uses {item}"),
    (lambda d: d.update(format="other/1"), "not a keychain-claims/dialogs/1 file"),
])
def test_a_bad_corpus_is_refused_in_one_line(tmp_path, raw, mutate, says):
    mutate(raw)
    with pytest.raises(dialogs.DialogCorpusError) as caught:
        dialogs.load(_write(tmp_path, raw))
    message = str(caught.value)
    assert says in message and "\n" not in message, message


def test_a_corpus_that_is_not_json_is_refused_in_one_line(tmp_path):
    with pytest.raises(dialogs.DialogCorpusError, match=r"is not JSON \(.* at line 2\): mend that line$"):
        dialogs.load(_write(tmp_path, '{"format": "keychain-claims/dialogs/1",\n  "wording": [,]}'))


def test_the_corpus_models_the_simulators_versions():
    from keychain_claims.sim import unverified
    assert dialogs.MODELLED == unverified.MACOS_VERSIONS == behaviour.MACOS_VERSIONS


@pytest.mark.parametrize("given, modelled", [("26.3 (25D125)", "26"), ("Darwin 25.5.0 (26.5)", "26"),
                                             ("Darwin 25.5.0", "26"), ("Darwin 24.6.0", "15"),
                                             ("15.7.5 (24G624)", "15"), ("14.7.3", "14"), ("unknown", None)])
def test_a_reported_version_names_a_modelled_one(given, modelled):
    assert dialogs.modelled(given) == modelled


def test_buttons_are_the_corpus_buttons(corpus):
    for version in dialogs.MODELLED:
        assert dialogs.buttons("acl", version) == dialogs.buttons("partition", version) == prompts.ITEM_CHOICES
        assert dialogs.buttons("locked", version) == prompts.UNLOCK_CHOICES
    for r in corpus.reports:
        if r.drawn and r.buttons:
            assert set(r.buttons) <= set(dialogs.buttons(r.state, r.versions[0])), r.id


# ------------------------------------------------------------------------------------------ comparing
@pytest.mark.parametrize("text, quotes, extent, agrees", [
    ("security wants to access key 'Claude Code-credentials' in your keychain", "retyped", "first-sentence", True),
    ("security wants to access key \u201cClaude Code-credentials\u201d in your keychain.", "dialog", "first-sentence", True),
    ("security wants to access key \"Claude Code-credentials\" in your keychain.", "dialog", "first-sentence", False),
    ("security wants to access", "retyped", "opening", True),
    ("security wants to acc", "retyped", "opening", False),                    # not at a word's end
    ("`security` wants to access key\u2026", "retyped", "opening", True),
    ("security wants to access 'Claude Code-credentials'", "retyped", "opening", False),     # no "key"
])
def test_a_report_is_compared_as_far_as_it_can_tell(text, quotes, extent, agrees):
    report = dialogs.Report(id="x", found=1, held_out=False, source="https://x", date="2026", macos="unknown",
                            state="partition", state_evidence="", app="security", item="Claude Code-credentials",
                            keychain="login", text=text, form="verbatim", quotes=quotes, extent=extent)
    drawn = dialogs.text("partition", "26", "security", "Claude Code-credentials", "login") + "\n"
    assert dialogs.agrees(report, drawn) is agrees


def test_the_recorded_disagreements_are_not_what_the_simulator_draws(corpus):
    """A paraphrase is kept as a disagreement only while it really differs from the drawn sentence (else it is a
    verbatim report and must be drawn)."""
    for r in corpus.reports:
        if r.form == "paraphrase":
            drawn = dialogs.text(r.state, r.versions[0], r.app, r.item, r.keychain)
            as_opening = dialogs.Report(**{**r.__dict__, "form": "shortened", "extent": "opening"})
            assert not dialogs.agrees(as_opening, drawn), r.id


# ------------------------------------------------------------------------------------------ the simulator draws them
def test_the_simulator_draws_the_corpus_wording_for_its_version(tmp_path, raw, monkeypatch):
    """The corpus is the simulator's source of wording, per state and version: a corpus that gives macOS 15 its own
    partition sentence makes the simulator draw it there, and only there."""
    raw["wording"][1]["macos"] = ["14", "26"]
    raw["wording"].append({"state": "partition", "macos": ["15"], "buttons": ["Always Allow", "Deny", "Allow"],
                           "text": "{app} wants to access \u201c{item}\u201d.\nEnter the \u201c{keychain}\u201d password."})
    monkeypatch.setattr(dialogs, "CORPUS", _write(tmp_path, raw))
    dialogs.load.cache_clear()
    try:
        monkeypatch.setenv("KEYCHAIN_SIM_MACOS", "15")
        assert agent.dialog_text("partition", "security", "X", "login") == (
            "security wants to access \u201cX\u201d.\nEnter the \u201clogin\u201d password.\n")
        monkeypatch.setenv("KEYCHAIN_SIM_MACOS", "26")
        assert agent.dialog_text("partition", "security", "X", "login").startswith(
            "security wants to access key \u201cX\u201d in your keychain.\n")
    finally:
        monkeypatch.undo()
        dialogs.load.cache_clear()


def test_one_report_of_each_state_is_drawn_by_the_simulator(corpus):
    """The cheap tier's sample of the replay below: the first drawn report of each state, at its first version."""
    for state in dialogs.STATES:
        report = next(r for r in corpus.reports if r.drawn and r.state == state)
        result = behaviour.replay_dialog(report, report.versions[0])
        assert result.state == "match", result.reason


@pytest.mark.corpus
def test_every_drawn_report_is_drawn_for_its_state_and_version(corpus):
    results = behaviour.run_dialogs(corpus)
    assert len(results) >= 14
    bad = [f"{r.id}: {r.reason}" for r in results if r.state != "match"]
    assert not bad, "\n".join(bad)


def test_a_report_the_simulator_does_not_draw_is_told_apart(corpus):
    report = next(r for r in corpus.reports if r.id == "claude-code-67315")
    wrong = dialogs.Report(**{**report.__dict__, "text": report.text.replace("access key", "use your key")})
    result = behaviour.replay_dialog(wrong, "26")
    assert result.state == "differs" and "use your key" in result.reason


# ------------------------------------------------------------------------------------------ the article
def test_the_symptom_sentence_is_the_corpus_partition_sentence():
    """SYM-DIALOG and SYM-DIALOG-PASSWORD quote the dialog of the state the field reports behind it (the reader
    trusted, its partition ID missing): the article's words are the corpus's for that state on every version."""
    from keychain_claims import PROJECT_ROOT
    claims = yaml.safe_load((PROJECT_ROOT / "articles" / "claude-code-keychain-acl-invalidation.claims.yaml")
                            .read_text())["claims"]
    quote = {c["id"]: c["quote"] for c in claims}
    first, second = quote["SYM-DIALOG"], quote["SYM-DIALOG-PASSWORD"].split(" \u2014 ")[0]
    article = dialogs.Report(id="article", found=1, held_out=False, source="https://x", date="2026",
                             macos="unknown", state="partition", state_evidence="", app="security",
                             item="Claude Code-credentials", keychain="login", text=f"{first}\n{second}",
                             form="verbatim", quotes="retyped", extent="whole")
    for version in dialogs.MODELLED:
        assert dialogs.agrees(article, dialogs.text("partition", version, "security", "Claude Code-credentials",
                                                    "login"))
    assert re.findall(r"\[([^\]]+)\]", quote["SYM-DIALOG-PASSWORD"]) == list(prompts.ITEM_CHOICES)


def test_the_behaviour_case_for_a_report_is_a_valid_case(corpus, tmp_path):
    report = next(r for r in corpus.reports if r.drawn)
    case = behaviour.dialog_case(report, "26")
    (tmp_path / "c.json").write_text(json.dumps(copy.deepcopy(case)))
    [loaded] = behaviour.load_behaviour(tmp_path)
    assert loaded["id"] == f"{report.id}@26" and loaded["action"]["ui"] == "gui-unattended"


@pytest.mark.parametrize("seen, marks, held", [
    ("security wants to access key \u201ckc-probe\u201d in your keychain.\nTo allow this, enter the \u201clogin\u201d "
     "keychain password.", True, True),
    ('security wants to access key "kc-probe" in your keychain.\nTo allow this, enter the "login" keychain '
     'password.', True, False),
    ('security wants to access key "kc-probe" in your keychain.\nTo allow this, enter the "login" keychain '
     'password.', False, True),
    ("security wants to access \u201ckc-probe\u201d in your keychain.\nTo allow this, enter the \u201clogin\u201d "
     "keychain password.", False, False),
])
def test_the_dialog_probes_hold_only_on_the_corpus_sentence(monkeypatch, seen, marks, held):
    from keychain_claims.measures.assumptions import formats
    monkeypatch.setenv("KEYCHAIN_SIM_MACOS", "26")
    monkeypatch.setattr(formats.sys, "platform", "linux")
    responder = prompts.Responder()
    responder.seen.append(prompts.Prompt("item-dialog", seen, "Deny", "security", "kc-probe", "login"))
    assert formats.dialog_says(responder, "partition", "kc-probe", marks=marks).held is held
