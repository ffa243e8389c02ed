"""The real macOS backend: /usr/bin/security behind a shim that pins every call to the
scratch keychain (shim.py), with the safety checks of safety.py."""
from __future__ import annotations

import os
import platform
import sys
from typing import TYPE_CHECKING

from keychain_claims.backends.base import Backend, BackendError, python_shim

if TYPE_CHECKING:  # pragma: no cover
    from keychain_claims.harness.sandbox import Sandbox


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
        return python_shim("keychain_claims.backends.macos.shim", "--keychain", str(sandbox.keychain.path), "--real", self.path, "--")

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
        from keychain_claims.backends.macos import safety as macos_safety
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
