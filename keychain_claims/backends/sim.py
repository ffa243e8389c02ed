"""The simulated backend: `keychain-sim`, the shipped model of security(1)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from keychain_claims import atomic
from keychain_claims.backends.base import Backend, Box, Session, python_shim
from keychain_claims import sim
from keychain_claims.sim import control


class SimBackend(Backend):
    name = "sim"
    simulated = True
    priority = 1
    label = "simulated security(1) (keychain-sim)"
    covers_every_scenario = True
    keeps_call_log = True
    records_prompts = True

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("keychain_claims.sim.cli") is None:
            return "the security(1) simulator (keychain_claims.sim) is not installed; reinstall with `pip install -e .`"
        return None

    def security_command(self) -> list[str]:
        return sim.command()

    def open_session(self, sandbox: Box) -> "SimSession":
        return SimSession(self, sandbox)


def state_dir(sandbox: Box) -> Path:
    """The simulator's state for a sandbox (keychains' securityd memory, clock, session, events,
    window records): what KEYCHAIN_SIM_STATE names."""
    return control.state_dir(sandbox.root)


def sim_env(sandbox: Box) -> dict[str, str]:
    """The variables that point keychain-sim at a sandbox's state."""
    return {"KEYCHAIN_SIM_STATE": str(state_dir(sandbox)), "KEYCHAIN_SIM_CLOCK": str(state_dir(sandbox) / "clock")}


class SimSession(Session):
    backend: SimBackend

    @property
    def state_dir(self) -> Path:
        return state_dir(self.sandbox)

    def shim(self) -> str:
        return python_shim("keychain_claims.sim.cli")

    def env(self) -> dict[str, str]:
        return sim_env(self.sandbox)

    def set_gui(self, gui: bool) -> None:
        super().set_gui(gui)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "session").write_text(self.sandbox.ui)

    def advance_clock(self, seconds: float) -> None:
        control.advance_clock(self.state_dir, seconds)

    def restart(self) -> None:
        control.reboot(self.state_dir)

    def sleep(self) -> None:
        control.sleep(self.state_dir)

    def as_caller(self, identity) -> dict[str, str]:
        return {"KEYCHAIN_SIM_CALLER": identity.to_env()}

    def _events(self) -> list[dict]:
        return atomic.read_jsonl(self.state_dir / "events.jsonl")

    def call_log(self) -> list[list[str]] | None:
        return [e["argv"] for e in self._events() if e.get("event") == "call"]

    def prompt_events(self) -> list[dict] | None:
        return [e for e in self._events() if e.get("event") == "prompt"]

    def scratch_keychain_commands(self) -> list[list[str]]:
        # the simulator's user preferences live in the sandbox HOME, so making the scratch
        # keychain default and the whole search list is harmless here (never on macOS)
        path = str(self.sandbox.keychain.path)
        return [*super().scratch_keychain_commands(), ["default-keychain", "-s", path],
                ["list-keychains", "-d", "user", "-s", path]]

    def teardown_keychain(self) -> None:
        """Nothing outside the sandbox to undo: the simulator keeps the keychain file, the
        user's search list and securityd's memory under the sandbox root, which
        Sandbox.close() removes."""
