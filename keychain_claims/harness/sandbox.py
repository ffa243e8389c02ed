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
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

from keychain_claims import PROJECT_ROOT
from keychain_claims.backends import Backend
from keychain_claims.security.process import alive
from keychain_claims.harness.driver import Security, Shell
from keychain_claims.fakes import Fakes, Secret
from keychain_claims.security.prompts import Responder
from keychain_claims.atomic import probe

_OPEN: "set[Sandbox]" = set()          # closed at exit, whatever stopped the run
OWNER_FILE = "owner.pid"
PIDS_FILE = "children.pids"


def default_base() -> Path:
    """Under the checkout (build/ is git-ignored), never the host's temp directory.  Nothing the
    harness makes there is a unix socket; a release that makes one under its TMPDIR needs the
    path to stay under macOS's 104 bytes: point KEYCHAIN_CLAIMS_SANDBOXES at a short folder if
    the checkout's path is long."""
    return PROJECT_ROOT / "build" / "sandboxes"


class SandboxDirError(Exception):
    """One line: the sandboxes' base folder cannot be used."""


def base_dir() -> Path:
    path = Path(os.environ.get("KEYCHAIN_CLAIMS_SANDBOXES") or default_base())
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe(path)
    except OSError as exc:
        raise SandboxDirError(f"cannot make sandboxes under {path} ({exc.strerror or exc}); point "
                              "KEYCHAIN_CLAIMS_SANDBOXES at a writable folder") from None
    return path


def owned_dir(prefix: str) -> Path:
    """A folder under the base, owned by this process like a sandbox: removed at exit, and by a
    later sweep if this process is killed."""
    path = Path(tempfile.mkdtemp(prefix=f"kc-{prefix}", dir=base_dir()))
    (path / OWNER_FILE).write_text(str(os.getpid()))
    atexit.register(shutil.rmtree, path, True)
    return path


LEGACY_DEBRIS = ("keychain-claims/kc-*", "kc-rehearsal-user-*")    # what older versions left in $TMPDIR


def sweep(base: Path | None = None) -> list[Path]:
    """Remove sandboxes whose owner process is gone (debris of a killed run);
    their recorded child processes are killed first.  Returns what was removed.  Without `base`
    also what older versions left in the temp directory (sandboxes, the rehearsal's user state)."""
    removed = []
    roots = sorted((base or base_dir()).glob("kc-*"))
    if base is None:
        roots += sorted(p for pattern in LEGACY_DEBRIS for p in Path(tempfile.gettempdir()).glob(pattern)
                        if p.is_dir() and not p.is_symlink())
    for root in dict.fromkeys(roots):
        try:
            owner = int((root / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            owner = 0
        if owner and alive(owner):
            continue
        for line in ((root / PIDS_FILE).read_text().split() if (root / PIDS_FILE).exists() else []):
            try:
                os.kill(int(line), signal.SIGKILL)
            except (ProcessLookupError, ValueError, PermissionError):
                pass
        shutil.rmtree(root, ignore_errors=True)
        removed.append(root)
    return removed


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
    def __init__(self, backend: Backend, fakes: Fakes | None = None, ui: str = "none"):
        self.backend = backend
        self.fakes = fakes or Fakes()
        self.ui = ui
        from keychain_claims.backends.base import Session
        self.session = Session()             # the harness's own until prepare() opens the backend's
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
        self.state: dict = {}                 # what the backend keeps per sandbox (dialog watch, callers built)
        self.emulated: list[str] = []         # what the backend emulated in this sandbox, said in the result
        self.shells: list[Shell] = []
        self.security = Security(self)
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
        env.update(self.backend.env(self))
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
        shim.write_text(self.backend.shim(self))
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
        self.session = self.backend.open_session(self)
        self.backend.prepare_keychain(self)
        return self

    def close(self) -> None:
        _OPEN.discard(self)
        for shell in self.shells:
            try:
                shell.close()
            except Exception:
                pass
        try:
            self.backend.teardown_keychain(self)
        except Exception:
            pass
        try:
            self.session.close()
        except Exception:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Sandbox {self.root.name} backend={self.backend.name}>"
