"""The suite's one entry plugin: pytest.ini loads it (`-p keychain_claims.plugins.plugin`) before
pytest reads the command line, and the project's conftest.py names it too.  Like pytest-bdd's
`plugin.py`, it declares the options, registers the concern modules (their own hooks: fixtures,
collection, reports) and calls each concern's step of the hooks where the order between concerns
matters -- pytest_cmdline_main, pytest_configure, pytest_sessionfinish, pytest_unconfigure -- here,
in an order that is read top to bottom.  Each concern keeps its state under its own key in
`config.stash` (plugins/state.py), never in module globals: pytest may run the suite several times in
one process (pytester, the project's own tests).  The concerns: plugins/__init__.py."""
from __future__ import annotations

import pytest

from keychain_claims.plugins import (backend, command_line, hookspec, ledger, mutation, options, outcomes, publish,
                                     redaction, releases)

# Registered in this order.  For the hooks they implement themselves pluggy calls the last registered
# first, unless a hook says tryfirst/trylast: releases' and ledger's pytest_bdd_apply_tag take disjoint
# tags; redaction's and outcomes' report wrappers are both tryfirst and each works on its own.
CONCERNS = (publish, outcomes, redaction, ledger, backend, options, mutation, releases)


def _on(config: pytest.Config, concern) -> bool:
    """The concern is registered (a claims run refuses `-p no:` of one: plugins/options.py)."""
    return config.pluginmanager.get_plugin(concern.__name__) is concern


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)
    for concern in CONCERNS:
        if not pluginmanager.is_blocked(concern.__name__):
            pluginmanager.register(concern, concern.__name__)


def pytest_addoption(parser: pytest.Parser) -> None:
    command_line.addoption(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Before anything is written or cleaned, and before pytest's own --help or --collect-only; run
    whatever `-p no:` says, since options.prepare is what refuses a suite plugin switched off."""
    options.begin(config)        # own tests or a claims run; a path that holds no test file: one line
    backend.choose(config)       # the one select() of the run: a named backend that cannot run here is refused
    options.prepare(config)      # no suite plugin switched off; the folders it writes usable, locked, staged


@pytest.hookimpl(trylast=True)          # after Allure's, whose file writer publish guards
def pytest_configure(config: pytest.Config) -> None:
    steps = (
        options.configure,       # SIGTERM/SIGHUP as a partial run, before anything takes time; the markers
        redaction.configure,     # the run's secrets, in force before anything can make one
        releases.configure,      # --claude-code parsed (bad input: one line); the run's release cache lines
        mutation.configure,      # --mutate FILE read (bad input: one line)
        backend.configure,       # sandboxes a killed run left, swept
        ledger.configure,        # the article and the ledger, loaded and checked against each other
        outcomes.configure,      # the outcome collector
        backend.take_safety_snapshot,   # only once the article and the ledger are in: a run they stop
                                        # never touches the user's keychains
        publish.configure,       # the summary; Allure's writes guarded (a full disk: one line, at the end)
    )
    for step in steps:
        if _on(config, _concern(step)):
            step(config)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _on(config, backend):
        backend.check_safety(session)               # the user's keychains as they were: a SAFETY alarm fails
    if _on(config, publish):                        # the run before its verdicts are published and summed up
        publish.finish(session, exitstatus)
    if _on(config, releases):
        releases.write_cache_lines(session)         # the release cache's lines, beside the verdicts


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    for step in (
        publish.say_alarms,      # safety and coverage failures, the very last lines of the output
        options.unconfigure,     # a staging folder never published goes; the folder locks are let go
        releases.unconfigure,    # the releases this run held may be evicted again
        redaction.unconfigure,   # last: everything written up to here was redacted with the run's secrets
    ):
        if _on(config, _concern(step)):
            step(config)


def _concern(step):
    return {concern.__name__: concern for concern in CONCERNS}[step.__module__]
