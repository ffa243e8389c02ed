"""Behaviour cases from public reports (fixtures/behaviour/) replayed against the simulator, the dialog a
refused read draws, and the named macOS versions."""
from __future__ import annotations

import copy

import pytest

from keychain_claims.measures import behaviour
from keychain_claims.sim import agent, unverified


@pytest.fixture(scope="module")
def cases():
    return behaviour.load_behaviour()


def test_every_case_names_its_source_and_a_modelled_version(cases):
    assert len(cases) >= 10
    for case in cases:
        assert case["source"]["url"].startswith("https://github.com/"), case["id"]
        assert case["macos"] in unverified.MACOS_VERSIONS, case["id"]


@pytest.mark.corpus
def test_cases_match_or_say_why_not(cases):
    results = [behaviour.replay_behaviour(c) for c in cases]
    assert len([r for r in results if r.comparable]) >= 10
    for r in results:
        assert r.state == "match" or (r.state == "not-comparable" and r.reason), f"{r.id}: {r.reason}"


@pytest.mark.parametrize("case_id, key, wrong", [
    ("codenotch72-refresh-resets-partition", "partition", ["apple-tool:", "teamid:6WFPL8B9FB"]),
    ("claude94491-refresh-in-place-dates", "cdat", "changed"),
    ("claude81707-teamid-only-security-prompted", "dialog",
     'security wants to use your confidential information stored in "Claude Code-credentials" in your keychain.'),
    ("aiuse-exit-44-not-found", "exit", 0),
])
def test_a_case_with_another_after_state_differs(cases, case_id, key, wrong):
    case = copy.deepcopy(next(c for c in cases if c["id"] == case_id))
    case["expect"][key] = wrong
    result = behaviour.replay_behaviour(case)
    assert result.state == "differs" and key in result.reason, result


def test_a_case_without_a_version_is_refused(tmp_path, cases):
    import json
    doc = dict(cases[0], macos="Sequoia-ish")
    (tmp_path / "x.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="macOS version"):
        behaviour.load_behaviour(tmp_path)


def test_the_refusing_check_decides_the_sentence():
    assert agent.dialog_text("partition", "security", "Claude Code-credentials", "login").startswith(
        "security wants to access key \u201cClaude Code-credentials\u201d in your keychain.\n")
    assert agent.dialog_text("acl", "Claude God", "X", "login").startswith(
        "Claude God wants to use your confidential information stored in \u201cX\u201d in your keychain.\n")


@pytest.mark.parametrize("version, shows", [("14", False), ("15", True), ("26", True), ("nonsense", True)])
def test_usage_texts_follow_the_named_version(monkeypatch, version, shows):
    """Apple's source: no macOS 14 tag of SecurityTool/macOS/security.c prints `[-h]`, every macOS 15
    tag does (Security-61439.*; issue 28, point 6)."""
    monkeypatch.setenv("KEYCHAIN_SIM_MACOS", version)
    text = unverified.usage_text("[-h] [-a account]")
    assert text.startswith("[-h]") == shows
