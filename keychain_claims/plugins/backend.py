"""Which `security` the scenarios drive: the backend chosen once, at pytest_cmdline_main (BACKEND in
`config.stash`; every scenario runs once per backend, `[sim]` in its id), with --rehearsal-faults and
--real-dialogs given to it as constructor parameters, the macOS safety snapshot of the user's
keychains around the run (SAFETY), the sandboxes a killed run left, and harness errors as skips of
the backend."""
from __future__ import annotations

import pytest

from keychain_claims.backends import Backend, select
from keychain_claims.errors import BackendUnavailable
from keychain_claims.harness.sandbox import SandboxDirError, sweep
from keychain_claims.plugins.state import BACKEND, CLAIMS, SAFETY, SUMMARY, Safety, Summary, claims_run, usage, worker
from keychain_claims.backends.macos import safety as macos_safety


def _faults(config: pytest.Config) -> str:
    """--rehearsal-faults as the comma list the rehearsal takes ("" for none); one line for a fault
    it does not know."""
    from keychain_claims.backends.rehearsal.standins import FAULTS
    faults = config.getoption("rehearsal_faults")
    if not faults:
        return ""
    names = list(FAULTS) if faults == "all" else [f.strip() for f in faults.split(",") if f.strip()]
    unknown = [f for f in names if f not in FAULTS]
    if unknown:
        usage(f"--rehearsal-faults: unknown fault {unknown[0]!r}; choose from all, {', '.join(FAULTS)}")
    return ",".join(names)


def choose(config: pytest.Config) -> None:
    """The one `select()` of a run (an xdist worker makes its own from the same command line).  A
    claims run refuses a backend named with --backend that cannot run here, before anything is
    written or cleaned."""
    option = config.option
    try:
        chosen = select(option.backend, real_dialogs=bool(option.real_dialogs), faults=_faults(config))
    except BackendUnavailable as exc:
        usage(str(exc))
    config.stash[BACKEND] = chosen
    why = chosen.unavailable()
    if claims_run(config) and option.backend != "auto" and why:
        usage(f"--backend {option.backend} cannot run here ({why}); nothing ran and no report was touched — "
              "use --backend sim (or rehearsal) on this host")


def configure(config: pytest.Config) -> None:
    """Sandboxes a killed run left: swept here, where pytest still shows a configure-time warning."""
    if worker(config):
        return
    try:
        removed = sweep()
    except SandboxDirError as exc:
        usage(str(exc))
    if removed:
        config.issue_config_time_warning(pytest.PytestWarning(
            f"swept {len(removed)} sandbox(es) left by an interrupted run: "
            + ", ".join(p.name for p in removed)), stacklevel=2)


def take_safety_snapshot(config: pytest.Config) -> None:
    """On macOS the user's keychain search list and default keychain are recorded."""
    backend, safety = config.stash[BACKEND], config.stash.setdefault(SAFETY, Safety())
    if backend.user_keychain_guard is not None and backend.unavailable() is None and not worker(config):
        command, env = backend.user_keychain_guard.system_security()
        safety.system = macos_safety.system_run(command, env)
        safety.snapshot = macos_safety.snapshot(safety.system)


def pytest_report_header(config: pytest.Config) -> list[str]:
    backend, article = config.stash[BACKEND], config.stash[CLAIMS].article
    why = backend.unavailable()
    shown = f"UNAVAILABLE: {why}" if why else " ".join(backend.security_command())
    return [f"keychain backend: {backend.name} — {backend.label} ({shown})",
            f"article: {article.path} sha256={article.sha256[:16]}"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every scenario runs once per backend; the id says which ([sim] or [macos])."""
    if "backend" in metafunc.fixturenames:
        backend = metafunc.config.stash[BACKEND]
        metafunc.parametrize("backend", [backend], ids=[backend.name], indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    chosen: Backend = request.param
    why = chosen.unavailable()
    if why:
        pytest.skip(f"backend {chosen.name} unavailable: {why}")
    return chosen


def pytest_runtest_setup(item: pytest.Item) -> None:
    backend = item.config.stash[BACKEND]
    backend.harness_events()          # drained: what follows belongs to this scenario
    backend.faults_fired()


def check_safety(session: pytest.Session) -> None:
    """The user's keychain search list and default keychain are as they were before the run."""
    safety = session.config.stash.get(SAFETY, None)
    if safety is not None and safety.snapshot is not None:
        try:
            macos_safety.compare(safety.snapshot, macos_safety.snapshot(safety.system))
        except macos_safety.SafetyError as exc:
            session.config.stash.setdefault(SUMMARY, Summary()).alarms.append(f"SAFETY: {exc}")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
