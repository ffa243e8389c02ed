#!/usr/bin/env python3
"""Where the time goes: prints a table and writes reports/bench.json.

  simulator   median of one `keychain-sim find-generic-password … -w` vs `python3 -c pass`, alternated
  shell       median pexpect round trip of one command in the sandboxed shell
  suite       whole feature set on the simulated backend, serially and with -n 2: wall time,
              scenarios, security calls, median time per scenario
  releases    cold/warm fetch, fingerprints, behaviour per release (bench/releases.py), with --releases

Numbers only; nothing here asserts a timing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keychain_claims.backend import SimBackend  # noqa: E402
from keychain_claims.fakes import Fakes  # noqa: E402
from keychain_claims.sandbox import Sandbox  # noqa: E402
from keychain_claims import claude_code  # noqa: E402


def _time(cmd: list[str], env: dict, **kw) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, **kw)
    return time.perf_counter() - start


def simulator(rounds: int) -> dict:
    with Sandbox(SimBackend(), Fakes(seed=3)) as box:
        box.prepare()
        cred = box.fakes.credential()
        box.security.run("-i", stdin=claude_code.write_line(box.user, str(cred.payload)))
        sim = [str(box.bin / "security")] + claude_code.read_argv(box.user)     # the shim the suite runs
        py = [sys.executable, "-c", "pass"]
        a, b = [], []
        for _ in range(rounds):                       # alternate, so drift hits both alike
            a.append(_time(sim, box.env))
            b.append(_time(py, box.env))
    sim_ms, py_ms = statistics.median(a) * 1e3, statistics.median(b) * 1e3
    return {"sim_find_w_ms": round(sim_ms, 2), "python_c_pass_ms": round(py_ms, 2),
            "ratio": round(sim_ms / py_ms, 2), "rounds": rounds}


def shell(rounds: int) -> dict:
    with Sandbox(SimBackend(), Fakes(seed=4)) as box:
        sh = box.shell()
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            sh.run("true")
            times.append(time.perf_counter() - start)
    return {"round_trip_ms": round(statistics.median(times) * 1e3, 2), "rounds": rounds}


def suite(workers: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "--backend=sim", f"--junitxml={junit}",
               f"--alluredir={tmp}/allure", f"--reports-dir={tmp}/reports", "-p", "no:randomly"]
        if workers:
            cmd += ["-n", workers]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        cases = ET.parse(junit).getroot().iter("testcase") if junit.exists() else []
        times, calls = [], 0
        for case in cases:
            times.append(float(case.get("time", 0)))
            for prop in case.iter("property"):
                if prop.get("name") == "security_calls":
                    calls += int(prop.get("value"))
    return {"workers": workers or "serial", "wall_s": round(wall, 2), "scenarios": len(times),
            "security_calls": calls, "median_scenario_s": round(statistics.median(times), 3) if times else None,
            "exit": proc.returncode, "summary": (proc.stdout.strip().splitlines() or [""])[-1]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--skip-suite", action="store_true", help="only the micro benchmarks")
    ap.add_argument("--releases", default="", help="comma list of Claude Code versions to time (cold and warm)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench.json"))
    args = ap.parse_args()
    result: dict = {"simulator": simulator(args.rounds), "shell": shell(max(5, args.rounds // 3))}
    if not args.skip_suite:
        serial, parallel = suite(None), suite("2")
        result["suite"] = {"serial": serial, "n2": parallel,
                           "speedup": round(serial["wall_s"] / parallel["wall_s"], 2) if parallel["wall_s"] else None}
    if args.releases:
        sys.path.insert(0, str(ROOT / "bench"))
        import releases  # bench/releases.py
        result["releases"] = releases.measure(args.releases.split(","))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["simulator"]
    print(f"{'simulator find -w (median)':<34}{s['sim_find_w_ms']:>10.2f} ms")
    print(f"{'python3 -c pass (median)':<34}{s['python_c_pass_ms']:>10.2f} ms")
    print(f"{'ratio':<34}{s['ratio']:>10.2f} x   (target <= 2)")
    print(f"{'shell round trip (median)':<34}{result['shell']['round_trip_ms']:>10.2f} ms")
    if "suite" in result:
        for key in ("serial", "n2"):
            r = result["suite"][key]
            print(f"{'suite ' + r['workers']:<34}{r['wall_s']:>10.2f} s   {r['scenarios']} scenarios, "
                  f"{r['security_calls']} security calls, median {r['median_scenario_s']} s/scenario")
        print(f"{'speedup -n 2':<34}{result['suite']['speedup']:>10.2f} x   (target >= 1.6)")
    for version, r in result.get("releases", {}).items():
        print(f"release {version:<26}{json.dumps(r)}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
