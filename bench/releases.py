"""What a Claude Code release costs: a cold load (download, verify, unpack, for a native release
the darwin graph written out, into an empty cache) against `npm pack` alone of the same packages
(empty npm cache), the warm load (cached), each release command run in a sandbox, and the
@release scenarios (the refresh scenario named apart).

For a native release both sides fetch the main package, the darwin-arm64 build and this host's
build; cold load and `npm pack` alternate `rounds` times (medians).
Used by bench/run.py --releases; runnable alone: python bench/releases.py 2.1.81,2.1.113,latest"""
from __future__ import annotations

import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keychain_claims.backends import SimBackend  # noqa: E402
from keychain_claims.harness.sandbox import Sandbox  # noqa: E402
from keychain_claims.harness.world import World  # noqa: E402
from keychain_claims.releases import registry, runner, standin  # noqa: E402
from keychain_claims.releases.cache import cache_dir, let_go  # noqa: E402
from keychain_claims.releases.manifests import ENTRY_FILE, RUNTIME_FILE, read_doc  # noqa: E402
from keychain_claims.releases.npm import DARWIN, PACKAGE, host_platform  # noqa: E402
from keychain_claims.releases.release import Release, binary  # noqa: E402
from keychain_claims.releases.runtimes import fetch_runtime, fits, public_bun_package  # noqa: E402

REFRESH = "A token refresh by the release updates the item in place and keeps the grant held by security"


def _t(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _packages(release: Release) -> list[str]:
    packages = [f"{PACKAGE}@{release.version}"]
    if release.form == "native":
        packages += sorted({f"{PACKAGE}-{p}@{release.version}" for p in (DARWIN, host_platform())})
    return packages


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


def commands(release: Release) -> dict:
    """Each release command once, in a fresh sandbox: auth status, -p with a refresh, auth logout."""
    if release.runnable_here:
        return {"not_run": release.runnable_here}
    out = {}
    with Sandbox(SimBackend()) as box:
        box.prepare()
        world = World(box)
        world.claude_write(box.fakes.credential())
        out["auth_status_s"], _ = _t(lambda: runner.run(release, box, "auth", "status", "--json"))
        world.claude_write(box.fakes.credential(expires_in=-3600))
        new = box.fakes.credential()
        standin.set_token_answer(runner.standin_folder(box), {"access_token": str(new.access_token),
                                                             "refresh_token": str(new.refresh_token)})
        out["p_ping_refresh_s"], run = _t(lambda: runner.run(release, box, "-p", "ping"))
        out["refresh_arrived"] = any(r["path"].startswith("/v1/oauth/token") for r in standin.requests(run.standin))
        out["auth_logout_s"], _ = _t(lambda: runner.run(release, box, "auth", "logout"))
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


CALLS = {"auth status --json": ("auth", "status", "--json"), "-p ping": ("-p", "ping")}
CALL_DEADLINE = 300      # seconds: a loaded machine stretches a call far past the suite's 60 s; a row, not a verdict


def _stock(release: Release, folder: Path) -> Release | None:
    """The release as a user runs it on this host, its own Linux code path -- the yardstick for the
    harness's speed: a JavaScript release as plain `node cli.js` (no darwin preload; a one-line sh
    wrapper, as npm's `claude` bin is), a native one as this host's stock build (the cached runtime
    when it is this release's own build, else `npm pack`ed into `folder`, not kept in the cache)."""
    if release.form == "js":
        wrapper = folder / "claude"
        wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(shutil.which('node') or 'node')} "
                           f"{shlex.quote(str(release.bundle))} \"$@\"\n")
        wrapper.chmod(0o755)
        return Release(release.version, folder, "installed")
    own = read_doc(release.host_root / RUNTIME_FILE) if release.host_root else None
    if own and own.get("for") == release.version and release.host_binary:
        return Release(release.version, release.host_root, "installed")
    package = f"{PACKAGE}-{host_platform()}@{release.version}"
    proc = subprocess.run(["npm", "pack", package, "--silent"], cwd=folder, capture_output=True, text=True)
    tarballs = list(folder.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        return None
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(folder, filter="data")
    tarballs[0].unlink()
    root = folder / "package"
    return Release(release.version, root, "installed") if binary(root) else None


def _cpu() -> float:
    """CPU seconds of every finished child process of this one (the release, its wrappers, the
    stand-ins, the `security` calls): a load-independent companion to the wall time."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def speed(release: Release, rounds: int = 5) -> dict:
    """Warm calls of the release as the suite runs it (its macOS code path: the darwin graph on its
    runtime, or `node -r darwin-preload.cjs cli.js`, against the sandbox's `security`) against the
    stock release on this host (`_stock`) in the same sandbox, both logged in with the same fake
    credential (the harness in the keychain, the stock in `~/.claude/.credentials.json`, its Linux
    store): `auth status --json` and `-p ping` (answered by the Messages stand-in on loopback, as
    in the suite).  Alternated `rounds` times after one unmeasured call each; medians of wall and
    CPU seconds, and their ratios."""
    if release.runnable_here:
        return {"not_run": release.runnable_here}
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        stock = _stock(release, Path(tmp))
        if stock is None:
            return {"not_run": "the stock build was not fetched"}
        out: dict = {"runtime": release.runtime or "node", "calls": {}}
        with Sandbox(SimBackend()) as box:
            box.prepare()
            credential = box.fakes.credential()
            World(box).claude_write(credential)
            store = Path(box.home) / ".claude" / ".credentials.json"
            store.parent.mkdir(exist_ok=True)
            store.write_text(str(credential.payload))
            store.chmod(0o600)
            for name, argv in CALLS.items():
                walls: dict[str, list[float]] = {"harness": [], "stock": []}
                cpus: dict[str, list[float]] = {"harness": [], "stock": []}
                statuses = {}
                try:
                    for i in range(rounds + 1):                 # the first of each: warm, not measured
                        for side, which in (("harness", release), ("stock", stock)):
                            cpu, started = _cpu(), time.perf_counter()
                            run = runner.run(which, box, *argv, timeout=CALL_DEADLINE)
                            wall, cpu = time.perf_counter() - started, _cpu() - cpu
                            statuses[side] = run.status
                            if i:
                                walls[side].append(wall)
                                cpus[side].append(cpu)
                except runner.RunError as exc:                  # a measurement: the failure is the row
                    out["calls"][name] = {"not_run": f"{side}: {exc}"}
                    continue
                row = {f"{side}_{kind}_s": round(statistics.median(values[side]), 2)
                       for kind, values in (("wall", walls), ("cpu", cpus)) for side in ("harness", "stock")}
                row.update(wall_ratio=round(row["harness_wall_s"] / row["stock_wall_s"], 2),
                           cpu_ratio=round(row["harness_cpu_s"] / max(row["stock_cpu_s"], 0.01), 2),
                           exit=f"{statuses['harness']}/{statuses['stock']}", rounds=rounds)
                out["calls"][name] = row
    return out


def speed_results(specs: list[str], rounds: int = 5, show=None) -> dict:
    """speed() of each release; `show(table)` after each one (a long run shows what it has)."""
    out = {}
    for spec in specs:
        release = registry.load(spec)
        try:
            out[release.version] = {"form": release.form, **speed(release, rounds)}
        finally:
            let_go(release)
        if show:
            show(speed_table({release.version: out[release.version]}))
    return out


def speed_table(results: dict) -> str:
    """harness/stock for each release and call: printed, never asserted."""
    rows = [["release", "runtime", "call", "harness s", "stock s", "wall ratio", "harness cpu s", "stock cpu s",
             "cpu ratio", "exit h/s"]]
    for version, r in results.items():
        if "not_run" in r:
            rows.append([version, r["form"], "-", "-", "-", r["not_run"], "-", "-", "-", "-"])
            continue
        for call, c in r["calls"].items():
            if "not_run" in c:
                rows.append([version, r["runtime"], call, "-", "-", c["not_run"][:90], "-", "-", "-", "-"])
                continue
            rows.append([version, r["runtime"], call, f"{c['harness_wall_s']:.2f}", f"{c['stock_wall_s']:.2f}",
                         f"{c['wall_ratio']:.2f}x", f"{c['harness_cpu_s']:.2f}", f"{c['stock_cpu_s']:.2f}",
                         f"{c['cpu_ratio']:.2f}x", c["exit"]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ("warm calls: the release as the suite runs it (macOS code path, sandbox `security`) against the stock "
            "release on this host (Linux code path); medians; aim: <= 2x\n"
            + "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows))


def pairs(graphs: list[str], runtimes: list[str]) -> str:
    """Which runtime runs which graph: each native release's darwin graph on each runtime
    (`bun-1.3.13`, `claude-2.1.331`: fetched into the cache when missing), through the release
    commands of `commands()` (auth status, -p with a refresh, auth logout): exit statuses, whether
    the token request arrived, or the crash.  Measured, never asserted: the evidence behind
    `fits`."""
    import dataclasses
    rows = [["graph", "needs", "runtime", "fits()", "auth status", "-p + refresh", "logout"]]
    for version in graphs:
        release = registry.load(version)
        doc = read_doc(cache_dir() / "releases" / version / ENTRY_FILE) or {}
        for spec in runtimes:
            kind, _, rversion = spec.partition("-")
            package = public_bun_package() if kind == "bun" else f"{PACKAGE}-{host_platform()}"
            folder, rt = fetch_runtime(kind, package, rversion)
            other = dataclasses.replace(release, host_root=folder, runtime=folder.name, runtime_kind=kind, embedded=None)
            try:
                out = {}
                with Sandbox(SimBackend()) as box:
                    box.prepare()
                    world = World(box)
                    world.claude_write(box.fakes.credential())
                    out["status"] = runner.run(other, box, "auth", "status", "--json", timeout=60)
                    world.claude_write(box.fakes.credential(expires_in=-3600))
                    new = box.fakes.credential()
                    standin.set_token_answer(runner.standin_folder(box), {"access_token": str(new.access_token),
                                                                         "refresh_token": str(new.refresh_token)})
                    out["p"] = runner.run(other, box, "-p", "ping", timeout=60)
                    arrived = any(r["path"].startswith("/v1/oauth/token") for r in standin.requests(out["p"].standin))
                    out["logout"] = runner.run(other, box, "auth", "logout", timeout=60)
                cells = [f"exit {out['status'].status}" + (" (SIGSEGV)" if out["status"].status == -11 else ""),
                         f"exit {out['p'].status}, token {'sent' if arrived else 'not sent'}",
                         f"exit {out['logout'].status}"]
            except Exception as exc:  # noqa: BLE001 - a measurement: the failure is the row
                cells = [f"{type(exc).__name__}: {str(exc)[:60]}", "-", "-"]
            rows.append([version, str(len(doc.get("needs", []))), folder.name, str(fits(rt, doc)), *cells])
        let_go(release)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows)


def scenarios(version: str) -> dict:
    """The @release scenarios of one release, serially: each one's time, the refresh scenario apart."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "-q", "--backend=sim", "-m", "release",
                        f"--claude-code={version}", f"--junitxml={junit}", f"--alluredir={tmp}/allure",
                        f"--reports-dir={tmp}/reports"], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        cases = list(ET.parse(junit).getroot().iter("testcase")) if junit.exists() else []
    ran = {c.get("name"): float(c.get("time", 0)) for c in cases
           if c.find("skipped") is None or c.find("skipped").get("type") == "pytest.xfail"}
    refresh = [t for name, t in ran.items() if "refresh_by_the_release" in name]
    return {"scenarios_ran": len(ran), "scenarios_total": len(cases), "scenarios_wall_s": round(wall, 2),
            "scenario_median_s": round(statistics.median(ran.values()), 2) if ran else None,
            "scenario_max_s": round(max(ran.values()), 2) if ran else None,
            "refresh_scenario_s": round(refresh[0], 2) if refresh else None}


def measure(specs: list[str], rounds: int = 1) -> dict:
    out = {}
    for spec in specs:
        colds, packs = [], []
        version = None
        for _ in range(rounds):
            with _caches():
                cold, release = _t(lambda version=version, spec=spec: registry.load(version or spec))
            version = release.version
            colds.append(cold)
            packs.append(_npm_pack_alone(_packages(release)))
        registry.load(version)                                  # the real cache: filled once, kept
        warm, release = _t(lambda version=version: registry.load(version))
        cold, npm_pack = statistics.median(colds), statistics.median(packs)
        out[version] = {"form": release.form, "packages": len(_packages(release)),
                        "npm_pack_s": round(npm_pack, 2), "cold_s": round(cold, 2),
                        "cold_vs_npm_pack": round(cold / npm_pack, 2), "rounds": rounds, "warm_s": round(warm, 2),
                        **commands(release), **scenarios(version)}
    return out


COLUMNS = [("form", "form", "{}"), ("npm_pack_s", "npm pack s", "{:.2f}"), ("cold_s", "cold s", "{:.2f}"),
           ("cold_vs_npm_pack", "cold/pack", "{:.2f}x"), ("warm_s", "warm s", "{:.2f}"),
           ("auth_status_s", "status s", "{:.2f}"), ("p_ping_refresh_s", "-p+refresh s", "{:.2f}"),
           ("auth_logout_s", "logout s", "{:.2f}"), ("scenarios_ran", "scen. ran", "{}"),
           ("scenario_median_s", "median s", "{}"), ("scenario_max_s", "max s", "{}"),
           ("refresh_scenario_s", "refresh scen. s", "{}")]


def table(results: dict) -> str:
    rows = [["release", *(title for _, title, _ in COLUMNS)]]
    for version, r in results.items():
        rows.append([version, *(fmt.format(r[key]) if r.get(key) is not None else "-" for key, _, fmt in COLUMNS)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows) + \
        "\naims: cold <= 1.3x the npm packs; warm <= 1 s; refresh scenario <= 2.5 s"


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("releases", nargs="?", default="2.1.81,2.1.113,latest")
    ap.add_argument("--rounds", type=int, default=1, help="cold load / npm pack pairs, or with --speed harness/stock "
                    "pairs per call (medians)")
    ap.add_argument("--speed", action="store_true", help="only the harness/stock ratio of each release")
    ap.add_argument("--pairs", metavar="RUNTIMES", help="run each release's graph on each runtime (bun-1.3.13,claude-2.1.331)")
    args = ap.parse_args()
    if args.pairs:
        print(pairs(args.releases.split(","), args.pairs.split(",")))
    elif args.speed:
        results = speed_results(args.releases.split(","), args.rounds, show=lambda t: print(t, flush=True))
        print(speed_table(results))
    else:
        print(table(measure(args.releases.split(","), args.rounds)))
