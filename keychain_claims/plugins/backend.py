"""Which `security` the scenarios drive: the backend chosen at configure (every scenario runs
once per backend, `[sim]` in its id), the macOS safety snapshot of the user's keychains around
the run, the sandboxes a killed run left, and harness errors as skips of the backend."""
from __future__ import annotations

import pytest

from keychain_claims.backends import Backend, BackendError, select
from keychain_claims.harness.sandbox import SandboxDirError, sweep
from keychain_claims.plugins.state import run_state, usage
from keychain_claims.backends.macos import safety as macos_safety


def pytest_configure(config: pytest.Config) -> None:
    try:
        run_state(config).backend = select(config.getoption("backend"))
    except BackendError as exc:
        usage(str(exc))
    # sandboxes a killed run left: swept here, where pytest still shows a configure-time warning
    if not hasattr(config, "workerinput"):
        try:
            removed = sweep()
        except SandboxDirError as exc:
            usage(str(exc))
        if removed:
            config.issue_config_time_warning(pytest.PytestWarning(
                f"swept {len(removed)} sandbox(es) left by an interrupted run: "
                + ", ".join(p.name for p in removed)), stacklevel=2)


@pytest.hookimpl(trylast=True, specname="pytest_configure")
def take_safety_snapshot(config: pytest.Config) -> None:
    """Once the article and the ledger are in (plugins/ledger.py): on macOS the user's keychain
    search list and default keychain are recorded."""
    state = run_state(config)
    backend = state.backend
    if backend.user_keychain_guard is not None and backend.unavailable() is None \
            and not hasattr(config, "workerinput"):
        command, env = backend.user_keychain_guard.system_security()
        state.system = macos_safety.system_run(command, env)
        state.snapshot = macos_safety.snapshot(state.system)


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = run_state(config)
    backend = state.backend
    why = backend.unavailable()
    shown = f"UNAVAILABLE: {why}" if why else " ".join(backend.security_command())
    return [f"keychain backend: {backend.name} — {backend.label} ({shown})",
            f"article: {state.article.path} sha256={state.article.sha256[:16]}"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every scenario runs once per backend; the id says which ([sim] or [macos])."""
    if "backend" in metafunc.fixturenames:
        backend = run_state(metafunc.config).backend
        metafunc.parametrize("backend", [backend], ids=[backend.name], indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    chosen: Backend = request.param
    why = chosen.unavailable()
    if why:
        pytest.skip(f"backend {chosen.name} unavailable: {why}")
    return chosen


def pytest_runtest_setup(item: pytest.Item) -> None:
    backend = run_state(item.config).backend
    if backend is not None:
        backend.harness_events()          # drained: what follows belongs to this scenario
        backend.faults_fired()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """The user's keychain search list and default keychain are as they were before the run."""
    state = run_state(session.config)
    if state.snapshot is not None:
        try:
            macos_safety.compare(state.snapshot, macos_safety.snapshot(state.system))
        except macos_safety.SafetyError as exc:
            state.alarms.append(f"SAFETY: {exc}")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
