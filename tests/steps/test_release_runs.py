"""steps/release_runs.py: a release run counts as evidence about the article's credential only when the
release asked the keychain for a `-credentials` item.  0.2.70 asked only for `Claude Code` (the API key
of the releases before OAuth login), found none, printed "Invalid API key" and exited 0: the read
scenarios then failed as if the release contradicted the claims, where it never touched the
credential they are about (seen in the first sweep of issue 30)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from steps.release_runs import not_exercised

SETUP = [["create-keychain", "/sandbox/login.keychain-db"], ["unlock-keychain", "/sandbox/login.keychain-db"]]


def _world(calls: list[list[str]], status: int = 0, standin=None):
    run = SimpleNamespace(standin=standin, status=status, stderr="", argv=["-p", "ping"])
    return SimpleNamespace(marks={"release_run": run, "calls_before_run": len(SETUP)},
                           session=SimpleNamespace(call_log=lambda: SETUP + calls),
                           service="Claude Code-credentials")


RELEASE = SimpleNamespace(version="9.9.9")


def test_a_release_that_asked_only_for_another_item_is_not_evidence_about_the_credential():
    why = not_exercised(_world([["find-generic-password", "-a", "u", "-w", "-s", "Claude Code"]]), RELEASE, "its read")
    assert why is not None and "only for `Claude Code`" in why and why.endswith("its read not checkable with this release")


@pytest.mark.parametrize("service", ["Claude Code-credentials", "Claude Code-credentials-1a2b3c4d",
                                     "Claude Code-custom-oauth-credentials"])
def test_a_release_that_asked_for_a_credentials_item_is_evidence(service):
    calls = [["find-generic-password", "-a", "u", "-w", "-s", "Claude Code"],
             ["find-generic-password", "-a", "u", "-w", "-s", service]]
    assert not_exercised(_world(calls), RELEASE) is None


def test_a_release_that_made_no_call_never_reached_the_keychain(tmp_path):
    why = not_exercised(_world([], standin=tmp_path), RELEASE)     # an answering stand-in that saw nothing
    assert why is not None and "never reached the keychain" in why
