"""Each concern's state in `config.stash`, under a key of its own (pytest's own plugins keep theirs
the same way: `_pytest/junitxml.py`'s `xml_key`), and the few readings of a run every plugin needs.
Not a plugin itself: the plugins and steps read another concern's entry through here.

  OWN_TESTS  options   -- this run is the project's own tests (`pytest_keychain_claims_own_tests`)
  RESULTS    options   -- where this run's Allure results go, its staging folder and locks (publish reads it)
  BACKEND    backend   -- the backend chosen once, at pytest_cmdline_main (everything reads it)
  SAFETY     backend   -- the macOS safety snapshot of the user's keychains
  CLAIMS     ledger    -- the article and the claims ledger (steps read the article)
  RELEASES   releases  -- --claude-code: the releases, their versions, what loading each gave, the cache's lines
  OUTCOMES   outcomes  -- each scenario's outcome, what was collected and deselected
  SUMMARY    publish   -- the terminal summary's rows and the alarms said last (backend adds the safety alarm)
  SECRETS    redaction -- the secrets this run registered (keychain_claims.redact.Secrets)

A concern's entry is made by its own configure step (plugins/plugin.py calls them in order), so a
reader that runs too early fails with a KeyError naming the key, never with an empty stand-in.
Module globals would outlive the run (pytester, an in-process rerun) and be shared by every config
in the process; the stash belongs to the run."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from keychain_claims.backends import Backend
from keychain_claims.redact import Secrets
from keychain_claims.releases.cache import CacheRun

if TYPE_CHECKING:
    from keychain_claims.claims.article import Article
    from keychain_claims.claims.ledger import Ledger
    from keychain_claims.claims.outcomes import Outcome
    from keychain_claims.releases.release import Release


@dataclass
class Results:
    """Where this run's Allure results go once it reaches a result (reports/publish.py), whether the
    earlier Allure files there go, the staging folder Allure writes into meanwhile, the locks this run
    holds on the folders it writes, and the first write of an Allure file that failed."""
    target: Path | None = None
    clean: bool = True
    staging: Path | None = None
    locks: list = field(default_factory=list)
    error: str = ""


@dataclass
class Safety:
    system: Any = None        # how the safety snapshot runs `security` outside the sandboxes
    snapshot: Any = None      # the user's keychain search list and default keychain before the run


@dataclass
class Claims:
    article: Article
    ledger: Ledger


@dataclass
class Releases:
    """--claude-code: the releases it names, and each one's version where it is known before any
    release is loaded (an exact version: at configure; a tag or a path: once loaded)."""
    specs: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    loaded: dict[str, Release | str] = field(default_factory=dict)      # spec -> release, or why it failed
    cache_lines: list[str] = field(default_factory=list)   # the release cache's lines from xdist workers
    cache: CacheRun = field(default_factory=CacheRun)      # this run's lines, reporters and holds of the cache


@dataclass
class Outcomes:
    outcomes: list[Outcome] = field(default_factory=list)
    faults: dict[str, list[str]] = field(default_factory=dict)   # node id -> injected faults that fired in it
    deselected: list[str] = field(default_factory=list)    # node ids deselected (-k, -m, --deselect, a plugin)
    collected: set[str] = field(default_factory=set)       # node ids of claims scenarios collected (here or by workers)


@dataclass
class Summary:
    rows: list = field(default_factory=list)               # lines of the terminal summary: verdicts, messages
    tail: list[str] = field(default_factory=list)          # lines said after the verdicts (the faults' accounting)
    alarms: list[str] = field(default_factory=list)        # printed last, after the verdicts: safety and coverage


OWN_TESTS = pytest.StashKey[bool]()
RESULTS = pytest.StashKey[Results]()
BACKEND = pytest.StashKey[Backend]()
SAFETY = pytest.StashKey[Safety]()
CLAIMS = pytest.StashKey[Claims]()
RELEASES = pytest.StashKey[Releases]()
OUTCOMES = pytest.StashKey[Outcomes]()
SUMMARY = pytest.StashKey[Summary]()
SECRETS = pytest.StashKey[Secrets]()
FINDINGS_KEY = pytest.StashKey[list]()     # on an item: the ledger findings in force on it, [(id, step)]
FAULTS_KEY = pytest.StashKey[list]()       # on an item: the injected faults that fired in it so far
STEP_KEY = pytest.StashKey[Any]()          # on an item: the step it stopped at (claims.evidence.StepFailure)


def usage(message: str) -> None:
    """Bad input: one line that says what to do (pytest prints it and exits 4), no traceback."""
    raise pytest.UsageError(message)


def worker(config: pytest.Config) -> bool:
    """An xdist worker (it gets the controller's command line, and its workerinput)."""
    return hasattr(config, "workerinput")


def claims_run(config: pytest.Config) -> bool:
    """The controller of a run of the claims suite: not an xdist worker, not the project's own tests."""
    return not worker(config) and not config.stash.get(OWN_TESTS, False)


def scenario_of(item: pytest.Item):
    """The pytest-bdd scenario an item runs, or None for anything else."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry
    obj = getattr(item, "obj", None)
    return scenario_wrapper_template_registry.get(obj) if obj is not None else None


def release_of(item: pytest.Item) -> tuple[bool, str | None]:
    """(whether the item runs once per release, the --claude-code spec it runs with)."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "claude_release" not in callspec.params:
        return False, None
    return True, callspec.params["claude_release"]
