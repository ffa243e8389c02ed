"""The outcome plugin (keychain_claims/plugins/outcomes.py): only evidence makes a verdict -- a harness
error or exception is a backend skip, never a failure, and never turns a recorded finding into
"contradicted" (issue 21)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from keychain_claims.backends import RehearsalBackend, SimBackend
from keychain_claims.harness.driver import CallDeadline


def _report(wasxfail: bool):
    report = SimpleNamespace(outcome="skipped" if wasxfail else "failed", skipped=wasxfail, longrepr="x")
    if wasxfail:
        report.wasxfail = "recorded contradiction of CAU-X on backend any"
    return report


@pytest.mark.parametrize("chosen, prefix", [(RehearsalBackend(), "Skipped: not on the rehearsal backend: harness error"),
                                            (SimBackend(), "Skipped: not checkable: harness error")])
def test_a_finding_for_any_backend_does_not_turn_a_harness_error_into_contradicted(chosen, prefix):
    """Before: a `backend: any` finding made an AssertionError from a harness artefact read
    "contradicted -- finding still holds" on the Mac.  The rule holds on every backend."""
    from keychain_claims.plugins.outcomes import only_evidence
    chosen.harness_events = lambda: ["a security call (find-generic-password) did not finish within its 6 s deadline"]
    item = SimpleNamespace(path="f.feature", location=("f", 1, "t"), stash={})
    call = SimpleNamespace(when="call", excinfo=SimpleNamespace(value=AssertionError("2 item dialogs shown, expected 1")))
    report = _report(wasxfail=True)
    only_evidence(chosen, item, call, report)
    assert not hasattr(report, "wasxfail")
    assert report.outcome == "skipped" and report.longrepr[2].startswith(prefix)


def test_a_harness_exception_is_a_backend_skip_not_a_failure():
    from keychain_claims.plugins.outcomes import only_evidence
    backend = RehearsalBackend()
    backend.harness_events = lambda: []
    item = SimpleNamespace(path="f.feature", location=("f", 1, "t"), stash={})
    report = _report(wasxfail=False)
    only_evidence(backend, item, SimpleNamespace(when="call", excinfo=SimpleNamespace(value=CallDeadline("harness: x"))),
                  report)
    assert report.outcome == "skipped"
