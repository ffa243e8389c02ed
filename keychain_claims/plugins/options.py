"""What a run may do, decided before it starts: whether this run is the project's own tests
(`pytest_keychain_claims_own_tests`, answered by tests/conftest.py: OWN_TESTS in `config.stash`),
what it may write into (checked before anything is written or cleaned; RESULTS in `config.stash`),
and SIGTERM/SIGHUP as a partial run.  The options themselves are declared in plugins/command_line.py;
plugins/plugin.py calls these steps in their order."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from keychain_claims.plugins.state import OWN_TESTS, RESULTS, Results, claims_run, usage, worker
from keychain_claims.atomic import why, writable_folder
from keychain_claims.reports.publish import Busy, FolderLock, discard_results, results_lock, stage_results


def _usable_dir(value: str, flag: str, hint: str) -> None:
    """A folder the run will write into: made now, or one line that says what to do."""
    try:
        writable_folder(value)
    except OSError as exc:
        usage(f"{flag}={value} is not a writable folder ({why(exc)}); {hint}")


def begin(config: pytest.Config) -> None:
    """Whether this run is the project's own tests; an xdist worker gets the command line, not the
    controller's computed options: it writes its scenarios' Allure results into the controller's
    staging folder (pytest_configure_node)."""
    config.stash[OWN_TESTS] = bool(config.hook.pytest_keychain_claims_own_tests(config=config))
    config.stash[RESULTS] = Results()
    handed = getattr(config, "workerinput", {}) if worker(config) else {}    # xdist gives a worker's config it
    if handed.get(WORKER_RESULTS):
        config.option.allure_report_dir = handed[WORKER_RESULTS]
    if claims_run(config):
        nothing = collects_nothing(config)
        if nothing:
            usage(nothing)


def prepare(config: pytest.Config) -> None:
    """A run of the claims suite writes Allure results to <reports-dir>/allure-results (cleaned
    first; --alluredir overrides); a run of the project's own tests (`pytest tests`) leaves them
    alone.  Before anything is written or cleaned: every folder the run writes into must be usable
    (one line each), and none of the suite's plugins may be switched off."""
    if not claims_run(config):
        return
    option = config.option
    off = sorted(name for name, plugin in config.pluginmanager.list_name_plugin()
                 if plugin is None and name.startswith(_SUITE_PLUGINS))
    if off:
        usage(f"-p no:{off[0]} switches off a plugin the suite needs (its reports and verdicts come from it); "
              "nothing ran and no report was touched -- run without it")
    results = config.stash[RESULTS]
    if getattr(option, "allure_report_dir", None) is None:
        results.target, results.clean = Path(option.reports_dir) / "allure-results", True
    else:
        results.target, results.clean = Path(option.allure_report_dir), bool(option.clean_alluredir)
    _usable_dir(str(results.target), "--alluredir",
                "pass --alluredir=<a writable folder> (it follows --reports-dir unless given)")
    if option.record_transcripts:
        _usable_dir(option.record_transcripts, "--record-transcripts", "pass a writable folder")
    # Allure itself never cleans nor writes the results of the last complete run: a run that runs
    # scenarios writes into a staging folder, published at session end (plugins/publish.py); one
    # that runs none (--help, --fixtures, --markers, --collect-only, --setup-plan) writes no results
    option.clean_alluredir = False
    if not _runs_scenarios(option):
        option.allure_report_dir = None
        return
    _usable_dir(option.reports_dir, "--reports-dir", "make the directory writable or pass --reports-dir=<a writable folder>")
    _lock(config, Path(option.reports_dir), results.target)
    try:
        results.staging = stage_results(results.target)
    except OSError as exc:
        usage(f"--alluredir={results.target}: cannot make a staging folder beside it ({why(exc)}); "
              "pass --alluredir=<a writable folder>")
    option.allure_report_dir = str(results.staging)


WORKER_RESULTS = "keychain_claims_allure_results"     # workerinput: where a worker writes its Allure results


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Each xdist worker writes its scenarios' Allure results into this run's staging folder: without
    it a worker had no results folder at all, and every result of a `-n` run was a stand-in."""
    staging = node.config.stash[RESULTS].staging
    if staging is not None:
        node.workerinput[WORKER_RESULTS] = str(staging)


# the suite's own plugins (pytest.ini, conftest.py): none may be switched off with -p no:NAME
_SUITE_PLUGINS = ("keychain_claims.", "steps.", "fixtures.", "pytest_bdd", "allure_pytest_bdd")
_NO_SCENARIOS = ("help", "version", "showfixtures", "show_fixtures_per_test", "markers", "collectonly",
                 "setupplan", "setuponly")


def _runs_scenarios(option) -> bool:
    return not any(getattr(option, name, False) for name in _NO_SCENARIOS)


def _lock(config: pytest.Config, reports: Path, results: Path) -> None:
    """One run at a time writes a reports folder (and an Allure results folder outside it): a
    second is refused with one line naming the first (a lock whose holder died is taken over)."""
    import shlex
    import sys
    program = os.path.basename(sys.argv[0])
    command = shlex.join(["pytest" if program in ("", "__main__.py") else program, *config.invocation_params.args])
    held = config.stash[RESULTS]
    takers = [(reports, lambda: FolderLock(reports, command))]
    if reports.resolve() not in (results.resolve(), *results.resolve().parents):
        takers.append((results, lambda: results_lock(results, command)))
    for folder, take in takers:
        try:
            held.locks.append(take())
        except Busy as exc:
            _release(held)
            usage(f"{exc}; nothing ran and no report was touched -- wait for it to finish or pass "
                  "--reports-dir=<another folder>")
        except OSError as exc:
            _release(held)
            usage(f"cannot lock {folder} ({why(exc)}); pass --reports-dir=<a writable folder>")


def _release(results: Results) -> None:
    for lock in results.locks:
        lock.release()
    results.locks.clear()


def unconfigure(config: pytest.Config) -> None:
    """A staging folder still here was never published (no scenario reached a result, the
    session never ended, the publish plugin was switched off): it goes, and the locks with it."""
    results = config.stash.get(RESULTS, None)
    if results is not None and claims_run(config):
        if results.staging is not None:
            discard_results(results.staging)
            results.staging = None
        _release(results)


def collects_nothing(config: pytest.Config) -> str:
    """One line when the paths pytest will collect hold no test file at all (pytest started in `features/`,
    or given `features/`): such a run would collect nothing and exit 5 after emptying the Allure results.
    Said before anything is cleaned; "" when some path may hold tests."""
    import fnmatch
    if config.args_source == pytest.Config.ArgsSource.TESTPATHS:
        return ""
    patterns = config.getini("python_files")
    here = config.invocation_params.dir
    paths = [here / str(a).split("::", 1)[0] for a in config.args] or [here]

    def may_collect(path: Path) -> bool:
        if not path.exists():
            return True                 # pytest says itself that a path does not exist
        if path.is_file():
            return path.suffix != ".feature"
        return any(fnmatch.fnmatch(f.name, pat) for f in path.rglob("*.py") for pat in patterns
                   if not any(part.startswith(".") for part in f.relative_to(path).parts))
    if any(may_collect(p) for p in paths):
        return ""
    root = config.rootpath
    started = config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR
    where = (f"started in {os.path.relpath(here, root)}/" if started
             else "given " + ", ".join(str(a) for a in config.args))
    go = f"cd {os.path.relpath(root, here)} && " if here != root else ""
    return (f"pytest was {where}, which holds no test file ({', '.join(patterns)}): the scenarios are collected "
            f"through {', '.join(config.getini('testpaths'))}/ in {root}; nothing ran and no result was touched — "
            f"run {go}.venv/bin/pytest with no path (select scenarios with -k or -m)")


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")   # so fixtures tear their sandboxes down


def configure(config: pytest.Config) -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):     # kill, or the terminal closed: a partial run
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            signal.signal(signum, _terminate)
    config.addinivalue_line("markers", "claim(id, polarity): the scenario supports or refutes this claim of the ledger")
    config.addinivalue_line("markers", "proposes(tag): the scenario states the ledger's proposed replacement for an ID")
