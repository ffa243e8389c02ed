"""Recorded security transcripts replay against the simulator with zero differences; an
altered transcript gives exactly one (issue 8)."""
from __future__ import annotations

import json

import pytest

from keychain_claims.measures.transcripts import replay
from tests import ROOT

STORED = sorted(p for p in (ROOT / "fixtures" / "transcripts").glob("*/*.json")
                if p.parent.name != "real")          # real/: outputs found in public material, tests/measures/test_fidelity.py


@pytest.mark.parametrize("path", STORED, ids=[f"{p.parent.name}/{p.stem[:60]}" for p in STORED])
def test_stored_transcript_replays_without_difference(path):
    differences = replay(path)
    assert [str(d) for d in differences] == []


def test_fixture_transcripts_exist_and_hold_no_secret():
    assert len(STORED) >= 5
    for path in STORED:
        text = path.read_text()
        assert "KCCANARY" not in text and "sk-ant-o" not in text


@pytest.mark.suite
def test_record_then_replay_gives_zero_differences(run_suite, tmp_path):
    out = tmp_path / "recorded"
    result = run_suite("--backend=sim", "-k", "once_allowed or signing_identity", f"--record-transcripts={out}")
    assert result.returncode == 0, result.stdout[-2000:]
    recorded = sorted(out.glob("*.json"))
    assert len(recorded) == 5
    assert all(replay(p) == [] for p in recorded)


def test_an_altered_transcript_gives_exactly_one_difference(tmp_path):
    source = next(p for p in STORED if "once_allowed" in p.name)
    doc = json.loads(source.read_text())
    read = next(ex for ex in doc["exchanges"] if ex["argv"][0] == "find-generic-password" and ex["status"] == 0)
    read["stderr"] = "security: something macOS said that the simulator does not\n"
    altered = tmp_path / source.name
    altered.write_text(json.dumps(doc))
    differences = replay(altered)
    assert len(differences) == 1
    assert differences[0].field == "stderr" and "macOS said" in differences[0].expected


def test_not_a_transcript_is_refused(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a keychain-claims/transcript/1 transcript"):
        replay(bad)
