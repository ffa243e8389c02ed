"""Test-only controls for what `security`'s argv cannot do: move the clock, reboot, sleep,
and read the event log.  `state` is the sandbox's KEYCHAIN_SIM_STATE directory."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path


def _clock(state: Path) -> Path:
    return Path(os.environ.get("KEYCHAIN_SIM_CLOCK_OVERRIDE", state / "clock"))


def now(state: Path) -> float:
    try:
        return float(_clock(state).read_text())
    except (OSError, ValueError):
        return time.time()


def advance_clock(state: Path, seconds: float) -> float:
    """Move the simulated clock forward (creating it from real time if missing)."""
    state = Path(state)
    state.mkdir(parents=True, exist_ok=True)
    value = now(state) + seconds
    tmp = state / ".clock.tmp"
    tmp.write_text(repr(value))
    os.replace(tmp, _clock(state))
    return value


def _write_runtime(state: Path, data: dict) -> None:
    from . import store
    store.write_json(str(Path(state) / "runtime.json"), data)


def reboot(state: Path) -> None:
    """securityd forgets every key: every keychain is locked."""
    _write_runtime(state, {})


def sleep(state: Path) -> None:
    """The machine sleeps: keychains set to lock on sleep are locked."""
    from . import store
    runtime = store.read_json(str(Path(state) / "runtime.json"), {})
    kept = {}
    for path, entry in runtime.items():
        try:
            settings = json.loads(Path(path).read_text())["settings"]
        except (OSError, ValueError, KeyError):
            continue
        if not settings.get("lock_on_sleep"):
            kept[path] = entry
    _write_runtime(state, kept)


def events(state: Path) -> list[dict]:
    path = Path(state) / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
