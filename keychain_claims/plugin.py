"""The suite's pytest plugin: options, backend selection, Gherkin tags to markers,
recorded contradictions as strict xfails, and the verdict table at the end.

Registered by the project's conftest.py (`pytest_plugins`).
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from keychain_claims import REPORTS_DIR

from keychain_claims.reports import allure as allure_files
from keychain_claims.claims.article import Article, ArticleError
from keychain_claims.backends import Backend, BackendError, select
from keychain_claims.claims.ledger import Ledger, LedgerError
from keychain_claims.claims import links
from keychain_claims.redact import redact
from keychain_claims.harness.sandbox import SandboxDirError, sweep
from keychain_claims.claims.verdicts import (Outcome, compute, compute_omissions, counts, omission_counts,
                                             outcome_from_report)
from keychain_claims.reports.markdown import write

BACKEND_KEY = pytest.StashKey[Backend]()
ARTICLE_KEY = pytest.StashKey[Article]()
LEDGER_KEY = pytest.StashKey[Ledger]()
SUMMARY_KEY = pytest.StashKey[list]()      # lines of the terminal summary: verdicts, messages
SNAPSHOT_KEY = pytest.StashKey[object]()
SYSTEM_KEY = pytest.StashKey[object]()     # how the safety snapshot runs `security` outside the sandboxes
ALARM_KEY = pytest.StashKey[list]()        # lines printed last, after the verdicts: safety and coverage failures
DESELECTED_KEY = pytest.StashKey[list]()   # node ids deselected (-k, -m, --deselect, a plugin)
COLLECTED_KEY = pytest.StashKey[set]()     # node ids of the claims scenarios collected (here or by xdist workers)
REAL_RUN_SHARE = 0.9     # a run on a non-simulator backend fails below this share of scenarios that ran


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("keychain-claims")
    group.addoption("--backend", default=os.environ.get("KEYCHAIN_CLAIMS_BACKEND", "auto"),
                    help="where `security` comes from: auto (real on macOS, simulator elsewhere), macos, sim")
    group.addoption("--article", default=None, help="the article under test (default: the vendored copy in articles/)")
    group.addoption("--ledger", default=None, help="the claims ledger (default: next to the article, .claims.yaml)")
    group.addoption("--record-transcripts", default=None, metavar="DIR",
                    help="store every security exchange (redacted, paths normalized) as one JSON per scenario")
    group.addoption("--reports-dir", default=str(REPORTS_DIR), help="where claims.json/claims.md are written")
    group.addoption("--rehearsal-faults", nargs="?", const="all", default=None, metavar="FAULTS",
                    help="with --backend rehearsal: inject the Mac faults of issue 21 (all, or a comma list of "
                         "dialog,throttle,exit51,cdhash,slow); each must end as not checkable, never as a verdict")
    group.addoption("--real-dialogs", action="store_true", default=False,
                    help="with --backend macos: let SecurityAgent draw its dialogs for a person to answer "
                         "(default: none is ever drawn; consent is read from a session without a GUI)")


def _usage(message: str) -> None:
    raise pytest.UsageError(message)


def _own_tests(config: pytest.Config) -> bool:
    return any(str(a).split("::")[0].rstrip("/").startswith("tests") for a in config.args)


def _usable_dir(value: str, flag: str, hint: str) -> None:
    """A folder the run will write into: made now, or one line that says what to do."""
    from keychain_claims.atomic import why, writable_folder
    try:
        writable_folder(value)
    except OSError as exc:
        _usage(f"{flag}={value} is not a writable folder ({why(exc)}); {hint}")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config):
    """A run of the claims suite writes Allure results to <reports-dir>/allure-results (cleaned
    first; --alluredir overrides); a run of the project's own tests (`pytest tests`) leaves them
    alone.  Before anything is written or cleaned: a backend named with --backend that cannot run
    here is refused, and every folder the run writes into must be usable (one line each)."""
    option = config.option
    if _own_tests(config) or hasattr(config, "workerinput"):
        return
    try:
        chosen = select(option.backend)
    except BackendError as exc:
        _usage(str(exc))
    why = chosen.unavailable()
    if option.backend != "auto" and why:
        _usage(f"--backend {option.backend} cannot run here ({why}); nothing ran and no report was touched — "
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
    try:
        config.stash[BACKEND_KEY] = select(config.getoption("backend"))
    except BackendError as exc:
        _usage(str(exc))
    try:
        article = Article(config.getoption("article") or Article().path)
        ledger_path = config.getoption("ledger") or article.path.with_suffix(".claims.yaml")
        config.stash[ARTICLE_KEY] = article
        config.stash[LEDGER_KEY] = Ledger(ledger_path)
    except (ArticleError, LedgerError) as exc:
        _usage(str(exc))
    config.stash[DESELECTED_KEY] = []
    config.stash[COLLECTED_KEY] = set()
    if not hasattr(config, "workerinput") and not _own_tests(config):
        _check_article_and_ledger(article, config.stash[LEDGER_KEY])
    config.stash[SUMMARY_KEY] = []
    config.stash[ALARM_KEY] = []
    backend = config.stash[BACKEND_KEY]
    if getattr(backend, "guards_user_keychains", False) and backend.unavailable() is None \
            and not hasattr(config, "workerinput"):
        from keychain_claims.backends.macos import safety as macos_safety
        command, env = backend.system_security()
        config.stash[SYSTEM_KEY] = macos_safety.system_run(command, env)
        config.stash[SNAPSHOT_KEY] = macos_safety.snapshot(config.stash[SYSTEM_KEY])
    if not hasattr(config, "workerinput"):
        try:
            removed = sweep()
        except SandboxDirError as exc:
            _usage(str(exc))
        if removed:
            config.issue_config_time_warning(pytest.PytestWarning(
                f"swept {len(removed)} sandbox(es) left by an interrupted run: "
                + ", ".join(p.name for p in removed)), stacklevel=2)


def _check_article_and_ledger(article: Article, ledger: Ledger) -> None:
    """`keychain-claims check` at the start of every claims run: a claim whose sentence the
    article no longer has (or a tag, refutation or command out of step) stops the run before
    anything runs or is written, with one line naming the claim and the sentence."""
    from keychain_claims.claims.coverage import problems
    found = problems(article, ledger)
    if found:
        more = (f" (and {len(found) - 1} more: keychain-claims check --article={article.path} "
                f"--ledger={ledger.path} lists them)") if len(found) > 1 else ""
        _usage(f"the article and the ledger disagree: {found[0]}{more}")


def pytest_deselected(items) -> None:
    config = items[0].config if items else None
    if config is not None and DESELECTED_KEY in config.stash:
        config.stash[DESELECTED_KEY].extend(i.nodeid for i in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    if COLLECTED_KEY in session.config.stash:
        session.config.stash[COLLECTED_KEY] |= {i.nodeid for i in session.items if scenario_of(i) is not None}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids) -> None:
    """With -n the controller collects nothing itself: every worker reports what it collected."""
    config = node.config
    if COLLECTED_KEY in config.stash:
        config.stash[COLLECTED_KEY] |= set(ids)


def partial_reasons(session: pytest.Session, exitstatus: int, outcomes: list[Outcome]) -> list[str]:
    """Why this run is not a complete run of the claims suite (README, "Complete runs"): it was
    stopped (a signal, -x, --maxfail), something was deselected (-k, -m, --deselect), it was
    given paths other than the suite's own (`testpaths`), a collected scenario has no result, or
    a scenario of the feature set was never collected."""
    config = session.config
    reasons = []
    if exitstatus == pytest.ExitCode.INTERRUPTED or session.shouldstop:
        reasons.append(f"interrupted ({session.shouldstop})" if isinstance(session.shouldstop, str) else "interrupted")
    if session.shouldfail:
        reasons.append(f"stopped early ({session.shouldfail})" if isinstance(session.shouldfail, str) else "stopped early")
    selection = [flag for flag, value in (("-k", config.option.keyword), ("-m", config.option.markexpr),
                                          ("--deselect", getattr(config.option, "deselect", None))) if value]
    if selection or config.stash.get(DESELECTED_KEY, []):
        n = len(config.stash.get(DESELECTED_KEY, []))
        reasons.append("a selection (" + ", ".join(selection or ["deselected"]) + ")"
                       + (f", {n} deselected" if n else ""))
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS:
        root = Path(config.rootpath)
        wanted = {(root / p).resolve() for p in config.getini("testpaths")}
        given = {(Path(config.invocation_params.dir) / a).resolve() for a in config.args}
        if given != wanted:
            reasons.append("a subset of paths (" + " ".join(config.args)[:120] + ")")
    ran = {o.nodeid for o in outcomes}
    missing = config.stash.get(COLLECTED_KEY, set()) - ran
    if missing:
        reasons.append(f"{len(missing)} collected scenario(s) without a result")
    from keychain_claims.claims.coverage import scenarios
    absent = {ref.name for ref in scenarios()} - {o.scenario for o in outcomes}
    if absent and not reasons:
        reasons.append(f"{len(absent)} scenario(s) of the feature set not collected")
    return reasons

def _mac_options(config: pytest.Config) -> None:
    """--rehearsal-faults and --real-dialogs reach the backend (and every xdist worker and stand-in
    process) through the environment."""
    from keychain_claims.backends.macos.standins import FAULTS, FAULTS_ENV
    faults = config.getoption("rehearsal_faults")
    if faults:
        names = list(FAULTS) if faults == "all" else [f.strip() for f in faults.split(",") if f.strip()]
        unknown = [f for f in names if f not in FAULTS]
        if unknown:
            _usage(f"--rehearsal-faults: unknown fault {unknown[0]!r}; choose from all, {', '.join(FAULTS)}")
        os.environ[FAULTS_ENV] = ",".join(names)
    if config.getoption("real_dialogs"):
        os.environ["KEYCHAIN_CLAIMS_REAL_DIALOGS"] = "1"


def pytest_report_header(config: pytest.Config) -> list[str]:
    backend = config.stash[BACKEND_KEY]
    why = backend.unavailable()
    state = f"UNAVAILABLE: {why}" if why else " ".join(backend.security_command())
    return [f"keychain backend: {backend.name} — {backend.label} ({state})",
            f"article: {config.stash[ARTICLE_KEY].path} sha256={config.stash[ARTICLE_KEY].sha256[:16]}"]


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function):
    link = links.parse(tag)
    if link is not None:
        pytest.mark.claim(link.claim, link.polarity)(function)
        return True
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every scenario runs once per backend; the id says which ([sim] or [macos])."""
    if "backend" in metafunc.fixturenames:
        backend = metafunc.config.stash[BACKEND_KEY]
        metafunc.parametrize("backend", [backend], ids=[backend.name], indirect=True, scope="session")


def scenario_of(item: pytest.Item):
    from pytest_bdd.scenario import scenario_wrapper_template_registry
    return scenario_wrapper_template_registry.get(getattr(item, "obj", None))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ledger, backend = config.stash[LEDGER_KEY], config.stash[BACKEND_KEY]
    for item in items:
        template = scenario_of(item)
        if template is None:
            continue
        marks = [links.Link(*m.args) for m in item.iter_markers("claim")]
        for link in marks:
            if not link.polarity:
                _usage(links.unpolarised_message(item.nodeid, link.claim))
            if link.claim not in ledger:
                _usage(f"{item.nodeid}: tag @{link.polarity}:{link.claim} names no claim in {ledger.path.name}; "
                       "add it to the ledger or fix the tag")
            if (link.polarity == links.REFUTES) != (template.name in ledger[link.claim].refuted_by):
                _usage(f"{item.nodeid}: tag @{link.polarity}:{link.claim} disagrees with the claim's `refuted_by` "
                       f"in {ledger.path.name}; make them agree (keychain-claims check lists every mismatch)")
        claims = sorted({link.claim for link in marks})
        refutes = sorted({link.claim for link in marks if link.polarity == links.REFUTES})
        item.user_properties += [("claims", claims), ("refutes", refutes), ("backend", backend.name),
                                 ("simulated", backend.simulated), ("scenario", template.name)]
        example = getattr(item, "callspec", None) and item.callspec.params.get("_pytest_bdd_example")
        item.user_properties += [("example", dict(example or {})), ("feature", template.feature.name)]
        item.add_marker(pytest.mark.allure_label(item.nodeid, label_type=allure_files.NODEID_LABEL))
        for cid in claims:
            item.add_marker(pytest.mark.allure_label(cid, label_type="claim"))
        for section in sorted({ledger[cid].section for cid in claims}):
            item.add_marker(pytest.mark.allure_label(section, label_type="article-section"))
        item.add_marker(pytest.mark.allure_label(
            f"{backend.name} ({'simulated' if backend.simulated else 'real macOS'})", label_type="backend"))
        for claim, finding in ledger.findings_for(template.name, backend.name):
            item.add_marker(pytest.mark.xfail(
                strict=True, raises=AssertionError,
                reason=f"recorded contradiction of {claim.id} on backend {backend.name}: {finding.evidence}"))


def _redact_exception(exc: BaseException | None) -> None:
    """Assertion messages show compared values; a secret must not reach a report that way."""
    if exc is not None and exc.args:
        text = str(exc)
        clean = redact(text)
        if clean != text:
            exc.args = (clean,)


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_step_error(exception: Exception) -> None:
    _redact_exception(exception)


def pytest_runtest_setup(item: pytest.Item) -> None:
    backend = item.config.stash.get(BACKEND_KEY, None)
    if backend is not None and hasattr(backend, "harness_events"):
        backend.harness_events()          # drained: what follows belongs to this scenario


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    if call.excinfo is not None:
        _redact_exception(call.excinfo.value)
    outcome = yield
    report = outcome.get_result()
    if call.when == "call":
        _harness_error_is_not_evidence(item, call, report)
    if report.failed and report.longrepr is not None:
        text = str(report.longrepr)
        if redact(text) != text:
            report.longrepr = redact(text)


def _harness_error_is_not_evidence(item: pytest.Item, call: pytest.CallInfo, report) -> None:
    """On any backend but the simulator, a scenario that met a harness error -- an exception the
    harness raises when it could not exercise something (a missed deadline, a dialog nobody could
    answer, a tool that failed), or any harness event the backend recorded during the scenario (a
    shim deadline) -- is a skip of this backend, "harness error: ...", whatever else it did: never
    a failure, a recorded contradiction still holding (a `backend: any` finding's strict xfail) or
    one no longer holding.  The 90% gate counts it like any backend skip."""
    backend = item.config.stash.get(BACKEND_KEY, None)
    if backend is None or backend.name == "sim" or report.skipped and not hasattr(report, "wasxfail"):
        return
    from keychain_claims.backends.base import is_harness_error
    events = backend.harness_events() if hasattr(backend, "harness_events") else []
    exc = call.excinfo.value if call.excinfo is not None else None
    if not (is_harness_error(exc) or events):
        return
    why = redact(str(exc).splitlines()[0]) if is_harness_error(exc) else "; ".join(events)[:300]
    report.outcome = "skipped"
    if hasattr(report, "wasxfail"):
        del report.wasxfail
    report.longrepr = (str(item.path), item.location[1] or 0,
                       f"Skipped: not on the {backend.name} backend: harness error: {why}")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    chosen: Backend = request.param
    why = chosen.unavailable()
    if why:
        pytest.skip(f"backend {chosen.name} unavailable: {why}")
    return chosen


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    outcome = outcome_from_report(report)
    if outcome is not None:
        _OUTCOMES.append(outcome)


_OUTCOMES: list[Outcome] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    before = config.stash.get(SNAPSHOT_KEY, None)
    if before is not None:
        from keychain_claims.backends.macos import safety as macos_safety
        try:
            macos_safety.compare(before, macos_safety.snapshot(config.stash[SYSTEM_KEY]))
        except macos_safety.SafetyError as exc:
            config.stash[ALARM_KEY].append(f"SAFETY: {exc}")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if hasattr(config, "workerinput") or not _OUTCOMES:
        return
    backend = config.stash[BACKEND_KEY]
    share = coverage_alarm(_OUTCOMES, backend)
    if share:
        config.stash[ALARM_KEY].append(share)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    article, ledger = config.stash[ARTICLE_KEY], config.stash[LEDGER_KEY]
    verdicts = compute(_OUTCOMES, ledger, article, {backend.name: backend.simulated})
    omissions = compute_omissions(_OUTCOMES, ledger, article, {backend.name: backend.simulated})
    out = Path(config.getoption("reports_dir"))
    reasons = partial_reasons(session, exitstatus, _OUTCOMES)
    partial = "; ".join(reasons)
    suffix = ".partial" if partial else ""
    from keychain_claims.atomic import why
    from keychain_claims.reports.matrix import write_matrix
    from keychain_claims.reports.merge import new_run_id, write_outcomes     # what `keychain-claims merge` reads
    run_id = new_run_id()
    try:
        paths = write(verdicts, out, article, {backend.name: backend.label}, omissions, "claims" + suffix, partial)
        write_matrix(_OUTCOMES, ledger, out, "release-matrix" + suffix)
        write_outcomes(out, _OUTCOMES, {backend.name: backend.simulated}, {backend.name: backend.label},
                       article.sha256, run_id=run_id, partial=partial)
        results = getattr(config.option, "allure_report_dir", None)
        if results:
            allure_files.write(Path(results), backend, article, paths[1],
                               releases=getattr(config.option, "claude_code", None) or "")
            allure_files.label_results(Path(results), _OUTCOMES, verdicts, ledger, omissions)
            (Path(results) / RUN_MARKER).write_text(f"run_id={run_id}\nclaims={paths[0].name}\n")
    except OSError as exc:
        config.stash[SUMMARY_KEY] = [f"could not write the verdict table to {out} ({why(exc)}); "
                                      "make the directory writable or pass --reports-dir"]
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR if exitstatus == 0 else exitstatus
        return
    config.stash[SUMMARY_KEY] = verdicts + [counts_line(verdicts)] + (
        ["omissions (what the article misses): " + ", ".join(f"{n} {k}" for k, n in omission_counts(omissions).items())]
        if omissions else []) + [f"verdicts written to {paths[0]} and {paths[1]}"]
    if partial:
        config.stash[SUMMARY_KEY].append(
            f"PARTIAL RUN ({partial}): verdicts written to {paths[0]}; {out / 'claims.json'} (a complete run's) "
            "left as it was")


RUN_MARKER = "keychain-claims-run.txt"     # in the Allure results: which verdict table belongs to them


def counts_line(verdicts) -> str:
    return "claims: " + ", ".join(f"{n} {k}" for k, n in counts(verdicts).items())


def skipped_here(reason: str, backend: Backend) -> bool:
    """A skip because of this backend: a BackendSkipped ("not on the X backend: ..."), an unavailable
    backend, or a plain pytest.skip whose reason names the backend ("the macos backend keeps no log
    ...", release_steps.py) -- a skip cannot escape the gate by its spelling."""
    return reason.startswith((f"not on the {backend.name} backend", f"backend {backend.name} unavailable")) \
        or f"the {backend.name} backend" in reason


def coverage_alarm(outcomes: list[Outcome], backend: Backend) -> str | None:
    """On any backend but the simulator: the one-line reason the run fails when fewer than
    REAL_RUN_SHARE of the scenarios that would run on the simulator ran here (passed, failed or a
    recorded contradiction), the rest skipped because of this backend."""
    if backend.name == "sim":
        return None
    ran = sum(o.result != "skipped" for o in outcomes)
    here = [o for o in outcomes if o.result == "skipped" and skipped_here(o.reason, backend)]
    if not ran + len(here) or ran / (ran + len(here)) >= REAL_RUN_SHARE:
        return None
    why = here[0].reason if here else ""
    return (f"COVERAGE: only {ran} of {ran + len(here)} scenarios ran on the {backend.name} backend "
            f"({ran / (ran + len(here)):.0%} < {REAL_RUN_SHARE:.0%}); the rest skipped here, e.g. {why[:160]}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Safety and coverage failures are said once more as the very last lines of the output."""
    for line in config.stash.get(ALARM_KEY, []):
        print(line, file=sys.__stderr__)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    rows = config.stash.get(SUMMARY_KEY, []) + config.stash.get(ALARM_KEY, [])
    if not rows:
        return
    terminalreporter.section("claims")
    for row in rows:
        if isinstance(row, str):
            terminalreporter.write_line(row)
        else:
            kind = "simulated" if row.simulated else "real"
            terminalreporter.write_line(f"{row.claim:<22} {row.backend} ({kind}): {row.summary}")
