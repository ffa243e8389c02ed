"""Where `security` comes from.

A Backend is chosen once per run (`--backend auto|macos|sim`).  Like jaraco/keyring's
backends each has a priority and says whether it can run here; `auto` takes the best
available one.  Every result names the backend: a simulated pass is evidence about
the model, not about macOS.
"""
from __future__ import annotations

import importlib.util
import os
import platform
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .sandbox import Sandbox

CHOICES = ("auto", "macos", "sim")


class BackendError(Exception):
    """A one-line, actionable reason a backend cannot be used."""


def python_shim(module: str, *fixed_args: str) -> str:
    """Text of a `security` shim that runs `module`.main() with `fixed_args` before the caller's
    argv.  Python starts isolated (-I: no PYTHON* variables, no working directory on sys.path)
    and without `site` (-S): the shims need only the standard library and this package, and
    every `security` call pays for the start -- -S saves ~14 ms a call, -c instead of -m ~2 ms."""
    from . import PROJECT_ROOT
    code = f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r}); from {module} import main; sys.exit(main())"
    return f'#!/bin/sh\nexec {shlex.join([sys.executable, "-I", "-S", "-c", code, *fixed_args])} "$@"\n'


class Backend:
    name = "?"
    simulated = True
    priority = 0
    label = "?"

    def unavailable(self) -> str | None:
        """None when usable here, else the one-line reason."""
        raise NotImplementedError

    def security_command(self) -> list[str]:
        raise NotImplementedError

    def shim(self, sandbox: "Sandbox") -> str:
        """Text of the sandbox's `security` shim."""
        cmd = " ".join(shlex.quote(c) for c in self.security_command())
        return f'#!/bin/sh\nexec {cmd} "$@"\n'

    def env(self, sandbox: "Sandbox") -> dict[str, str]:
        return {}

    def scratch_keychain_commands(self, sandbox: "Sandbox") -> list[list[str]]:
        """The `security` commands that make the scratch keychain, in order (no passwords:
        each is typed at its prompt)."""
        path = str(sandbox.keychain.path)
        return [["create-keychain", path], ["set-keychain-settings", path], ["unlock-keychain", path]]

    def prepare_keychain(self, sandbox: "Sandbox") -> None:
        """Create, configure and unlock the scratch keychain in one `security -i` session:
        the commands come on stdin, the password is typed at each getpass prompt on the
        terminal.  One process, not one per command; the keychain sees the same commands."""
        from .sim.cli import join_line
        sandbox.keychain.path.parent.mkdir(parents=True, exist_ok=True)
        script = "".join(join_line(argv) + "\n" for argv in self.scratch_keychain_commands(sandbox))
        call = sandbox.security.run("-i", stdin=script, responder=sandbox.responder())
        said = call.stderr.strip()          # every one of these commands is silent on success
        if call.status == 0 and not said:
            return
        failed = re.search(r"^(\S+): returned (-?\d+)$", said, re.M)
        what = f"security {failed[1]} returned {failed[2]}" if failed else f"security -i exited {call.status}"
        detail = next((line for line in said.splitlines() if not re.match(r"\S+: returned ", line)), "")
        raise BackendError(f"could not prepare the scratch keychain: {what}: {detail[:200]}")

    def teardown_keychain(self, sandbox: "Sandbox") -> None:
        if sandbox.keychain.path.exists():
            sandbox.security.run("delete-keychain", str(sandbox.keychain.path))

    # --- what a scenario can do to the world; backends differ ------------------------------
    def set_session(self, sandbox: "Sandbox", gui: bool) -> None:
        """Make later calls run in a GUI session (dialogs) or a non-GUI one (exit 36)."""
        raise NotImplementedError

    def advance_clock(self, sandbox: "Sandbox", seconds: float) -> None:
        raise NotImplementedError

    def restart(self, sandbox: "Sandbox") -> None:
        """What a reboot does to the keychain: every keychain locked."""
        raise NotImplementedError

    def as_caller(self, identity) -> dict[str, str]:
        """Environment that makes the next `security` call act as `identity`."""
        raise NotImplementedError

    def call_log(self, sandbox: "Sandbox") -> list[list[str]] | None:
        """argv of every `security` call made in the sandbox by anyone, or None if unknown."""
        return None

    def call_count(self, sandbox: "Sandbox") -> int:
        """How many times `security` ran in the sandbox (as far as the backend can tell)."""
        return len(sandbox.security.calls)

    def prompt_events(self, sandbox: "Sandbox") -> list[dict] | None:
        """Every prompt the keychain raised (also the ones that failed with 36), or None
        when the backend cannot tell."""
        return None

    def __repr__(self) -> str:          # also the Allure parameter's value
        return f"{self.name} ({'simulated' if self.simulated else 'real macOS'})"


class MacOSBackend(Backend):
    name = "macos"
    simulated = False
    priority = 10
    label = "real macOS security(1)"
    path = "/usr/bin/security"

    def unavailable(self) -> str | None:
        if sys.platform != "darwin":
            return f"--backend macos needs macOS; this host is {platform.system()} (use --backend sim)"
        if not os.access(self.path, os.X_OK):
            return f"{self.path} is missing or not executable; reinstall macOS command line tools or use --backend sim"
        return None

    def security_command(self) -> list[str]:
        return [self.path]

    def shim(self, sandbox: "Sandbox") -> str:
        """Every call pinned to the scratch keychain (keychain_claims/shim.py)."""
        return python_shim("keychain_claims.shim", "--keychain", str(sandbox.keychain.path), "--real", self.path, "--")

    def set_session(self, sandbox: "Sandbox", gui: bool) -> None:
        import pytest
        pytest.skip("on macOS the session type is the runner's own; a scenario that needs "
                    f"{'a dialog answered' if gui else 'a non-GUI session'} runs on the simulated backend "
                    "or with UI automation")

    def advance_clock(self, sandbox: "Sandbox", seconds: float) -> None:
        import time
        import pytest
        if seconds > 30:
            pytest.skip(f"cannot let {seconds:.0f}s pass on a real keychain within a test run")
        time.sleep(seconds)          # on a real Mac, time passing is the thing under test

    def restart(self, sandbox: "Sandbox") -> None:
        sandbox.security.run("lock-keychain", str(sandbox.keychain.path))

    def prepare_keychain(self, sandbox: "Sandbox") -> None:
        super().prepare_keychain(sandbox)
        from . import macos_safety
        shim_run = lambda argv: (lambda c: (c.status, c.stdout, c.stderr))(sandbox.security.run(*argv))  # noqa: E731
        try:
            macos_safety.check_pinned(shim_run, str(sandbox.keychain.path))
        except macos_safety.SafetyError as exc:
            raise BackendError(str(exc)) from None

    def as_caller(self, identity) -> dict[str, str]:
        import pytest
        if identity.path == self.path:
            return {}
        pytest.skip(f"acting as {identity.signing} app {identity.name!r} needs a signed test binary; "
                    "only the simulated backend can impersonate callers")


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
        return {"KEYCHAIN_SIM_STATE": str(self._state(sandbox)),
                "KEYCHAIN_SIM_CLOCK": str(self._state(sandbox) / "clock")}

    def _state(self, sandbox: "Sandbox") -> Path:
        return sandbox.root / "sim-state"

    def set_session(self, sandbox: "Sandbox", gui: bool) -> None:
        sandbox.ui = "gui" if gui else "none"
        state = self._state(sandbox)
        state.mkdir(parents=True, exist_ok=True)
        (state / "session").write_text(sandbox.ui)

    def advance_clock(self, sandbox: "Sandbox", seconds: float) -> None:
        from .sim import control
        control.advance_clock(self._state(sandbox), seconds)

    def restart(self, sandbox: "Sandbox") -> None:
        from .sim import control
        control.reboot(self._state(sandbox))

    def as_caller(self, identity) -> dict[str, str]:
        return {"KEYCHAIN_SIM_CALLER": identity.to_env()}

    def _events(self, sandbox: "Sandbox") -> list[dict]:
        import json
        path = self._state(sandbox) / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def call_log(self, sandbox: "Sandbox") -> list[list[str]] | None:
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


BACKENDS: dict[str, type[Backend]] = {"macos": MacOSBackend, "sim": SimBackend}


def select(name: str) -> Backend:
    """Resolve `--backend`.  Raises BackendError with a one-line reason."""
    if name not in CHOICES:
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(CHOICES)}")
    if name == "auto":
        candidates = sorted((cls() for cls in BACKENDS.values()), key=lambda b: -b.priority)
        for backend in candidates:
            if backend.unavailable() is None:
                return backend
        return candidates[-1]          # unusable: scenarios will skip with its reason
    return BACKENDS[name]()

