"""Test-only controls for what `security`'s argv cannot do.  `state` is the sandbox's
KEYCHAIN_SIM_STATE directory (SimBackend puts it at <sandbox>/sim-state).

    advance_clock(state, seconds)   move the injectable clock (file `state/clock`) forward
    reboot(state)                   securityd forgets every key: every keychain locked
    sleep(state)                    the Mac sleeps: keychains set to lock on sleep are locked
    events(state)                   the event log: {"event": "call"|"prompt", ...} per line
    windows(state)                  dialogs open in a gui-unattended session (nobody answers them)
    dismiss(state)                  close them all (SIGTERM): each fails as a cancelled dialog
    state_dir(sandbox_root)         the state directory of a sandbox (<sandbox_root>/sim-state)
    locked(state, keychain_path[, session])
                                    whether securityd holds no key for the keychain now (in a session)
    add_item(path, attrs, secret, password)
                                    an item security cannot make (e.g. without an account)
    corrupt_item_data(path, service, new_bytes, password)
                                    replace an item's data as stored (e.g. a torn credential)

Every change goes through the simulator's own locks and atomic writes."""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from keychain_claims import atomic
from keychain_claims.security.process import alive


def _clock(state: Path) -> Path:
    return Path(os.environ.get("KEYCHAIN_SIM_CLOCK_OVERRIDE", Path(state) / "clock"))


def now(state: Path) -> float:
    """The simulated time: the clock file's value, or real time while there is none."""
    try:
        return float(_clock(state).read_text())
    except (OSError, ValueError):
        return time.time()


def state_dir(sandbox_root: Path) -> Path:
    """The simulator's state directory for a sandbox rooted at `sandbox_root` (what the backends
    pass as KEYCHAIN_SIM_STATE and what every control here takes as `state`)."""
    return Path(sandbox_root) / "sim-state"


def advance_clock(state: Path, seconds: float) -> float:
    """Move the simulated clock forward (creating it from real time if missing); returns the new time.
    Only calls that see KEYCHAIN_SIM_CLOCK=<state>/clock (SimBackend's env) follow it."""
    from keychain_claims.sim import store
    state = Path(state)
    with store.using_state(state), store.Locked():
        value = now(state) + seconds
        store.write_json(str(_clock(state)), value)
    return value


def locked(state: Path, keychain_path: str | Path, session: str | None = None) -> bool:
    """Whether securityd holds no live key for the keychain now in `session` (default: the
    caller's, KEYCHAIN_SIM_ASID) -- never unlocked there, locked, or idle past its timeout --
    read under the simulator's lock without changing anything."""
    from keychain_claims.sim import keychain_commands, store
    path = str(keychain_path)
    with store.using_state(Path(state)), store.Locked():
        return keychain_commands.live_key(path, store.load_keychain(path), store.runtime(session),
                                          store.now()) is None


def reboot(state: Path) -> None:
    """securityd forgets every key in every session: every keychain is locked."""
    from keychain_claims.sim import store
    with store.using_state(Path(state)), store.Locked():
        for session in store.sessions():
            store.save_runtime({}, session)


def sleep(state: Path) -> list[str]:
    """The machine sleeps: keychains set to lock on sleep are locked, in every session.  Returns
    their paths."""
    from keychain_claims.sim import store
    locked = []
    with store.using_state(Path(state)), store.Locked():
        for session in store.sessions():
            runtime = store.runtime(session)
            for path in list(runtime):
                try:
                    settings = store.load_keychain(path)["settings"]
                except Exception:               # gone or unreadable: nothing left to keep unlocked
                    settings = {"lock_on_sleep": True}
                if settings.get("lock_on_sleep"):
                    del runtime[path]
                    if path not in locked:
                        locked.append(path)
            store.save_runtime(runtime, session)
    return locked


def events(state: Path) -> list[dict]:
    return atomic.read_jsonl(Path(state) / "events.jsonl")


def prompts(state: Path) -> list[dict]:
    return [e for e in events(state) if e.get("event") == "prompt"]


def corrupt_item_data(keychain_path: str | Path, service: str, new_bytes: bytes, password: str,
                      state: Path | None = None) -> None:
    """Replace the data of the first item of `service` with `new_bytes` (sealed with the keychain's
    key, as securityd would store whatever it was given), leaving attributes and ACL alone: a
    credential that is not the JSON the reader expects.  Raises KeyError if there is no such item,
    ValueError if `password` is not the keychain's."""
    from keychain_claims.sim import crypto
    with changing(keychain_path, password, state) as data:
        item = next((i for i in data["items"] if i["attrs"].get("svce") == service), None)
        if item is None:
            raise KeyError(service)
        item["data"] = crypto.seal(crypto.key(data["salt"], password), bytes(new_bytes))


@contextmanager
def changing(keychain_path: str | Path, password: str, state: Path | None = None):
    """The keychain's contents to change in place, under the simulator's locks, saved atomically at
    the end; the state directory is `state` (default: KEYCHAIN_SIM_STATE).  Raises ValueError if
    `password` is not the keychain's, as the test-only changes here need it."""
    from keychain_claims.sim import crypto, store
    path = str(keychain_path)
    ctx = store.using_state(Path(state) if state is not None else Path(store.state_dir()))
    with ctx, store.Locked(path):
        data = store.load_keychain(path)
        if crypto.verifier(data["salt"], password) != data["verifier"]:
            raise ValueError("not the keychain's password")
        yield data
        store.save_keychain(path, data)


def windows(state: Path) -> list[dict]:
    """The dialogs open in a `gui-unattended` session: one record per waiting process
    ({"pid", "kind": "item"|"unlock", "app", "item", "keychain", "text"}); records of processes
    that are gone are dropped (and their files removed)."""
    folder = Path(state) / "windows"
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
            pid = int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue                                  # being written or torn: not a window yet
        if alive(pid):
            found.append(record)
        else:
            path.unlink(missing_ok=True)
    return found


def dismiss(state: Path) -> int:
    """Close every open window (SIGTERM to its process, which then fails as a cancelled dialog
    does: errSecUserCanceled, exit 128).  Returns how many there were."""
    import signal
    count = 0
    for record in windows(state):
        try:
            os.kill(int(record["pid"]), signal.SIGTERM)
            count += 1
        except ProcessLookupError:
            pass
    return count


def add_item(keychain_path: str | Path, attrs: dict, secret: bytes, password: str, item_class: str = "genp",
             state: Path | None = None) -> None:
    """Store an item as another program would (Keychain Access, an app through the framework):
    attributes exactly as given -- e.g. no account at all, which `add-generic-password` cannot make
    (it requires -a) -- with the standard ACL of the caller and dates from the simulated clock.
    Raises ValueError if `password` is not the keychain's."""
    from keychain_claims.sim import acl, crypto, store, unverified
    with changing(keychain_path, password, state) as data:
        who, t = acl.caller(), store.now()
        attrs = {**attrs, "cdat": t, "mdat": t}
        label = attrs.get("labl") or attrs.get("svce") or attrs.get("srvr") or ""
        data["items"].append({"id": data["next_id"], "class": item_class, "attrs": attrs,
                              "data": crypto.seal(crypto.key(data["salt"], password), bytes(secret)),
                              "acl": acl.default_acl(who, label, None, False),
                              "partition": [acl.partition_id(who)] if data["version"] == 512 else None,
                              "integrity": data["version"] == 512 and unverified.INTEGRITY_ENTRY})
        data["next_id"] += 1
