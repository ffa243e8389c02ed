"""The one exception hierarchy (bottom layer: imports nothing of this package).

Every error this package raises on purpose is a `KeychainClaimsError`, in one of a few branches
that say what the error *means* -- and so how it is handled, matched by class, never by name:

* `UserError`: bad input (an option, a file, a folder the user gave).  Its message is one line that
  says what to do; the CLI and the plugins print it without a traceback, and nothing is lost.
* `HarnessError`: the harness could not exercise something (a missed deadline, a dialog nobody
  could answer, a tool that did not start, a backend that failed at its own work).  A scenario
  that raises one is *not checkable* -- never evidence about the keychain (claims/evidence.py).
  * `BackendError`: the backend could not do what the harness asked (make the scratch keychain,
    build a test caller, open a session).
* `BackendUnavailable`: the chosen backend cannot run on this host, or no such backend (a user
  error: the one-line reason says which backend to choose instead).
* `ReleaseProblem`: a Claude Code release could not be fetched, unpacked, read or run; scenarios
  that need it skip with the message, the CLI prints it in one line.
* `SecurityAnswer`: an answer of security(1) itself, as the simulator models it (an OSStatus, a
  usage error, a line `security -i` cannot carry): the modelled program's output, not a failure of
  this one.
"""
from __future__ import annotations


class KeychainClaimsError(Exception):
    """Root of every error this package raises on purpose."""


class UserError(KeychainClaimsError):
    """Bad input: one line that says what to do."""


class HarnessError(KeychainClaimsError):
    """The harness could not exercise something: not checkable, never a verdict."""


class BackendError(HarnessError):
    """A one-line, actionable reason the backend could not do what the harness asked."""


class BackendUnavailable(UserError):
    """The chosen backend cannot be used here (or does not exist): one line naming what to choose."""


class ReleaseProblem(KeychainClaimsError):
    """A Claude Code release could not be fetched, unpacked, read or run: one line."""


class SecurityAnswer(KeychainClaimsError):
    """security(1)'s own answer as the model gives it (turned into its output and exit status)."""


def is_harness_error(exc: BaseException | None) -> bool:
    """An exception that says the harness could not exercise something -- never evidence about
    the keychain."""
    return isinstance(exc, HarnessError)


# --- the harness's own errors (raised by drivers and backends alike) ---------------------------
class UnansweredDialog(HarnessError):
    """A keychain dialog appeared that this run cannot answer.  Deliberately not an
    AssertionError: it is never mistaken for a recorded contradiction still holding."""

    def __init__(self, detail: str = ""):
        super().__init__("a keychain dialog appeared and nobody answered it" + (f" ({detail})" if detail else ""))


class CallDeadline(HarnessError, TimeoutError):
    """A call (with every retry and dismissal inside it) ran past its one deadline: a harness
    error, never a verdict.  Deliberately not an AssertionError, so it is never mistaken for a
    recorded contradiction still holding, and never a dialog: nothing is invented about why."""


class ToolNotStarted(HarnessError):
    """The sandbox's `security` could not be started at all (the shell's exit 126/127: not executable,
    not found): a harness error, never an answer of security (44 "not found" is security's own)."""
