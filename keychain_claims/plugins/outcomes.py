"""Each scenario's outcome as the run goes (also from xdist workers), what was collected and
deselected (whether the run is complete: README, "Complete runs"), under OUTCOMES in `config.stash`,
and the evidence rule applied to every scenario's report (claims/evidence.py): an outcome whose
preconditions the harness did not prove is a "not checkable" skip with the real reason."""
from __future__ import annotations

import pytest

from keychain_claims.claims.evidence import not_evidence
from keychain_claims.claims.outcomes import Outcome, Prop, outcome_from_report
from keychain_claims.plugins.state import BACKEND, FAULTS_KEY, OUTCOMES, STEP_KEY, Outcomes, scenario_of
from keychain_claims.redact import redact


class OutcomeCollector:
    """Registered per run: every scenario's outcome from its reports, in the order they arrive."""
    def __init__(self, outcomes: list[Outcome], faults: dict[str, list[str]]) -> None:
        self.outcomes = outcomes
        self.faults = faults

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = outcome_from_report(report)
        if outcome is not None:
            self.outcomes.append(outcome)
            fired = dict(report.user_properties).get(Prop.FAULTS)
            if isinstance(fired, (list, tuple)) and fired:
                self.faults[outcome.nodeid] = [str(f) for f in fired]


def configure(config: pytest.Config) -> None:
    config.stash[OUTCOMES] = outcomes = Outcomes()
    config.pluginmanager.register(OutcomeCollector(outcomes.outcomes, outcomes.faults), "keychain-claims-outcomes")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.when in ("setup", "call") and scenario_of(item) is not None:
        backend = item.config.stash[BACKEND]
        only_evidence(backend, item, call, report)
        faults_fired(backend, item, call, report)


def faults_fired(backend, item: pytest.Item, call: pytest.CallInfo, report) -> None:
    """The rehearsal's injected faults that fired in this scenario (set-up and call), on its report
    (Prop.FAULTS) for the faults run's accounting; a scenario that ends not checkable says which
    faults fired in its reason."""
    if backend is None:
        return
    fired = item.stash.setdefault(FAULTS_KEY, [])
    fired += [f for f in backend.faults_fired() if f not in fired]
    if not fired or not (call.when == "call" or not report.passed):
        return
    report.user_properties.append((Prop.FAULTS, list(fired)))
    if report.skipped and not hasattr(report, "wasxfail") and isinstance(report.longrepr, tuple):
        path, line, why = report.longrepr
        report.longrepr = (path, line, f"{why} (rehearsal faults fired: {'; '.join(fired)[:200]})")

def only_evidence(backend, item: pytest.Item, call: pytest.CallInfo, report) -> None:
    """The evidence rule (claims/evidence.py) on one phase of a scenario: what the harness could not
    exercise -- a harness event the backend recorded (a shim refusal, a missed deadline), a harness
    exception, a failed fixture or set-up step, a crash -- makes the scenario a skip, "not checkable:
    …", whatever else it did: never a failure, a recorded contradiction still holding or one no longer
    holding.  On a backend that does not cover every scenario (all but the simulator) it is a skip of that backend ("not on the …
    backend: harness error: …"), which the 90% gate counts."""
    if report.skipped and not hasattr(report, "wasxfail"):
        return
    events = backend.harness_events() if backend is not None and call.when == "call" else []
    exc = call.excinfo.value if call.excinfo is not None else None
    why = not_evidence(call.when, call.excinfo is not None, exc, item.stash.get(STEP_KEY, None), events)
    if why is None:
        return
    why = redact(why)
    report.outcome = "skipped"
    if hasattr(report, "wasxfail"):
        del report.wasxfail
    if backend is not None and not backend.covers_every_scenario:
        why = f"not on the {backend.name} backend: {why}"
    else:
        why = f"not checkable: {why}"
    report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {why}")


def pytest_deselected(items) -> None:
    if items:
        items[0].config.stash[OUTCOMES].deselected.extend(i.nodeid for i in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[OUTCOMES].collected.update(i.nodeid for i in session.items if scenario_of(i) is not None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids) -> None:
    """With -n the controller collects nothing itself: every worker reports what it collected."""
    node.config.stash[OUTCOMES].collected.update(ids)
