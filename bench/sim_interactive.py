#!/usr/bin/env python3
"""`keychain-sim -i` at growing keychain sizes: N lines of `add-generic-password` (each a new item)
typed into one `security -i` session, seconds in all and per line.  Numbers only.

  python bench/sim_interactive.py [N ...]        default: 10 500 2000 10000
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(lines: int) -> dict:
    base = ROOT / "build" / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-sim-", dir=base) as home:
        env = {**os.environ, "HOME": home, "KEYCHAIN_SIM_STATE": os.path.join(home, "state"), "TMPDIR": home}
        sim = [sys.executable, "-m", "keychain_claims.sim"]
        subprocess.run([*sim, "create-keychain", "-p", "bench-pw", "login.keychain"], env=env, check=True, cwd=ROOT)
        script = "".join(f"add-generic-password -a account-{i} -s bench-service -w secret-{i}\n" for i in range(lines))
        start = time.perf_counter()
        proc = subprocess.run([*sim, "-i"], input=script.encode(), env=env, capture_output=True, cwd=ROOT)
        seconds = time.perf_counter() - start
        failed = proc.stderr.decode(errors="replace").count("returned")
        return {"lines": lines, "seconds": round(seconds, 2), "ms_per_line": round(seconds / lines * 1e3, 3),
                "failed_lines": failed}


def main(argv: list[str]) -> list[dict]:
    sizes = [int(a) for a in argv] or [10, 500, 2000, 10000]
    rows = []
    print(f"{'security -i lines':<20}{'seconds':>10}{'ms/line':>10}{'failed':>8}")
    for n in sizes:
        row = run(n)
        rows.append(row)
        print(f"{n:<20}{row['seconds']:>10.2f}{row['ms_per_line']:>10.3f}{row['failed_lines']:>8}", flush=True)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
