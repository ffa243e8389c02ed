"""A settle transcript as one model (assumptions/settle.py `SettleTranscript`): what `settle` writes, `load`
reads back equal; a damaged one is one line from `keychain-claims assumptions` and `fidelity --settled`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keychain_claims.measures.assumptions import settle as assumptions
from keychain_claims.backends.sim import SimBackend

CLI = Path(sys.executable).with_name("keychain-claims")
ONLY = ["DENY-STATUS", "SEARCH-ORDER"]


def test_settle_transcripts_read_back_are_the_ones_written(tmp_path):
    written = assumptions.settle(SimBackend(), tmp_path, ONLY)
    assert set(written) == set(ONLY) and (tmp_path / assumptions.SUMMARY_FILE).exists()
    assert assumptions.load(tmp_path) == written          # the summary beside them is passed over
    for aid in ONLY:
        path = tmp_path / f"{aid}.json"
        assert assumptions.SettleTranscript.model_validate_json(path.read_text()).dumps() == path.read_text()


@pytest.mark.parametrize("damage", [
    lambda doc: doc.pop("status"),
    lambda doc: doc.update(status="maybe"),
    lambda doc: doc.update(calls="none"),
], ids=["without-status", "unknown-status", "calls-a-text"])
def test_a_damaged_settle_transcript_is_one_line(tmp_path, damage):
    assumptions.settle(SimBackend(), tmp_path, ONLY[:1])
    path = tmp_path / f"{ONLY[0]}.json"
    doc = json.loads(path.read_text())
    damage(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="is not a settle transcript"):
        assumptions.load(tmp_path)
    for argv in (["assumptions", "--out", str(tmp_path)], ["fidelity", "--settled", str(tmp_path)]):
        proc = subprocess.run([str(CLI), *argv], capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, (argv, proc.stderr[-2000:])
        assert len(proc.stderr.strip().splitlines()) == 1 and "is not a settle transcript" in proc.stderr, proc.stderr
