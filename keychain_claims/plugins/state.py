"""A run's state: one object in `config.stash`, shared by the suite's plugins, and the few
readings of a run every plugin needs.  Not a plugin itself: the plugins import it, never each
other (a plugin module imported before pytest registers it cannot have its asserts rewritten).

Module globals would outlive the run (pytester, an in-process rerun) and be shared by every
config in the process; the stash belongs to the run."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from keychain_claims.backends import Backend
    from keychain_claims.claims.article import Article
    from keychain_claims.claims.ledger import Ledger
    from keychain_claims.claims.outcomes import Outcome
    from keychain_claims.releases.release import Release


@dataclass
class RunState:
    backend: Backend | None = None
    article: Article | None = None
    ledger: Ledger | None = None
    # the project's own tests, not a claims run (tests/conftest.py says so: `pytest_keychain_claims_own_tests`)
    own_tests: bool = False
    # --claude-code: the releases it names, and each one's version where it is known before any
    # release is loaded (an exact version: at configure; a tag or a path: once loaded)
    releases: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    loaded: dict[str, Release | str] = field(default_factory=dict)      # spec -> release, or why it failed
    cache_lines: list[str] = field(default_factory=list)   # the release cache's lines from xdist workers
    outcomes: list[Outcome] = field(default_factory=list)
    faults: dict[str, list[str]] = field(default_factory=dict)   # node id -> injected faults that fired in it
    deselected: list[str] = field(default_factory=list)    # node ids deselected (-k, -m, --deselect, a plugin)
    collected: set[str] = field(default_factory=set)       # node ids of claims scenarios collected (here or by workers)
    summary: list = field(default_factory=list)            # lines of the terminal summary: verdicts, messages
    summary_tail: list[str] = field(default_factory=list)  # lines said after the verdicts (the faults' accounting)
    alarms: list[str] = field(default_factory=list)        # printed last, after the verdicts: safety and coverage
    system: Any = None        # how the safety snapshot runs `security` outside the sandboxes
    # where this run's Allure results go once it reaches a result (reports/publish.py), whether the
    # earlier Allure files there go, the staging folder Allure writes into meanwhile, the locks this
    # run holds on the folders it writes, and the first write of an Allure file that failed
    results_target: Any = None
    results_clean: bool = True
    results_staging: Any = None
    locks: list = field(default_factory=list)
    results_error: str = ""
    snapshot: Any = None      # the user's keychain search list and default keychain before the run


STATE_KEY = pytest.StashKey[RunState]()
FINDINGS_KEY = pytest.StashKey[list]()     # on an item: the ledger findings in force on it, [(id, step)]
FAULTS_KEY = pytest.StashKey[list]()       # on an item: the injected faults that fired in it so far
STEP_KEY = pytest.StashKey[Any]()          # on an item: the step it stopped at (claims.evidence.StepFailure)


def run_state(config: pytest.Config) -> RunState:
    """This run's state (made on first use: plugins configure in no fixed order)."""
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        state = config.stash[STATE_KEY] = RunState()
    return state


def usage(message: str) -> None:
    """Bad input: one line that says what to do (pytest prints it and exits 4), no traceback."""
    raise pytest.UsageError(message)


def claims_run(config: pytest.Config) -> bool:
    """The controller of a run of the claims suite: not an xdist worker, not the project's own tests."""
    return not hasattr(config, "workerinput") and not run_state(config).own_tests


def scenario_of(item: pytest.Item):
    """The pytest-bdd scenario an item runs, or None for anything else."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry
    return scenario_wrapper_template_registry.get(getattr(item, "obj", None))


def release_of(item: pytest.Item) -> tuple[bool, str | None]:
    """(whether the item runs once per release, the --claude-code spec it runs with)."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "claude_release" not in callspec.params:
        return False, None
    return True, callspec.params["claude_release"]
