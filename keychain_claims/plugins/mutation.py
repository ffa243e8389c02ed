"""`--mutate FILE`: the own tests' mutation check (tests/plugins/test_mutation.py).  FILE is a JSON object
mapping a scenario's name (its template: an outline's name with its <placeholders>) to the text of one
of its steps, as the feature spells it after the keyword.  In that scenario the step is matched,
its arguments parsed and its fixtures made as usual, and then its function is not called: the
step's action does not happen.  The scenario's report carries ("mutated", <step>) once the step was
reached, and a line {"nodeid", "step"} goes to <reports-dir>/mutated.jsonl (an xdist worker's too), so
a check can tell a mutation that was applied from one whose step never ran."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from keychain_claims.plugins.state import scenario_of
from keychain_claims.errors import UserError

bdd_scenario = importlib.import_module("pytest_bdd.scenario")   # the module (the package exports a function of that name)
PLAN = pytest.StashKey[dict]()
SKIP_CALL = pytest.StashKey[bool]()
MUTATED = "mutated"                 # the user property a mutated scenario's report carries
APPLIED = "mutated.jsonl"           # in the reports folder: one line per step run as a no-op


class MutationError(UserError):
    """One-line reason the --mutate file cannot be used."""


def load_plan(path: str) -> dict[str, list[str]]:
    try:
        plan = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MutationError(f"--mutate {path}: not a readable JSON file ({exc.__class__.__name__}); "
                            'write {"<scenario name>": "<step text>", ...}') from None
    if not isinstance(plan, dict) or not all(
            isinstance(k, str) and (isinstance(v, str) or isinstance(v, list) and all(isinstance(s, str) for s in v))
            for k, v in plan.items()):
        raise MutationError(f'--mutate {path}: write a JSON object {{"<scenario name>": "<step text>" or '
                            '["<step text>", ...], ...}')
    return {k: [v] if isinstance(v, str) else v for k, v in plan.items()}


def configure(config: pytest.Config) -> None:
    path = config.getoption("--mutate", None)
    if not path:
        return
    try:
        config.stash[PLAN] = load_plan(path)
    except MutationError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not getattr(bdd_scenario.call_fixture_func, "keychain_claims_mutation", False):
        original = bdd_scenario.call_fixture_func

        def call_fixture_func(fixturefunc, request, kwargs):
            if request.node.stash.get(SKIP_CALL, False):
                request.node.stash[SKIP_CALL] = False
                return None
            return original(fixturefunc=fixturefunc, request=request, kwargs=kwargs)

        call_fixture_func.keychain_claims_mutation = True  # type: ignore[attr-defined]  # marks the patch as ours
        bdd_scenario.call_fixture_func = call_fixture_func  # type: ignore[attr-defined]  # pytest-bdd's, not in its stubs


def pytest_bdd_before_step_call(request, feature, scenario, step, step_func, step_func_args) -> None:
    plan = request.config.stash.get(PLAN, None)
    if not plan:
        return
    template = scenario_of(request.node)
    if template is not None and step.name in plan.get(template.name, ()):
        request.node.stash[SKIP_CALL] = True
        request.node.user_properties.append((MUTATED, step.name))
        folder = Path(request.config.getoption("--reports-dir"))
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / APPLIED, "a", encoding="utf-8") as out:       # one short line: O_APPEND keeps it whole
            out.write(json.dumps({"nodeid": request.node.nodeid, "step": step.name}) + "\n")
