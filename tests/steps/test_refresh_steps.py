"""steps/refresh_steps.py: a set-up step's failed call is the evidence rule's to judge (issue 28,
note 5).  Before, `other_default_locked` turned any failed call whose stderr held "refused:" into a
plain skip worded by the step ("not checkable on the … backend: <stderr>"), so the shim's refusal --
a harness event -- escaped the rule's "harness error" and any other "refused:" answer escaped as a
skip that no harness event backed."""
from __future__ import annotations

import pytest

from keychain_claims.backends import RehearsalBackend
from keychain_claims.claims.evidence import StepFailure, not_evidence
from keychain_claims.fakes import Fakes
from keychain_claims.harness.sandbox import Sandbox
from keychain_claims.harness.world import World
from steps.refresh_steps import other_default_locked


def _set_up(world: World) -> None:
    """The step, a skip of its own counted as what it is here: not the evidence rule's verdict."""
    try:
        other_default_locked(world)
    except pytest.skip.Exception as exc:
        pytest.fail(f"the set-up step skipped in its own words instead of failing: {exc}")


@pytest.fixture
def world():
    fakes = Fakes()
    box = Sandbox(RehearsalBackend(faults=""), fakes)
    box.prepare()
    w = World(box)
    assert w.claude_write(fakes.credential()).status == 0
    yield w
    box.close()


def test_a_set_up_call_the_shim_refuses_is_a_harness_error_not_a_skip_of_the_steps_wording(world, monkeypatch):
    security = world.security

    def refused_once(*argv, **kw):      # the shim refuses the second keychain, as an older shim did
        if argv[:1] == ("create-keychain",):
            argv = ("create-keychain", "/Library/Keychains/System.keychain")   # not the sandbox's: refused
        return security(*argv, **kw)
    monkeypatch.setattr(world, "security", refused_once)
    world.backend.harness_events()
    with pytest.raises(AssertionError) as caught:
        _set_up(world)
    events = world.backend.harness_events()
    why = not_evidence("call", True, caught.value, StepFailure("given", "the session has no GUI …", caught.value),
                       events)
    assert events and why is not None and why.startswith("harness error: the shim refused a call"), (events, why)


def test_a_failed_set_up_call_whose_answer_says_refused_is_a_failed_set_up_not_a_skip(world, monkeypatch):
    from keychain_claims.harness.driver import Call
    monkeypatch.setattr(world, "security", lambda *argv, **kw: Call(
        argv=list(argv), stdin="", tty="", status=1, stdout="",
        stderr="security: SecKeychainCreate: connection refused: x\n"))
    with pytest.raises(AssertionError):
        _set_up(world)


# --------------------------------------------------------------------------- a refresh the stand-in cut short
TOKEN = {"method": "POST", "host": "console.anthropic.com", "path": "/v1/oauth/token"}
MESSAGES = {"method": "POST", "host": "api.anthropic.com", "path": "/v1/messages?beta=true"}


def _refresh_world(folder, connects: list[dict], requests: list[dict] | None = None, calls: tuple = ()):
    """A world after a `-p ping` refresh run: the item is gone (exit 44), the stand-in logged `connects`
    and `requests` (the token request alone unless given)."""
    import json
    from types import SimpleNamespace

    from keychain_claims.harness.driver import Call
    from keychain_claims.releases import api, standin
    folder.mkdir(parents=True, exist_ok=True)
    (folder / standin.CONNECTS).write_text("".join(json.dumps(c) + "\n" for c in connects))
    (folder / api.REQUESTS).write_text("".join(json.dumps(r) + "\n" for r in requests or [TOKEN]))
    run = SimpleNamespace(standin=folder, status=0, stdout="Execution error\n", stderr="", argv=["-p", "ping"])
    gone = Call(argv=[], stdin="", tty="", status=44, stdout="", stderr="security: item not found\n")
    return SimpleNamespace(security=lambda *a, **k: gone, account="u", service="Claude Code-credentials",
                           session=SimpleNamespace(call_log=lambda: list(calls)),
                           marks={"refreshed": SimpleNamespace(access_token="new"), "release_run": run,
                                  "calls_before_run": 0})


def test_a_connection_the_release_reset_does_not_excuse_a_missing_write(tmp_path):
    """2.1.282, refused write: the release reset one of its connections (`Connection reset by peer`),
    sent its model request with the expired token and was refused: that is the evidence, not a harness
    failure (an earlier version of this rule took every unanswered connection for one)."""
    from steps.refresh_steps import item_refreshed
    world = _refresh_world(tmp_path / "standin", [
        {"method": "TLS", "target": "api.anthropic.com:443", "answered": False,
         "error": "[Errno 104] Connection reset by peer"}], requests=[TOKEN, MESSAGES])
    with pytest.raises(AssertionError, match="no item to read"):
        item_refreshed(world)


def test_a_host_the_stand_in_never_serves_does_not_excuse_a_missing_write(tmp_path):
    from steps.refresh_steps import item_refreshed
    world = _refresh_world(tmp_path / "standin", [
        {"method": "GET", "target": "https://raw.githubusercontent.com/anthropics/claude-code/CHANGELOG.md",
         "answered": False}], requests=[TOKEN, MESSAGES])
    with pytest.raises(AssertionError, match="no item to read"):
        item_refreshed(world)


def test_a_refresh_run_that_ended_before_its_model_request_is_not_evidence_about_where_the_token_went(tmp_path):
    """2.0.47, 2.0.53 and 2.0.57 in issue 30's sweep: the token request answered, then "Execution error"
    and exit 0 with no model request and no keychain write: the scenarios failed, FIX-FILE-NO-PROMPTS read
    "no-longer-contradicted" and FIX-FILE-FALLBACK "fails".  Every other `-p ping` refresh run of the
    sweep (199) sent its model request."""
    from steps.refresh_steps import item_refreshed
    world = _refresh_world(tmp_path / "standin", [
        {"method": "CONNECT", "target": "console.anthropic.com:443", "answered": True}])
    with pytest.raises(pytest.skip.Exception, match="without its model request"):
        item_refreshed(world)


def test_a_refresh_run_that_tried_to_store_the_token_is_evidence_without_its_model_request(tmp_path):
    """1.0.68-2.0.31 with the login keychain locked: the write fails unseen, the token is lost and the
    release says "Invalid API key" with no model request -- the recorded finding itself, not a run cut
    short (an earlier version of the rule took it for one: seen on 1.0.107, sampled by the stop hook)."""
    from steps.refresh_steps import item_refreshed
    world = _refresh_world(tmp_path / "standin", [], calls=(
        ["add-generic-password", "-U", "-a", "u", "-s", "Claude Code-credentials", "-w", "x"],))
    with pytest.raises(AssertionError, match="no item to read"):
        try:
            item_refreshed(world)
        except pytest.skip.Exception as exc:             # the finding taken for a run cut short
            pytest.fail(f"skipped: {exc}")
