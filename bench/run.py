#!/usr/bin/env python3
"""Where the time goes: prints a table and writes reports/bench.json.

  simulator   median of one `keychain-sim find-generic-password … -w` vs `python3 -c pass`, alternated
  shell       median pexpect round trip of one command in the sandboxed shell
  startup     pytest --collect-only: what every run (and every xdist worker) pays before a scenario
  suite       whole feature set on the simulated backend, serially and with -n 2 (alternated,
              median of --suite-rounds runs each): wall time,
              scenarios, security calls, median and slowest time per scenario that ran (skips
              take no time and would flatter the median)
  sim -i      `keychain-sim -i` with 10 and 10 000 lines of add-generic-password (bench/sim_interactive.py):
              seconds and ms per line (the same per line at both sizes)
  redact      keychain_claims.redact.redact on one word (no blank) of 40 KB, 120 KB and 1 MB, of letters and
              of hex digits, with 100 registered secrets: seconds each (linear in the text)
  fidelity    the simulator replayed on the real macOS transcripts (fixtures/transcripts/real): matches / comparable
  releases    cold/warm fetch, fingerprints, behaviour per release (bench/releases.py), with --releases
  speed       warm `auth status --json` and `-p ping` of a JS-era, a 2.1.2xx and the newest release as the
              suite runs them against the stock release on this host: wall and CPU medians, ratios

Numbers only; nothing here asserts a timing.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from keychain_claims.backends import SimBackend  # noqa: E402
from keychain_claims.fakes import Fakes  # noqa: E402
from keychain_claims.harness.sandbox import Sandbox  # noqa: E402
from keychain_claims.harness import claude_code  # noqa: E402
import suite  # noqa: E402  (bench/suite.py)

os.environ.setdefault("KEYCHAIN_CLAIMS_CLAUDE_CODE", "none")     # the feature-set numbers: no release scenarios


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


def startup(rounds: int = 3) -> dict:
    walls = [suite.run("--collect-only")["wall_s"] for _ in range(rounds)]
    return {"collect_only_s": round(statistics.median(walls), 2), "rounds": rounds}


def suites(rounds: int) -> dict:
    """The feature set serially and with -n 2, alternated `rounds` times; each side reports its
    median-wall run (and every wall time), so one noisy run does not decide the speed-up."""
    runs: dict[str, list[dict]] = {"serial": [], "n2": []}
    for _ in range(rounds):
        runs["serial"].append(suite.run())
        runs["n2"].append(suite.run(workers="2"))
    median = {k: sorted(v, key=lambda r: r["wall_s"])[len(v) // 2] for k, v in runs.items()}
    return {**median, "rounds": rounds, "walls_s": {k: [r["wall_s"] for r in v] for k, v in runs.items()},
            "speedup": round(median["serial"]["wall_s"] / median["n2"]["wall_s"], 2)}


def fidelity() -> dict:
    """The simulator replayed against the real macOS transcripts (fixtures/transcripts/real)."""
    from keychain_claims.measures import fidelity as fid
    from keychain_claims.measures.replay import figure
    results = fid.run()
    fig = figure(results)
    return {"matches": fig.matches, "comparable": fig.comparable, "total": len(results),
            "per_command": fig.per_command}


def redaction() -> list[dict]:
    from keychain_claims import redact as r
    fakes = Fakes(seed=5)
    for _ in range(100):
        r.register(str(fakes.token()))
    rows = []
    for size in (40_000, 120_000, 1_000_000):
        for kind, text in (("letters", "a" * size), ("hex", ("ab" * size)[:size])):
            start = time.perf_counter()
            r.redact(text)
            rows.append({"bytes": size, "kind": kind, "seconds": round(time.perf_counter() - start, 4)})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--skip-suite", action="store_true", help="only the micro benchmarks")
    ap.add_argument("--suite-rounds", type=int, default=3, help="serial / -n 2 pairs of feature-set runs (medians)")
    ap.add_argument("--speed-releases", default="2.1.81,2.1.250,latest",
                    help="releases (a JS-era one, a 2.1.2xx one, the newest) whose warm harness/stock ratio of "
                         "`auth status --json` and `-p ping` is printed (`none`: skip)")
    ap.add_argument("--speed-rounds", type=int, default=5, help="harness/stock pairs per call (medians)")
    ap.add_argument("--releases", default="2.1.113,latest",
                    help="comma list of Claude Code versions to time (cold and warm, commands, scenarios); none: skip")
    ap.add_argument("--release-rounds", type=int, default=1, help="cold load / npm pack pairs per release (medians)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench.json"))
    args = ap.parse_args()
    result: dict = {"simulator": simulator(args.rounds), "shell": shell(max(5, args.rounds // 3))}
    import sim_interactive  # bench/sim_interactive.py
    result["sim_interactive"] = [sim_interactive.run(n) for n in (10, 10000)]
    result["fidelity"] = fidelity()
    result["redact"] = redaction()
    if not args.skip_suite:
        result["startup"] = startup()
        result["suite"] = suites(args.suite_rounds)
    if args.releases and args.releases != "none":
        import releases  # bench/releases.py
        result["releases"] = releases.measure(args.releases.split(","), args.release_rounds)
    if args.speed_releases and args.speed_releases != "none":
        import releases  # bench/releases.py
        result["speed"] = releases.speed_results(args.speed_releases.split(","), args.speed_rounds,
                                                 show=lambda table: print(table, flush=True))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["simulator"]
    print(f"{'simulator find -w (median)':<34}{s['sim_find_w_ms']:>10.2f} ms")
    print(f"{'python3 -c pass (median)':<34}{s['python_c_pass_ms']:>10.2f} ms")
    print(f"{'ratio':<34}{s['ratio']:>10.2f} x   (target <= 2)")
    print(f"{'shell round trip (median)':<34}{result['shell']['round_trip_ms']:>10.2f} ms")
    for row in result["sim_interactive"]:
        print(f"{'security -i, ' + str(row['lines']) + ' adds':<34}{row['seconds']:>10.2f} s   "
              f"{row['ms_per_line']} ms per line, {row['failed_lines']} failed")
    for row in result["redact"]:
        print(f"{'redact, one word of ' + str(row['bytes']) + ' B ' + row['kind']:<34}{row['seconds']:>10.4f} s")
    f = result["fidelity"]
    print(f"{'fidelity (real transcripts)':<34}{f['matches']:>6}/{f['comparable']:<3} match   ({f['total']} in all; "
          + ", ".join(f"{k} {m}/{c}" for k, (m, c) in sorted(f["per_command"].items())) + ")")
    if "startup" in result:
        print(f"{'start-up (collect-only, median)':<34}{result['startup']['collect_only_s']:>10.2f} s")
    if "suite" in result:
        for key in ("serial", "n2"):
            r = result["suite"][key]
            print(f"{'suite ' + r['workers']:<34}{r['wall_s']:>10.2f} s   {r['scenarios']} scenarios ({r['ran']} ran), "
                  f"{r['security_calls']} security calls, median {r['median_scenario_s']} s / max "
                  f"{r['max_scenario_s']} s per scenario that ran")
        print(f"{'speedup -n 2':<34}{result['suite']['speedup']:>10.2f} x   (target >= 1.6; median of "
              f"{result['suite']['rounds']} runs each: {result['suite']['walls_s']})")
    if "releases" in result:
        print(releases.table(result["releases"]))
    if "speed" in result:
        print(releases.speed_table(result["speed"]))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
