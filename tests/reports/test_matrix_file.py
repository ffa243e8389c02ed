"""release-matrix.json as one model (reports/matrix.py `ReleaseMatrix`): written and read back equal and byte
for byte; `keychain-claims changes` on a damaged one is one line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.reports.matrix import MatrixError, ReleaseMatrix, write_matrix

CLI = Path(sys.executable).with_name("keychain-claims")
OUTCOMES = [Outcome("n1", "S1", "sim", ["CAU-ITEM"], "passed", release="2.1.80"),
            Outcome("n2", "S2", "sim", ["CAU-ITEM"], "failed", "it broke", release="2.1.81"),
            Outcome("n3", "S3", "sim", ["CAU-REFRESH"], "skipped", "not checkable: no release", release="2.1.81"),
            Outcome("n4", "S4", "sim", ["OMI-PARTITION-RESET"], "passed", release="2.1.81")]


def test_release_matrix_json_read_back_is_the_matrix_written(tmp_path):
    write_matrix(OUTCOMES, Ledger(), tmp_path)
    path = tmp_path / "release-matrix.json"
    matrix = ReleaseMatrix.read(path)
    assert matrix.dumps() == path.read_text()
    assert ReleaseMatrix.model_validate_json(matrix.dumps()) == matrix
    kinds = {(c.claim, c.release): (c.kind, c.summary is not None, c.in_range) for c in matrix.cells}
    assert kinds[("CAU-ITEM", "2.1.81")] == (None, True, None)
    assert kinds[("OMI-PARTITION-RESET", "2.1.81")] == ("omission", False, True)
    assert matrix.releases == ["2.1.80", "2.1.81"]


@pytest.mark.parametrize("damage", [
    lambda doc: doc["cells"][1]["evidence"][0].pop("result"),      # changes named each scenario's result
    lambda doc: doc.update(releases="2.1.80 2.1.81"),               # a text, where a column was looked up in it
    lambda doc: doc["cells"][0].update(verdict="great"),
], ids=["evidence-without-result", "releases-a-text", "unknown-verdict"])
def test_changes_on_a_damaged_release_matrix_is_one_line(tmp_path, damage):
    write_matrix(OUTCOMES, Ledger(), tmp_path)
    path = tmp_path / "release-matrix.json"
    doc = json.loads(path.read_text())
    damage(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(MatrixError):
        ReleaseMatrix.read(path)
    proc = subprocess.run([str(CLI), "changes", str(tmp_path), "--from", "2.1.80", "--to", "2.1.81"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and "is not a release matrix" in proc.stderr, proc.stderr
