"""Folders this process owns under the sandboxes' base folder (a sandbox, the rehearsal's user
domain): each has an owner pid file, so a run that was SIGKILLed leaves debris the next run can
recognise and sweep.  Bottom layer: the harness's sandboxes and the backends' own folders alike.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from pathlib import Path

from keychain_claims import PROJECT_ROOT
from keychain_claims.atomic import probe
from keychain_claims.errors import UserError
from keychain_claims.security.process import alive

OWNER_FILE = "owner.pid"
PIDS_FILE = "children.pids"


def default_base() -> Path:
    """Under the checkout (build/ is git-ignored), never the host's temp directory.  Nothing the
    harness makes there is a unix socket; a release that makes one under its TMPDIR needs the
    path to stay under macOS's 104 bytes: point KEYCHAIN_CLAIMS_SANDBOXES at a short folder if
    the checkout's path is long."""
    return PROJECT_ROOT / "build" / "sandboxes"


class SandboxDirError(UserError):
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


