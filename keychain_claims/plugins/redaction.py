"""Secrets kept out of every report: the run's own secrets (`keychain_claims.redact.Secrets`, under
SECRETS in `config.stash`: the fakes fixture registers each one made), in force from configure to
unconfigure, and assertion messages and tracebacks redacted before anything records them.  The
redaction itself is one function, `keychain_claims.redact.redact`, which every transcript, log and
attachment goes through."""
from __future__ import annotations

import pytest

from keychain_claims import redact
from keychain_claims.plugins.state import SECRETS


def configure(config: pytest.Config) -> None:
    config.stash[SECRETS] = secrets = redact.Secrets()
    redact.begin_run(secrets)


def unconfigure(config: pytest.Config) -> None:
    secrets = config.stash.get(SECRETS, None)
    if secrets is not None:
        redact.end_run(secrets)


def _redact_exception(exc: BaseException | None) -> None:
    """Assertion messages show compared values; a secret must not reach a report that way."""
    if exc is not None and exc.args:
        text = str(exc)
        clean = redact.redact(text)
        if clean != text:
            exc.args = (clean,)


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_step_error(exception: Exception) -> None:
    _redact_exception(exception)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    if call.excinfo is not None:
        _redact_exception(call.excinfo.value)
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.longrepr is not None:
        text = str(report.longrepr)
        if redact.redact(text) != text:
            report.longrepr = redact.redact(text)
