"""What a Claude Code release costs: `npm pack` alone, a cold load (download, verify, unpack into
an empty cache), a warm load (cached), fingerprints, and the @release scenarios run against it
(behaviour through the loopback API, median and slowest per scenario that ran).

Each npm measurement gets an empty npm cache of its own, so neither borrows the other's
download; for a native release both sides fetch the same two packages.
Used by bench/run.py --releases; runnable alone: python bench/releases.py 2.1.81,latest"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from keychain_claims.releases import fingerprints, registry  # noqa: E402
import suite  # noqa: E402  (bench/suite.py)


def _t(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _npm_pack_alone(packages: list[str]) -> float:
    with tempfile.TemporaryDirectory() as plain, tempfile.TemporaryDirectory() as npm_cache:
        env = {**os.environ, "npm_config_cache": npm_cache}
        seconds, _ = _t(lambda: [subprocess.run(["npm", "pack", p, "--silent"], cwd=plain, env=env,
                                                capture_output=True, check=True) for p in packages])
    return seconds


@contextmanager
def _caches():
    """An empty release cache and an empty npm cache, for the duration."""
    saved = {k: os.environ.get(k) for k in ("KEYCHAIN_CLAIMS_CACHE", "npm_config_cache")}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as npm_cache:
        os.environ.update(KEYCHAIN_CLAIMS_CACHE=cache, npm_config_cache=npm_cache)
        try:
            yield cache
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def measure(specs: list[str], rounds: int = 3) -> dict:
    """Cold load and `npm pack` alone alternate `rounds` times (medians): whichever ran first
    would otherwise pay for npm's own cold start."""
    out = {}
    for spec in specs:
        colds, packs = [], []
        for _ in range(rounds):
            with _caches():
                cold, release = _t(lambda: registry.load(spec))
            colds.append(cold)
            packages = [f"{registry.PACKAGE}@{release.version}"]
            if release.form == "native":
                packages.append(f"{registry.PACKAGE}-darwin-arm64@{release.version}")
            packs.append(_npm_pack_alone(packages))
        with _caches() as cache:
            release = registry.load(release.version)       # fill this cache; the warm load follows
            warm, _ = _t(lambda: registry.load(spec))
            source = release.bundle or max((p for p in release.root.rglob("*") if p.is_file()),
                                           key=lambda p: p.stat().st_size)
            prints, _ = _t(lambda: fingerprints.read(source))
            behaviour = suite.run("-m", "release", f"--claude-code={release.version}",
                                  env={"KEYCHAIN_CLAIMS_CACHE": cache})
        cold, npm_pack = statistics.median(colds), statistics.median(packs)
        out[release.version] = {
            "form": release.form, "npm_pack_s": round(npm_pack, 2), "cold_s": round(cold, 2),
            "cold_vs_npm_pack": round(cold / npm_pack, 2), "rounds": rounds, "warm_s": round(warm, 2),
            "fingerprints_s": round(prints, 2), "before_behaviour_s": round(warm + prints, 2),
            "scenarios_ran": behaviour["ran"], "scenario_median_s": behaviour["median_scenario_s"],
            "scenario_max_s": behaviour["max_scenario_s"], "scenarios_wall_s": behaviour["wall_s"]}
    return out


COLUMNS = [("form", "form", "{}"), ("npm_pack_s", "npm pack s", "{:.2f}"), ("cold_s", "cold s", "{:.2f}"),
           ("cold_vs_npm_pack", "cold/pack", "{:.2f}x"), ("warm_s", "warm s", "{:.2f}"),
           ("fingerprints_s", "prints s", "{:.2f}"), ("before_behaviour_s", "warm+prints s", "{:.2f}"),
           ("scenarios_ran", "scen. ran", "{}"), ("scenario_median_s", "median s", "{}"),
           ("scenario_max_s", "max s", "{}")]


def table(results: dict) -> str:
    rows = [["release", *(title for _, title, _ in COLUMNS)]]
    for version, r in results.items():
        rows.append([version, *(fmt.format(r[key]) if r[key] is not None else "-" for key, _, fmt in COLUMNS)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows) + \
        "\ntargets: cold <= 1.5x npm pack; warm + fingerprints <= 5 s before behaviour scenarios"


if __name__ == "__main__":
    print(table(measure((sys.argv[1] if len(sys.argv) > 1 else "2.1.81").split(","))))
