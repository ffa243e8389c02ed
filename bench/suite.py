"""Run the feature set in a subprocess and read its junit XML: wall time, scenarios (those that
ran, apart from skips), `security` calls, median and slowest time per scenario.
Used by bench/run.py (simulated backend, serial and -n 2) and bench/releases.py (@release
scenarios per release)."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ran(case: ET.Element) -> bool:
    """A scenario that ran: passed, failed, or an xfail (junit writes those as a <skipped>)."""
    skipped = case.find("skipped")
    return skipped is None or skipped.get("type") == "pytest.xfail"


def run(*args: str, workers: str | None = None, env: dict[str, str] | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "--backend=sim", f"--junitxml={junit}",
               f"--alluredir={tmp}/allure", f"--reports-dir={tmp}/reports", *args]
        if workers:
            cmd += ["-n", workers]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})
        wall = time.perf_counter() - start
        cases = list(ET.parse(junit).getroot().iter("testcase")) if junit.exists() else []
    ran = [float(c.get("time", 0)) for c in cases if _ran(c)]
    calls = sum(int(p.get("value")) for c in cases for p in c.iter("property") if p.get("name") == "security_calls")
    return {"workers": workers or "serial", "wall_s": round(wall, 2), "scenarios": len(cases), "ran": len(ran),
            "security_calls": calls,
            "median_scenario_s": round(statistics.median(ran), 3) if ran else None,
            "max_scenario_s": round(max(ran), 3) if ran else None,
            "exit": proc.returncode, "summary": (proc.stdout.strip().splitlines() or [""])[-1]}
