"""At session end: the run's verdicts published (reports/publish.py: claims.json/md, the release
matrix, outcomes.json, the verdict table in the Allure results) -- as `*.partial.*` when the run
is not complete -- the run's own Allure files (environment, a `verdict` label on every
scenario, which verdict table belongs to the results), the 90% coverage gate of a non-simulator
run (of a run with injected faults: their accounting, fault_alarm), and the terminal summary, with
safety and coverage failures said last (SUMMARY in `config.stash`)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from keychain_claims.backends import Backend
from keychain_claims.backends.rehearsal.standins import COPED
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.verdicts import counts, omission_counts
from keychain_claims.plugins.state import BACKEND, CLAIMS, OUTCOMES, RESULTS, SUMMARY, Results, Summary, worker
from keychain_claims.reports import allure as allure_files
from keychain_claims.reports.publish import (OUTCOMES_FILE, RUN_MARKER, new_run_id, partial_results, publish,
                                             publish_results)
from keychain_claims.atomic import why
from keychain_claims.claims.coverage import scenarios

REAL_RUN_SHARE = 0.9     # a run on a non-simulator backend fails below this share of scenarios that ran


def finish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state, summary = config.stash[RESULTS], config.stash[SUMMARY]
    outcomes = config.stash[OUTCOMES].outcomes
    if worker(config):
        config.workeroutput[RESULTS_ERROR] = state.error  # type: ignore[attr-defined]  # xdist gives a worker's config it
        return
    if not outcomes:
        return
    backend, claims = config.stash[BACKEND], config.stash[CLAIMS]
    article, ledger = claims.article, claims.ledger
    out = Path(config.getoption("reports_dir"))
    if injected(backend):
        share, accounted = fault_alarm(outcomes, backend, config.stash[OUTCOMES].faults, baseline(out, backend))
        summary.tail.append(accounted)
    else:
        share = coverage_alarm(outcomes, backend)
    if share:
        summary.alarms.append(share)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    partial = "; ".join(partial_reasons(session, exitstatus, outcomes))
    results = state.staging          # this run's Allure results, not yet published
    run_id = new_run_id()
    if state.error:             # the reports folder filled up (or went) mid-run: said once, fails
        session.exitstatus = exitstatus = pytest.ExitCode.INTERNAL_ERROR if exitstatus == 0 else exitstatus
    try:
        done = publish(out, outcomes, ledger, article, {backend.name: backend.simulated},
                       {backend.name: backend.label}, partial, results, run_id=run_id)
        if results is not None:
            allure_files.write_environment(results, backend, article,
                                           releases=getattr(config.option, "claude_code", None) or "")
            allure_files.label_results(results, outcomes, done.verdicts, ledger, done.omissions)
            (results / RUN_MARKER).write_text(f"run_id={run_id}\nclaims={done.claims_json.name}\n")
            assert state.target is not None        # set at configure whenever results are staged
            target = partial_results(state.target) if partial else state.target
            publish_results(results, target, clean=state.clean or bool(partial))
            state.staging = None
    except OSError as exc:
        summary.rows[:] = [state.error or f"could not write the verdict table to {out} ({why(exc)}); "
                            "make the directory writable or pass --reports-dir"]
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR if exitstatus == 0 else exitstatus
        return
    verdicts, omissions = done.verdicts, done.omissions
    failures = [f"SUITE FAILURE: “{f['scenario']}” failed without a claim: {f['reason'][:160]}" for f in done.failures]
    summary.rows[:] = verdicts + [counts_line(verdicts)] + failures + (
        ["omissions (what the article misses): " + ", ".join(f"{n} {k}" for k, n in omission_counts(omissions).items())]
        if omissions else []) + [f"verdicts written to {done.claims_json} and {done.claims_md}"] + (
        [f"release history: {out / 'release-history.html'} ({len(done.history.columns)} releases)"]
        if done.history is not None else []) + (
        [f"release history not written: {done.history_problem}"] if done.history_problem else [])
    summary.rows += summary.tail
    if state.error:
        summary.rows.append(state.error)
    if partial:
        where = f", Allure results to {partial_results(state.target)}" if results is not None and state.target else ""
        summary.rows.append(
            f"PARTIAL RUN ({partial}): verdicts written to {done.claims_json}{where}; {out / 'claims.json'} "
            "(a complete run's) and its Allure results left as they were")


def configure(config: pytest.Config) -> None:
    """Allure's file writer is guarded: a write that fails (the reports folder full, gone, made
    read-only mid-run) is said once, at the end, and the run is partial and fails -- never an
    INTERNALERROR per scenario.  After the first failure nothing more is written."""
    config.stash[SUMMARY] = Summary()
    state = config.stash[RESULTS]
    if state.staging is not None or (worker(config) and config.option.allure_report_dir):
        guard_allure_writes(state)


RESULTS_ERROR = "keychain_claims_results_error"


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """An xdist worker's failed Allure write reaches the controller (workeroutput)."""
    said = getattr(node, "workeroutput", {}).get(RESULTS_ERROR)
    state = node.config.stash[RESULTS]
    if said and not state.error:
        state.error = said


def guard_allure_writes(state: Results) -> None:
    import allure_commons
    from allure_commons.logger import AllureFileLogger
    hooks = allure_commons.plugin_manager.hook
    for plugin in allure_commons.plugin_manager.get_plugins():
        if not isinstance(plugin, AllureFileLogger):
            continue
        folder = Path(plugin._report_dir)
        for name in ("report_result", "report_container", "report_attached_file", "report_attached_data",
                     "report_globals"):
            for impl in getattr(hooks, name).get_hookimpls():
                if impl.plugin is plugin and not getattr(impl.function, "guarded", False):
                    impl.function = _guarded(impl.function, folder, state, why)


def _guarded(write, folder: Path, state: Results, why):
    def call(*args):
        if state.error:
            return None
        try:
            return write(*args)
        except OSError as exc:
            state.error = (f"could not write the Allure results to {folder} ({why(exc)}); the run is "
                                   "partial -- free some space or pass --reports-dir=<another folder>")
            for tmp in folder.glob("*.tmp"):
                tmp.unlink(missing_ok=True)
            return None
    call.guarded = True  # type: ignore[attr-defined]  # marks the wrapper as ours, so it is not wrapped twice
    return call


def partial_reasons(session: pytest.Session, exitstatus: int, outcomes: list[Outcome]) -> list[str]:
    """Why this run is not a complete run of the claims suite (README, "Complete runs"): it was
    stopped (a signal, -x, --maxfail), something was deselected (-k, -m, --deselect), it was
    given paths other than the suite's own (`testpaths`), a collected scenario has no result, or
    a scenario of the feature set was never collected."""
    config = session.config
    reasons = []
    if config.getoption("runxfail", False):
        reasons.append("--runxfail (the recorded findings were not applied)")
    if exitstatus == pytest.ExitCode.INTERRUPTED or session.shouldstop:
        reasons.append(f"interrupted ({session.shouldstop})" if isinstance(session.shouldstop, str) else "interrupted")
    if session.shouldfail:
        reasons.append(f"stopped early ({session.shouldfail})" if isinstance(session.shouldfail, str) else "stopped early")
    selection = [flag for flag, value in (("-k", config.option.keyword), ("-m", config.option.markexpr),
                                          ("--deselect", getattr(config.option, "deselect", None))) if value]
    deselected = config.stash[OUTCOMES].deselected
    if selection or deselected:
        n = len(deselected)
        reasons.append("a selection (" + ", ".join(selection or ["deselected"]) + ")"
                       + (f", {n} deselected" if n else ""))
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS:
        root = Path(config.rootpath)
        wanted = {(root / p).resolve() for p in config.getini("testpaths")}
        given = {(Path(config.invocation_params.dir) / a).resolve() for a in config.args}
        if given != wanted:
            reasons.append("a subset of paths (" + " ".join(config.args)[:120] + ")")
    if config.stash[RESULTS].error:
        reasons.append("its Allure results could not all be written")
    if injected(config.stash[BACKEND]):
        reasons.append("faults injected (--rehearsal-faults)")
    ran = {o.nodeid for o in outcomes}
    missing = config.stash[OUTCOMES].collected - ran
    if missing:
        reasons.append(f"{len(missing)} collected scenario(s) without a result")
    absent = {ref.name for ref in scenarios()} - {o.scenario for o in outcomes}
    if absent and not reasons:
        reasons.append(f"{len(absent)} scenario(s) of the feature set not collected")
    return reasons


def counts_line(verdicts) -> str:
    return "claims: " + ", ".join(f"{n} {k}" for k, n in counts(verdicts).items())


def skipped_here(reason: str, backend: Backend) -> bool:
    """A skip because of this backend: a BackendSkipped ("not on the X backend: ..."), an unavailable
    backend, or a plain pytest.skip whose reason names the backend ("the macos backend keeps no log
    ...", release_steps.py) -- a skip cannot escape the gate by its spelling."""
    return reason.startswith((f"not on the {backend.name} backend", f"backend {backend.name} unavailable")) \
        or f"the {backend.name} backend" in reason


def coverage_alarm(outcomes: list[Outcome], backend: Backend) -> str | None:
    """On any backend that does not cover every scenario (all but the simulator): the one-line
    reason the run fails when fewer than REAL_RUN_SHARE of the scenarios that would run on the
    simulator ran here (passed, failed or a recorded contradiction), the rest skipped because of
    this backend."""
    if backend.covers_every_scenario:
        return None
    ran = sum(o.result != "skipped" for o in outcomes)
    here = [o for o in outcomes if o.result == "skipped" and skipped_here(o.reason, backend)]
    if not ran + len(here) or ran / (ran + len(here)) >= REAL_RUN_SHARE:
        return None
    why = here[0].reason if here else ""
    return (f"COVERAGE: only {ran} of {ran + len(here)} scenarios ran on the {backend.name} backend "
            f"({ran / (ran + len(here)):.0%} < {REAL_RUN_SHARE:.0%}); the rest skipped here, e.g. {why[:160]}")


def injected(backend: Backend | None) -> list[str]:
    """The faults a rehearsal injects (--rehearsal-faults); none on any other run."""
    return [f for f in backend.faults.split(",") if f] if backend is not None else []


def baseline(out: Path, backend: Backend) -> dict[str, str] | None:
    """The last complete run of this backend in the reports folder (its outcomes.json: a faults run
    is partial and never replaces it), node id -> result; None when there is none."""
    import json
    try:
        doc = json.loads((out / OUTCOMES_FILE).read_text())
    except (OSError, ValueError):
        return None
    if doc.get("partial") or list(doc.get("backends", {})) != [backend.name]:
        return None
    return {o["nodeid"]: o["result"] for o in doc.get("outcomes", [])}


def fault_alarm(outcomes: list[Outcome], backend: Backend, fired: dict[str, list[str]],
                before: dict[str, str] | None) -> tuple[str | None, str]:
    """The accounting of a run with injected faults (README, "The rehearsal"), instead of the 90%
    gate: (the one-line reason it fails, or None; the line that accounts for it).  It fails when an
    injected fault never fired; when a scenario a fault reached ended with a verdict though a fault
    the macOS code cannot cope with (standins.COPED says which it can) reached it, or with another
    result than in the last complete run without faults (`before`, when there is one) -- not
    checkable, its reason naming the fault, is always accounted for; or when the scenarios no fault
    reached did not run as
    there (at least REAL_RUN_SHARE of them ran, as coverage_alarm counts; and the same results)."""
    faults = injected(backend)
    kinds = {o.nodeid: {f.split(":", 1)[0] for f in fired.get(o.nodeid, [])} for o in outcomes}
    never = [f for f in faults if not any(f in k for k in kinds.values())]
    reached = [o for o in outcomes if kinds[o.nodeid]]
    # a fault-reached scenario either ends not checkable (its reason names the fault) or, where the
    # macOS code copes with every fault that reached it, as in the last complete run without faults
    unearned = [o for o in reached if o.ran and (kinds[o.nodeid] - set(COPED) or (
        before is not None and o.nodeid in before and before[o.nodeid] != o.result))]
    coped = [o for o in reached if o.ran]
    unreached = [o for o in outcomes if not kinds[o.nodeid]]
    ran = [o for o in unreached if o.ran]
    changed = [o for o in unreached if before is not None and o.nodeid in before and before[o.nodeid] != o.result]
    accounted = (f"faults: {', '.join(f'{f} fired in {sum(f in k for k in kinds.values())}' for f in faults)}; "
                 f"{len(reached)} scenario(s) reached ({len(reached) - len(coped)} not checkable by the fault, "
                 f"{len(coped)} with a verdict); {len(ran)} of {len(unreached)} unreached ran" +
                 (f", compared with {len(before)} of the last complete run" if before is not None
                  else "; no complete run without faults in the reports folder to compare results with"))
    if never:
        return f"FAULTS: {', '.join(never)} never fired: the run did not test what a Mac might do", accounted
    if unearned:
        o = unearned[0]
        return (f"FAULTS: “{o.name}” ended {o.result} though {', '.join(sorted(kinds[o.nodeid]))} "
                f"reached it ({len(unearned)} such scenario(s)): a verdict it did not earn"), accounted
    if changed and before is not None:
        o = changed[0]
        return (f"FAULTS: “{o.name}” ended {o.result}, {before[o.nodeid]} without faults "
                f"({len(changed)} such scenario(s)){': ' + o.reason[:120] if o.reason else ''}"), accounted
    lost = coverage_alarm(unreached, backend)
    if lost:
        return "FAULTS: of the scenarios no fault reached, " + lost.removeprefix("COVERAGE: "), accounted
    return None, accounted


def say_alarms(config: pytest.Config) -> None:
    """Safety and coverage failures are said once more as the very last lines of the output."""
    summary = config.stash.get(SUMMARY, None)
    for line in summary.alarms if summary is not None else ():
        print(line, file=sys.__stderr__)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    summary = config.stash[SUMMARY]
    rows = summary.rows + summary.alarms
    if not rows:
        return
    terminalreporter.section("claims")
    for row in rows:
        if isinstance(row, str):
            terminalreporter.write_line(row)
        else:
            kind = config.stash[BACKEND].provenance
            terminalreporter.write_line(f"{row.claim:<22} {row.backend} ({kind}): {row.summary}")
