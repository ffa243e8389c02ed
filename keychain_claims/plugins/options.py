"""What a run may do, decided before it starts: what it may write into (checked before anything is
written or cleaned), SIGTERM/SIGHUP as a partial run, and whether this run is the project's own
tests (`pytest_keychain_claims_own_tests`, answered by tests/conftest.py).  The options themselves
are declared in plugins/command_line.py."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from keychain_claims.backends import BackendError, select
from keychain_claims.plugins.state import claims_run, run_state, usage


def _usable_dir(value: str, flag: str, hint: str) -> None:
    """A folder the run will write into: made now, or one line that says what to do."""
    from keychain_claims.atomic import why, writable_folder
    try:
        writable_folder(value)
    except OSError as exc:
        usage(f"{flag}={value} is not a writable folder ({why(exc)}); {hint}")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config):
    """A run of the claims suite writes Allure results to <reports-dir>/allure-results (cleaned
    first; --alluredir overrides); a run of the project's own tests (`pytest tests`) leaves them
    alone.  Before anything is written or cleaned: a backend named with --backend that cannot run
    here is refused, and every folder the run writes into must be usable (one line each)."""
    run_state(config).own_tests = bool(config.hook.pytest_keychain_claims_own_tests(config=config))
    option = config.option
    if not claims_run(config):
        return
    try:
        chosen = select(option.backend)
    except BackendError as exc:
        usage(str(exc))
    why = chosen.unavailable()
    if option.backend != "auto" and why:
        usage(f"--backend {option.backend} cannot run here ({why}); nothing ran and no report was touched — "
              "use --backend sim (or rehearsal) on this host")
    if getattr(option, "allure_report_dir", None) is None:
        option.allure_report_dir = str(Path(option.reports_dir) / "allure-results")
        option.clean_alluredir = True
    _usable_dir(option.allure_report_dir, "--alluredir",
                "pass --alluredir=<a writable folder> (it follows --reports-dir unless given)")
    if option.record_transcripts:
        _usable_dir(option.record_transcripts, "--record-transcripts", "pass a writable folder")


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")   # so fixtures tear their sandboxes down


def pytest_configure(config: pytest.Config) -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):     # kill, or the terminal closed: a partial run
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            signal.signal(signum, _terminate)
    config.addinivalue_line("markers", "claim(id, polarity): the scenario supports or refutes this claim of the ledger")
    _mac_options(config)


def _mac_options(config: pytest.Config) -> None:
    """--rehearsal-faults and --real-dialogs reach the backend (and every xdist worker and stand-in
    process) through the environment."""
    from keychain_claims.backends.macos.standins import FAULTS, FAULTS_ENV
    faults = config.getoption("rehearsal_faults")
    if faults:
        names = list(FAULTS) if faults == "all" else [f.strip() for f in faults.split(",") if f.strip()]
        unknown = [f for f in names if f not in FAULTS]
        if unknown:
            usage(f"--rehearsal-faults: unknown fault {unknown[0]!r}; choose from all, {', '.join(FAULTS)}")
        os.environ[FAULTS_ENV] = ",".join(names)
    if config.getoption("real_dialogs"):
        os.environ["KEYCHAIN_CLAIMS_REAL_DIALOGS"] = "1"
