"""The simulator replayed against verbatim outputs of real macOS `security` found in public
material (fixtures/transcripts/real/): each one matches, or says why it cannot be compared."""
from __future__ import annotations

import json

import pytest

from keychain_claims.measures import fidelity
from keychain_claims.measures.replay import Result, figure

CASES = fidelity.load()


def test_real_transcripts_are_vendored_with_their_sources():
    assert len(CASES) >= 22
    for case in CASES:
        assert case["source"]["url"].startswith("http"), case["id"]
        assert case["real"], case["id"]
        assert "KCCANARY" not in json.dumps(case)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_real_transcript_matches_or_says_why_not(case):
    result = fidelity.replay(case)
    if not result.comparable:
        assert len(result.reason) > 20, f"{case['id']}: a not-comparable transcript needs its reason"
        return
    assert result.state == "match", f"{result.reason}\nreal:\n{result.expected}\nsim:\n{result.got}"


def test_an_altered_real_output_is_reported_as_a_difference():
    case = json.loads(json.dumps(next(c for c in CASES if c["id"] == "pw-find-w-notfound")))
    case["real"]["combined"] = case["real"]["combined"].replace("could not", "could perhaps not")
    result = fidelity.replay(case)
    assert (result.state, result.reason) == ("differs", "combined differs")


def test_the_figure_counts_matches_over_comparable_per_command():
    results = [Result("a", "find-generic-password", "match"),
               Result("b", "find-generic-password", "differs", "x"),
               Result("c", "import", "not-comparable", "not modelled")]
    fig = figure(results)
    assert (fig.matches, fig.comparable, fig.per_command) == (1, 2, {"find-generic-password": [1, 2]})
    assert "1/2" in fidelity.table(results) and "not comparable  c: not modelled" in fidelity.table(results)


@pytest.mark.corpus
def test_fidelity_command_prints_the_figure(capsys):
    from keychain_claims.cli import main
    assert main(["fidelity"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fidelity: ") and "match" in out.splitlines()[0]


def test_fidelity_command_refuses_a_missing_directory_in_one_line(capsys, tmp_path):
    from keychain_claims.cli import main
    assert main(["fidelity", "--dir", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
