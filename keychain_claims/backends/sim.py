"""The simulated backend: `keychain-sim`, the shipped model of security(1)."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from keychain_claims import atomic
from keychain_claims.backends.base import Backend, python_shim

if TYPE_CHECKING:  # pragma: no cover
    from keychain_claims.harness.sandbox import Sandbox


class SimBackend(Backend):
    name = "sim"
    simulated = True
    priority = 1
    label = "simulated security(1) (keychain-sim)"

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("keychain_claims.sim.cli") is None:
            return "the security(1) simulator (keychain_claims.sim) is not installed; reinstall with `pip install -e .`"
        return None

    def security_command(self) -> list[str]:
        script = Path(sys.executable).with_name("keychain-sim")
        if script.exists():
            return [str(script)]
        found = shutil.which("keychain-sim")
        return [found] if found else [sys.executable, "-m", "keychain_claims.sim"]

    def shim(self, sandbox: "Sandbox") -> str:
        return python_shim("keychain_claims.sim.cli")

    def env(self, sandbox: "Sandbox") -> dict[str, str]:
        return {"KEYCHAIN_SIM_STATE": str(self.state_dir(sandbox)),
                "KEYCHAIN_SIM_CLOCK": str(self.state_dir(sandbox) / "clock")}

    def state_dir(self, sandbox: "Sandbox") -> Path:
        """The simulator's state for this sandbox (keychains' securityd memory, clock, session, events,
        window records): what KEYCHAIN_SIM_STATE names."""
        from keychain_claims.sim import control
        return control.state_dir(sandbox.root)

    def set_session(self, sandbox: "Sandbox", gui: bool) -> None:
        sandbox.ui = "gui" if gui else "none"
        state = self.state_dir(sandbox)
        state.mkdir(parents=True, exist_ok=True)
        (state / "session").write_text(sandbox.ui)

    def advance_clock(self, sandbox: "Sandbox", seconds: float) -> None:
        from keychain_claims.sim import control
        control.advance_clock(self.state_dir(sandbox), seconds)

    def restart(self, sandbox: "Sandbox") -> None:
        from keychain_claims.sim import control
        control.reboot(self.state_dir(sandbox))

    def sleep(self, sandbox: "Sandbox") -> None:
        from keychain_claims.sim import control
        control.sleep(self.state_dir(sandbox))

    def as_caller(self, sandbox: "Sandbox", identity) -> dict[str, str]:
        return {"KEYCHAIN_SIM_CALLER": identity.to_env()}

    def _events(self, sandbox: "Sandbox") -> list[dict]:
        return atomic.read_jsonl(self.state_dir(sandbox) / "events.jsonl")

    def call_log(self, sandbox: "Sandbox") -> list[list[str]]:
        return [e["argv"] for e in self._events(sandbox) if e.get("event") == "call"]

    def call_count(self, sandbox: "Sandbox") -> int:
        return len(self.call_log(sandbox))

    def prompt_events(self, sandbox: "Sandbox") -> list[dict] | None:
        return [e for e in self._events(sandbox) if e.get("event") == "prompt"]

    def scratch_keychain_commands(self, sandbox: "Sandbox") -> list[list[str]]:
        # the simulator's user preferences live in the sandbox HOME, so making the scratch
        # keychain default and the whole search list is harmless here (never on macOS)
        path = str(sandbox.keychain.path)
        return [*super().scratch_keychain_commands(sandbox), ["default-keychain", "-s", path],
                ["list-keychains", "-d", "user", "-s", path]]

    def teardown_keychain(self, sandbox: "Sandbox") -> None:
        """Nothing outside the sandbox to undo: the simulator keeps the keychain file, the
        user's search list and securityd's memory under the sandbox root, which
        Sandbox.close() removes."""
