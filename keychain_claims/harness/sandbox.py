"""The one sandbox: a temp HOME, a shim directory first on PATH whose `security`
routes to the selected backend, and a scratch keychain created with
`security create-keychain`.  Used by the article's commands and Claude Code alike.

Hermetic like cram: LC_ALL=C, TZ=UTC, a private TMPDIR.  Sandboxes live under one
base directory with an owner pid file, so a run that was SIGKILLed leaves debris
the next run can recognise and sweep.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from keychain_claims.backends import Backend
from keychain_claims.backends import Session
from keychain_claims.harness.driver import Security, Shell
from keychain_claims.fakes import Fakes, Secret
from keychain_claims.owned import (OWNER_FILE, PIDS_FILE, SandboxDirError, base_dir, default_base,  # noqa: F401
                                   owned_dir, sweep)
from keychain_claims.security.prompts import Responder

_OPEN: "set[Sandbox]" = set()          # closed at exit, whatever stopped the run


@atexit.register
def _close_open_sandboxes() -> None:
    for box in list(_OPEN):
        box.close()


@dataclass
class ScratchKeychain:
    path: Path
    password: Secret

    @property
    def name(self) -> str:
        """The name dialogs show: file name without .keychain[-db]."""
        return self.path.name.split(".keychain")[0]


class Sandbox:
    """A temp HOME and a scratch keychain, and the backend's session for them (`session`: every
    backend operation of a scenario goes through it)."""

    def __init__(self, backend: Backend, fakes: Fakes | None = None, ui: str = "none"):
        self.fakes = fakes or Fakes()
        self.ui = ui
        self.root = Path(tempfile.mkdtemp(prefix="kc-", dir=base_dir()))
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        self.home = self.root / "home"
        self.bin = self.root / "bin"
        self.tmp = self.root / "tmp"
        for d in (self.home / "Library" / "Keychains", self.bin, self.tmp):
            d.mkdir(parents=True)
        self.user = self.fakes.user()
        (self.root / "inputrc").write_text("set enable-bracketed-paste off\nset bell-style none\n")
        # the backend names the file: never one securityd would take for a login keychain on a Mac
        self.keychain = ScratchKeychain(self.home / "Library" / "Keychains" / backend.scratch_keychain_file,
                                        self.fakes.keychain_password())
        self._extra_env: dict[str, str] = {}
        self.emulated: list[str] = []         # what the backend emulated in this sandbox, said in the result
        self.shells: list[Shell] = []
        self.security = Security(self)
        self.session: Session = backend.open_session(self)
        self.write_shim()
        _OPEN.add(self)

    # --- environment -------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        env = {
            "HOME": str(self.home), "USER": self.user, "LOGNAME": self.user,
            "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin",
            "LC_ALL": "C", "LANG": "C", "TZ": "UTC", "TMPDIR": str(self.tmp),
            "SHELL": "/bin/bash", "TERM": "dumb", "INPUTRC": str(self.root / "inputrc"),
        }
        if os.environ.get("KEYCHAIN_SIM_ARGV_AUDIT"):          # the isolation tests' argv audit
            env["KEYCHAIN_SIM_ARGV_AUDIT"] = os.environ["KEYCHAIN_SIM_ARGV_AUDIT"]
        env.update(self.session.env())
        env.update(self._extra_env)
        return env

    def getenv(self, key: str) -> str | None:
        """A variable set with setenv for every later command (None: not set)."""
        return self._extra_env.get(key)

    def setenv(self, **values: str | None) -> None:
        """Set (or with None, drop) variables for every later command in this sandbox."""
        for key, value in values.items():
            if value is None:
                self._extra_env.pop(key, None)
            else:
                self._extra_env[key] = value

    def write_shim(self) -> None:
        shim = self.bin / "security"
        shim.write_text(self.session.shim())
        shim.chmod(0o755)

    def track_pid(self, pid: int) -> None:
        """Record a background child so a later sweep can kill it if this run dies."""
        with open(self.root / PIDS_FILE, "a") as fh:
            fh.write(f"{pid}\n")

    # --- drivers -----------------------------------------------------------------
    def responder(self, **kw) -> Responder:
        return Responder(keychain_password=str(self.keychain.password), **kw)

    def shell(self) -> Shell:
        shell = Shell(self)
        self.shells.append(shell)
        return shell

    def prepare(self) -> "Sandbox":
        self.session.prepare()
        return self

    def close(self) -> None:
        _OPEN.discard(self)
        for shell in self.shells:
            try:
                shell.close()
            except Exception:
                pass
        self.session.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Sandbox {self.root.name} backend={self.session.backend.name}>"
