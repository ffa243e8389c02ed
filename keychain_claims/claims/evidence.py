"""A verdict only from evidence: the one rule that decides whether a scenario's outcome may count.

A scenario's outcome is evidence only when the harness proved its preconditions held: every set-up
(Given) step and every fixture succeeded, the shim accepted every command and nothing the harness
runs missed a deadline (`harness events`), the release started and reached the keychain (its steps
skip "not checkable" when it did not), the release cache proved the entry's content for this run
(releases/cache.py), and no step crashed (an exception that is not an assertion is the harness's,
never the keychain's).  Anything else is "not checkable" with the real reason: a skip, never
"fails", "contradicted" or "no-longer-contradicted".

A recorded contradiction (a ledger finding) is a strict xfail that passes only on the finding's own
assertion: the AssertionError of the step the ledger names for it (`step:`), raised as
`FindingHolds` carrying the finding's ID.  Any other failure of that scenario is what it is: an
unrelated assertion "fails", a crash or a set-up failure is not checkable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from _pytest.outcomes import Failed

from keychain_claims.errors import is_harness_error


class FindingHolds(AssertionError):
    """The assertion a ledger finding records failed again: the finding still holds.  Raised (by the
    ledger plugin, for the step the finding names) with the finding's ID; a strict xfail of a
    finding accepts nothing else."""

    def __init__(self, finding: str, message: str):
        super().__init__(f"[{finding}] {message}")
        self.finding = finding


@dataclass(frozen=True)
class StepFailure:
    """The step a scenario stopped at: its kind (given/when/then), its text and what it raised."""
    kind: str
    text: str
    exc: BaseException


def is_assertion(exc: BaseException | None) -> bool:
    """What a step states about the keychain or the release: an AssertionError or pytest.fail."""
    return isinstance(exc, (AssertionError, Failed))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def not_evidence(when: str, failed: bool, exc: BaseException | None, step: StepFailure | None,
                 events: list[str]) -> str | None:
    """Why this phase's outcome is not evidence ("harness error: …", "set-up failed: …"), or None
    when it counts.  `failed`: the phase raised (an xfail's expected failure included); `exc`: what
    it raised; `step`: the step it stopped at, if a step raised; `events`: what the backend
    recorded as not exercisable during the scenario (a shim refusal, a missed deadline)."""
    if events:
        return "harness error: " + "; ".join(dict.fromkeys(events))[:300]
    if not failed or exc is None:
        return None
    if is_harness_error(exc):
        return "harness error: " + first_line(exc)
    if when == "setup":
        return f"set-up failed: {type(exc).__name__}: {first_line(exc)}"
    if step is not None and step.kind == "given":
        return f"set-up step “{step.text}” failed: {first_line(exc)}"
    if not is_assertion(exc):
        where = f" in step “{step.text}”" if step is not None else ""
        return f"harness error: {type(exc).__name__}{where}: {first_line(exc)}"
    return None


def step_pattern(text: str) -> re.Pattern:
    """A finding's `step` as written in the feature (an outline's <placeholders> match any value)."""
    parts = re.split(r"<[^<>]+>", " ".join(text.split()))
    return re.compile("^" + ".+?".join(map(re.escape, parts)) + "$")


def finding_of(step: StepFailure | None, findings: list[tuple[str, str]]) -> str | None:
    """The ID of the finding whose own assertion `step` is (findings: [(id, step text)]), or None."""
    if step is None or step.kind == "given" or not isinstance(step.exc, AssertionError):
        return None
    text = " ".join(step.text.split())
    return next((fid for fid, wanted in findings if step_pattern(wanted).match(text)), None)
