"""Run the feature set N times in parallel (-n 2) and count runs whose verdicts differ from
the first: the flake count for the note.  python bench/repeat.py 20"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from keychain_claims.claims.files import ClaimsTable

ROOT = Path(__file__).resolve().parent.parent


def verdicts(tmp: Path) -> set:
    return {(c.claim, c.verdict) for c in ClaimsTable.read(tmp / "claims.json").claims}


def main(n: int) -> int:
    first, flakes = None, 0
    for i in range(n):
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--backend=sim",
                                   f"--reports-dir={tmp}", f"--alluredir={tmp}/allure"], cwd=ROOT,
                                  capture_output=True, text=True)
            got = verdicts(Path(tmp)) if proc.returncode == 0 else {("exit", proc.returncode)}
        first = first or got
        flakes += got != first
        print(f"run {i + 1}: exit {proc.returncode}, {'same' if got == first else 'DIFFERENT'} verdicts", flush=True)
    print(f"{n} runs, {flakes} with verdicts different from the first")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
