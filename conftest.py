"""keychain-claims: checks, claim by claim, articles/claude-code-keychain-acl-invalidation.md.

The suite's entry plugin, keychain_claims.plugins.plugin, which pytest.ini loads before the command
line is read, declares its options and registers its plugins (one concern each); the modules below
are the suite's fixtures and steps."""

import os
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if ("keychain_claims.plugins.plugin" not in sys.modules               # pytest.ini was not read, and
        and not Path.cwd().resolve().is_relative_to(_HERE)):           # pytest started above this folder:
    # this conftest is not at pytest's rootdir, where pytest refuses `pytest_plugins` with a message that
    # invites editing it; say instead where to start, before anything ran or was cleaned
    sys.stderr.write(f"keychain-claims: pytest was started in {Path.cwd()}, above the suite's folder; nothing ran "
                     f"and no result was touched — run cd {os.path.relpath(_HERE)} && .venv/bin/pytest\n")
    sys.stderr.flush()
    os._exit(4)

pytest_plugins = [
    "keychain_claims.plugins.plugin",   # already loaded by pytest.ini, unless a run names another ini
    "fixtures.sandbox",
    "steps.keychain",
    "steps.terminal",
    "steps.release_steps",
    "steps.refresh_steps",
    "steps.field_steps",
]


def pytest_configure(config) -> None:
    """Temporary files under build/, never the host's /tmp.  `make` sets TMPDIR (and --basetemp); a
    direct `.venv/bin/pytest` -- the claims suite or the project's own tests -- started without
    TMPDIR, or with the host's /tmp as TMPDIR, gets build/tmp instead: pytest's basetemp (made on
    first use, numbered as pytest numbers it), this process's temporary files and the TMPDIR every
    child inherits (keychain-sim, a release, an xdist worker, Chromium's profile folder) are then
    below the checkout.  A TMPDIR that names another folder is left as it is."""
    import tempfile
    given = os.environ.get("TMPDIR", "")
    if given and Path(given).resolve() != Path("/tmp").resolve():
        return
    tmp = _HERE / "build" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = None                  # gettempdir() reads TMPDIR again
