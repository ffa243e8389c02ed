"""Cold and warm cost of a Claude Code release: npm pack alone, download+verify+unpack into an
empty cache, a warm (cached) load, fingerprints, and one behaviour run (`auth status`).
Used by bench/run.py --releases; runnable alone: python bench/releases.py 2.1.81,latest"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from keychain_claims.backend import SimBackend  # noqa: E402
from keychain_claims.release import fingerprints, registry, runner  # noqa: E402
from keychain_claims.sandbox import Sandbox  # noqa: E402


def _t(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def measure(versions: list[str]) -> dict:
    out = {}
    for spec in versions:
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as plain:
            npm_pack, _ = _t(lambda: subprocess.run(["npm", "pack", f"{registry.PACKAGE}@{spec}", "--silent"],
                                                    cwd=plain, capture_output=True))
            os.environ["KEYCHAIN_CLAIMS_CACHE"] = cache
            cold, release = _t(lambda: registry.load(spec))
            warm, _ = _t(lambda: registry.load(spec))
            source = release.bundle or max((p for p in release.root.rglob("*") if p.is_file()),
                                           key=lambda p: p.stat().st_size)
            prints, _ = _t(lambda: fingerprints.read(source))
            behaviour = None
            if release.runnable_here is None and runner.isolation() is None:
                with Sandbox(SimBackend()) as box:
                    box.prepare()
                    behaviour, _ = _t(lambda: runner.run(release, box, "auth", "status", "--json"))
            del os.environ["KEYCHAIN_CLAIMS_CACHE"]
        out[release.version] = {"form": release.form, "npm_pack_s": round(npm_pack, 2), "cold_s": round(cold, 2),
                                "cold_vs_npm_pack": round(cold / npm_pack, 2), "warm_s": round(warm, 2),
                                "fingerprints_s": round(prints, 2),
                                "behaviour_auth_status_s": None if behaviour is None else round(behaviour, 2)}
    return out


if __name__ == "__main__":
    import json
    print(json.dumps(measure((sys.argv[1] if len(sys.argv) > 1 else "2.1.81").split(",")), indent=2))
