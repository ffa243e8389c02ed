"""`--backend rehearsal`: the macOS backend's whole code path, on any host.

Everything MacOSBackend does runs as it would on a hosted macOS runner -- the shim with its
pinning and call log, the dialog watch and its dismissal, emulated answers, test callers, the
hard limit on every call, releases run without unshare -- with keychain-sim standing in for
/usr/bin/security and for the test callers.  The stand-in behaves like a runner: a GUI session
in which nobody answers dialogs (a dialog blocks until it is dismissed).  Only the leaves differ:
where a Mac asks SecurityAgent, codesign or the test caller program, the rehearsal asks the
simulator.  It is the proof, on every change, that a Mac run neither hangs nor skips its way to
green; its results are evidence about the model, like the simulator's.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from keychain_claims.backends.base import python_shim
from keychain_claims.backends.macos.backend import MacOSBackend
from keychain_claims.backends.sim import SimBackend

if TYPE_CHECKING:  # pragma: no cover
    from keychain_claims.harness.sandbox import Sandbox

HOSTED_RUNNER = "gui-unattended"      # the simulator's session kind: a GUI where nobody answers


class SimWindows:
    """The dialog watch over the simulator's window records (one file per blocked dialog)."""

    def __init__(self, state: Path):
        self.state = state
        self.dismissed: set[int] = set()

    def open(self) -> list[dict]:
        from keychain_claims.sim import control
        return [w for w in control.windows(self.state) if w.get("pid") not in self.dismissed]

    def dismiss(self) -> int:
        from keychain_claims.sim import control
        self.dismissed |= {w.get("pid") for w in control.windows(self.state)}
        return control.dismiss(self.state)


class RehearsalBackend(MacOSBackend):
    name = "rehearsal"
    simulated = True
    priority = 0            # never chosen by `auto`
    label = "rehearsal: the macOS backend's code path, keychain-sim standing in for /usr/bin/security and test callers"
    guards_user_keychains = True
    call_limit = 15.0

    def __init__(self):
        self._sim = SimBackend()

    def unavailable(self) -> str | None:
        return self._sim.unavailable()

    def security_command(self) -> list[str]:
        return self._sim.security_command()

    def system_security(self) -> tuple[list[str], dict[str, str]]:
        """The safety snapshot's `security`: the simulator with a user domain of its own."""
        from keychain_claims.harness.sandbox import owned_dir
        state = str(owned_dir("rehearsal-user-"))        # removed at exit; swept if the run is killed
        return self._sim.security_command(), {"KEYCHAIN_SIM_STATE": state, "HOME": state}

    def env(self, sandbox: "Sandbox") -> dict[str, str]:
        return self._sim.env(sandbox)

    def _state(self, sandbox: "Sandbox") -> Path:
        return self._sim._state(sandbox)

    def real_security(self, sandbox: "Sandbox") -> str:
        """The stand-in for /usr/bin/security that the shim calls."""
        path = sandbox.root / "standin" / "security"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_text(python_shim("keychain_claims.sim.cli"))
            path.chmod(0o755)
            state = self._state(sandbox)
            state.mkdir(parents=True, exist_ok=True)
            (state / "session").write_text(HOSTED_RUNNER)
        return str(path)

    def shim_watch(self, sandbox: "Sandbox") -> str:
        return f"sim:{self._state(sandbox)}"

    def dialog_watch(self, sandbox: "Sandbox") -> SimWindows:
        return sandbox.state.setdefault("windows", SimWindows(self._state(sandbox)))

    def keychain_locked(self, sandbox: "Sandbox") -> bool:
        return _sim_locked(self._state(sandbox), str(sandbox.keychain.path))

    def as_caller(self, sandbox: "Sandbox", identity) -> dict[str, str]:
        """The test caller's stand-in: the simulator reading as `identity` with user interaction
        disabled, run by the shim in place of the real tool, as a built test caller is on a Mac."""
        if self._team_rebuild(sandbox, identity):
            return super().as_caller(sandbox, identity)          # skips, as on a Mac
        folder = sandbox.root / "callers"
        folder.mkdir(exist_ok=True)
        path = folder / f"{identity.name}-{identity.signing}-{identity.team or 'none'}-{identity.build}"
        if not path.exists():
            code = python_shim("keychain_claims.sim.cli").replace(
                "exec ", f"KEYCHAIN_SIM_CALLER={_sh(identity.to_env())} KEYCHAIN_SIM_INTERACTION=0 exec ", 1)
            path.write_text(code)
            path.chmod(0o755)
        return {"KEYCHAIN_CLAIMS_CALLER": str(path)}

    def grant(self, sandbox: "Sandbox", identity, account: str | None, service: str | None, once: bool):
        who = json.loads(identity.to_env()) if identity is not None else None
        return _sim_grant(self._state(sandbox), str(sandbox.keychain.path), str(sandbox.keychain.password),
                          account, service, who, once)

    def teardown_keychain(self, sandbox: "Sandbox") -> None:
        """As for the simulator: every bit of state is under the sandbox root."""


def _sh(text: str) -> str:
    import shlex
    return shlex.quote(text)


def _item(data: dict, account: str | None, service: str | None) -> dict:
    for item in data["items"]:
        attrs = item["attrs"]
        if attrs.get("svce") == service and (account is None or attrs.get("acct") == account):
            return item
    raise KeyError(f"no item {service!r} for {account!r} in the scratch keychain")


def _sim_locked(state: Path, path: str) -> bool:
    """The test caller's `status` mode, asked of the simulator: no live key for the keychain."""
    from keychain_claims.sim import commands, control, store
    with control._env(state), store.Locked():
        return commands._live_key(path, store.load_keychain(path), store.runtime(), store.now()) is None


def _sim_grant(state: Path, path: str, password: str, account: str | None, service: str | None,
               who: dict | None, once: bool):
    """The test caller's `grant` mode, asked of the simulator: Always Allow's effect for `who`
    (None: the security tool), checked against the keychain password; with `once` a restore."""
    import copy
    from keychain_claims.sim import acl, control
    with control.changing(path, password, state) as data:
        item = _item(data, account, service)
        saved = copy.deepcopy({k: item.get(k) for k in ("acl", "partition")})
        acl.always_allow(item, acl.SECURITY if who is None else who, data["version"])

    def restore() -> None:
        with control.changing(path, password, state) as data:
            _item(data, account, service).update(saved)
    return restore if once else None
