#!/usr/bin/env python3
"""Latency of one simulated `security` call.

Prints the median wall time of

  keychain-sim find-generic-password -a <acct> -s "Claude Code-credentials" -w   (console script)
  python3 -S -m keychain_claims.sim find-generic-password ... -w                 (the sandbox shim's form)
  python3 -c pass                                                               (the baseline)

measured alternately (so drift hits all alike), and the ratios.  Target: <= 2x the baseline.
Numbers only; nothing here asserts a timing.

    .venv/bin/python bench/sim_latency.py [--rounds 40]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVC = "Claude Code-credentials"


def _time(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    script = Path(sys.executable).with_name("keychain-sim")
    with tempfile.TemporaryDirectory(prefix="sim-bench-") as tmp:
        home = Path(tmp) / "home"
        (home / "Library" / "Keychains").mkdir(parents=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C",
               "KEYCHAIN_SIM_STATE": str(Path(tmp) / "state"), "KEYCHAIN_SIM_CLOCK": str(Path(tmp) / "state/clock")}
        shim_env = {**env, "PYTHONPATH": str(ROOT)}
        setup = [["create-keychain", "-p", "pw", "login.keychain"],
                 ["set-keychain-settings", "login.keychain"],
                 ["add-generic-password", "-a", "user", "-s", SVC, "-X", b'{"claudeAiOauth":{}}'.hex()]]
        for argv in setup:
            subprocess.run([str(script), *argv], env=env, check=True)
        find = ["find-generic-password", "-a", "user", "-s", SVC, "-w"]
        check = subprocess.run([str(script), *find], env=env, capture_output=True, text=True)
        assert check.returncode == 0 and check.stdout == '{"claudeAiOauth":{}}\n', check
        cmds = {"keychain-sim (console script)": ([str(script), *find], env),
                "python -S -m keychain_claims.sim (shim)": ([sys.executable, "-S", "-m", "keychain_claims.sim", *find],
                                                            shim_env),
                "python3 -c pass": ([sys.executable, "-c", "pass"], env)}
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(3):                                  # warm the page cache and .pyc files
            for cmd, e in cmds.values():
                _time(cmd, e)
        for _ in range(args.rounds):
            for name, (cmd, e) in cmds.items():
                times[name].append(_time(cmd, e))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    base = med["python3 -c pass"]
    for name, ms in med.items():
        ratio = "" if name == "python3 -c pass" else f"   ratio {ms / base:.2f}x (target <= 2)"
        print(f"{name:<42}{ms:8.2f} ms{ratio}")
    print(f"rounds: {args.rounds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
