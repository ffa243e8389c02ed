"""Scenarios that can fail both ways (issue 33): for every claim a scenario shows, the step that carries
the claim's action is run as a no-op (`--mutate`, keychain_claims/plugins/mutation.py) and the scenario's
outcome must change.  A scenario whose outcome survives its own action being removed is no evidence.

One claims run on the simulator with one JavaScript release (cached after the first run; the releases
where cheap) is the baseline; one more run with every planned step a no-op is compared with it, outcome
by outcome.  Cost: two whole-suite runs (README, "The project's own tests")."""
from __future__ import annotations

import json
import os

import pytest

from keychain_claims.claims.ledger import Ledger
from keychain_claims.plugins.mutation import APPLIED
from tests import child


RELEASE = os.environ.get("KEYCHAIN_CLAIMS_MUTATION_RELEASE", "2.1.81")

# scenario (its template name) -> the step(s) whose function is not called: the claim's action, or the
# state the outcome depends on.  An outline lists the step of each row it mutates; one row changing is
# enough for the scenario (rows that are control rows keep their outcome).
PLAN: dict[str, str | list[str]] = {
    # symptom
    "The prompt is raised for security, names the item and asks for the login keychain password":
        "another writer left the item's partition list at \"teamid:NKUJUXUJ3B\"",
    "After Always Allow the prompt comes back when <invalidation>": ["the app is rebuilt",
                                                                     "another application rewrites the item"],
    "A framework writer re-creates the item and security's next read asks again":
        "the framework writer \"Claude\" of team \"NKUJUXUJ3B\" re-creates the item with SecItemDelete and SecItemAdd",
    "Once allowed, the credential is read intact": "Claude Code reads the credential, answering \"Allow\"",
    "A corrupt credential fails login without any prompt": "the stored credential is corrupt",
    # cause
    "The credential is a generic password for the current user in the login keychain":
        "Claude Code has stored a credential for the current user",
    "A grant follows the requesting binary's signing identity (<change>)": ["the app is rebuilt",
                                                                           "the app is re-signed by another team"],
    "A Claude Code update invalidates the grant held by security": "Claude Code reads through security, as releases do",
    "A token refresh updates the item in place and keeps the grant held by security": "the item trusts no application",
    "After a restart the only prompts are unlock prompts, and unlocking ends them": "the machine restarts",
    # triage
    "The item lookup shows service and account, never the secret, and raises no prompt (<context>)":
        "I type the article's command:",
    "show-keychain-info reports <report> and the keychain <relock> as time passes": "6 seconds pass",
    "On a no-timeout keychain a prompt that comes back is an item prompt, not an unlock prompt":
        "Claude Code reads the credential, answering \"Allow\"",
    "show-keychain-info on a locked login keychain asks to unlock it": "the login keychain is locked",
    "A keychain reported as no-timeout but set to lock when sleeping relocks when the Mac sleeps":
        "the login keychain is set to lock when sleeping",
    # fixes
    "After \"<choice>\" on a no-timeout keychain, <count> of 3 later reads prompt":
        ["Claude Code reads the credential, answering \"Always Allow\"",
         "Claude Code reads the credential, answering \"Allow\""],
    "The delete removes the item and costs exactly one login": "I type the article's command:",
    "A re-created item has a fresh ACL bound to security again, not to the current Claude Code binary":
        "I type the article's command:",
    "The three commands move the token into a mode-600 file and delete the item": "I type the article's commands:",
    "A failed read leaves the stored credential alone (<failure>)": "the item trusts no application",
    "Without the redirect, -w prints the token on the terminal": "I type the command:",
    # releases
    "The release reads the credential with the security a stock Mac resolves to /usr/bin/security":
        "Claude Code has stored a credential for the current user",
    "With CLAUDE_CODE_OAUTH_TOKEN set, claude -p leaves the stored credentials in place":
        "Claude Code has stored a credential for the current user",
    "In an SSH session the release uses the file's credential, not the keychain item's":
        "the session is an SSH session: no GUI, the login keychain locked",
    "In tmux on the Mac's own login session the release uses the keychain item, not the file":
        "Claude Code has stored a credential for the current user",
    "After the article's delete the release is logged out until it logs in again": "I type the article's command:",
    "The release keeps its configuration in ~/.claude.json": "I run the release with \"-p ping\" and CLAUDE_CODE_OAUTH_TOKEN set",
    "After the bypass recipe, the release's next token refresh writes the item back and deletes ~/.claude/.credentials.json":
        "I have followed the article's file-bypass recipe",
}


def _outcomes(reports) -> dict[str, dict]:
    """A run's outcomes; a mutated run may publish them as partial (a scenario left without a result by a
    removed step is the point of the check, not a reason to throw its outcomes away)."""
    path = reports / "outcomes.json"
    data = json.loads((path if path.exists() else reports / "outcomes.partial.json").read_text())
    return {o["nodeid"]: o for o in data["outcomes"]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(baseline outcomes, mutated outcomes, the steps the mutated run turned into no-ops)."""
    out = {}
    for name in ("baseline", "mutated"):
        folder = tmp_path_factory.mktemp(name)
        args = ["-q", "-n", "2", "--backend", "sim",
                f"--claude-code={RELEASE}", f"--alluredir={folder / 'allure'}", f"--reports-dir={folder / 'reports'}"]
        if name == "mutated":
            plan = folder / "plan.json"
            plan.write_text(json.dumps(PLAN))
            args.append(f"--mutate={plan}")
        done = child.run(*args, timeout=1200)
        published = [folder / "reports" / n for n in ("outcomes.json", "outcomes.partial.json")]
        assert any(p.exists() for p in published), done.stdout[-2000:] + done.stderr[-2000:]
        out[name] = folder / "reports"
    applied = [json.loads(line) for line in (out["mutated"] / APPLIED).read_text().splitlines()] \
        if (out["mutated"] / APPLIED).exists() else []
    return _outcomes(out["baseline"]), _outcomes(out["mutated"]), applied


@pytest.mark.suite
def test_every_claim_with_a_scenario_has_a_mutation(runs):
    """A claim shown by a scenario that ran is in the plan through one of its scenarios."""
    baseline, _, _ = runs
    claims = set(Ledger().claims)
    shown = {c for o in baseline.values() if o["result"] != "skipped" for c in o["claims"] if c in claims}
    planned = {c for o in baseline.values() if o["scenario"] in PLAN for c in o["claims"]}
    assert shown - planned == set(), f"claims shown by a scenario but never mutated: {sorted(shown - planned)}"


@pytest.mark.suite
def test_every_planned_step_was_turned_into_a_no_op(runs):
    baseline, _, applied = runs
    hit = {a["step"] for a in applied}
    planned = {s for v in PLAN.values() for s in ([v] if isinstance(v, str) else v)}
    assert planned - hit == set(), f"planned steps never reached (misspelt, or the scenario is gone): {planned - hit}"


def _changed(before: dict, after: dict) -> bool:
    """The outcome changed through the scenario's own assertions: a recorded contradiction that stopped
    holding (xpassed), or a scenario that passed failing on an assertion -- not on a harness error (a
    KeyError of a step whose set-up was removed says nothing about what the scenario checks)."""
    if before["result"] == after["result"]:
        return False
    if after["result"] in ("xpassed", "xfailed", "passed"):
        return True
    return after["result"] == "failed" and after["reason"].rstrip().endswith(("AssertionError", "Failed"))


def _moved(runs) -> dict[str, list[tuple[str, bool]]]:
    baseline, mutated, applied = runs
    by_scenario: dict[str, list[tuple[str, bool]]] = {}
    for nodeid in {a["nodeid"] for a in applied}:
        before, after = baseline.get(nodeid), mutated.get(nodeid)
        if before is None or after is None or before["result"] == "skipped":
            continue
        by_scenario.setdefault(before["scenario"], []).append((nodeid, _changed(before, after)))
    return by_scenario


@pytest.mark.suite
def test_each_mutated_scenario_changes_its_outcome(runs):
    """Per scenario: at least one of its runs (rows, releases) ends otherwise than in the baseline, on
    its own assertions."""
    unchanged = sorted(name for name, rows in _moved(runs).items() if not any(c for _, c in rows))
    assert not unchanged, f"scenarios whose outcome survives their own action being removed: {unchanged}"


@pytest.mark.suite
def test_every_claim_with_a_scenario_can_change_its_verdict(runs):
    """Per claim: some scenario of it changed outcome under its mutation."""
    baseline, mutated, applied = runs
    touched = {a["nodeid"] for a in applied}
    claims = set(Ledger().claims)
    shown = {c for o in baseline.values() if o["result"] != "skipped" for c in o["claims"] if c in claims}
    moved = {c for n in touched if n in baseline and n in mutated
             and _changed(baseline[n], mutated[n]) for c in baseline[n]["claims"]}
    assert shown - moved == set(), f"claims whose every scenario survives its mutation: {sorted(shown - moved)}"


@pytest.mark.parametrize("content, want", [
    ("not json", "not a readable JSON file"),
    ('["a list"]', 'write a JSON object {"<scenario name>": "<step text>"'),
    ('{"a scenario": 3}', 'write a JSON object {"<scenario name>": "<step text>"'),
])
def test_a_bad_mutation_plan_is_one_line_that_says_what_to_write(tmp_path, content, want):
    from keychain_claims.plugins.mutation import MutationError, load_plan
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(MutationError) as info:
        load_plan(str(path))
    assert want in str(info.value) and "\n" not in str(info.value)


def test_a_mutation_plan_takes_one_step_or_several(tmp_path):
    from keychain_claims.plugins.mutation import load_plan
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"A": "step a", "B": ["step b", "step c"]}))
    assert load_plan(str(path)) == {"A": ["step a"], "B": ["step b", "step c"]}
