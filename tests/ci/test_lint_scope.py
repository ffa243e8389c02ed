"""`make lint` reads every Python file of the project: an exclude meant for the generated reports/
folder once matched keychain_claims/reports/ and tests/reports/ too, and an undefined name there went
unseen until the slow tier ran."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import ROOT


def test_ruff_reads_every_python_file_of_the_package_and_the_tests():
    ruff = Path(sys.executable).with_name("ruff")
    shown = subprocess.run([str(ruff), "check", "--show-files", "."], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr[-500:]
    read = {Path(line.strip()).resolve() for line in shown.stdout.splitlines() if line.strip().endswith(".py")}
    ours = [p for folder in ("keychain_claims", "tests", "steps", "fixtures", "bench")
            for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts]
    missed = sorted(str(p.relative_to(ROOT)) for p in ours if p.resolve() not in read)
    assert not missed, f"ruff leaves out {len(missed)} file(s), e.g. {missed[:5]}"
