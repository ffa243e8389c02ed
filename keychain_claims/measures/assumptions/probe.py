"""What a probe is and what it gets: `@assumption` registers it (REGISTRY, in definition order),
a `Host` is its scratch keychain on the chosen backend, `Held` / `Unsettled` its answer."""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable

from keychain_claims.harness.sandbox import Sandbox

FORMAT = "keychain-claims/settle-transcript/1"


@dataclass
class Held:
    held: bool
    observed: str


@dataclass
class Unsettled:
    """Not a question this backend can answer (e.g. no codesign on the simulator)."""
    reason: str


@dataclass
class CouldNotRun:
    """The probe could not ask the host: its own harness failed (a build, a session, a keychain
    that could not be made).  Never "did not hold"."""
    reason: str


@dataclass
class Assumption:
    id: str
    assumed: str          # what the simulator / the macOS backend takes for true
    source: str           # where it comes from: a spec line, an Apple source, "invented"
    settles: str          # which code it settles (a constant of sim/unverified.py, a backend behaviour)
    probe: Callable = field(repr=False)


REGISTRY: dict[str, Assumption] = {}


def assumption(id: str, assumed: str, source: str, settles: str):
    def register(probe: Callable) -> Callable:
        if id in REGISTRY:
            raise ValueError(f"assumption {id} registered twice")
        REGISTRY[id] = Assumption(id, assumed, source, settles, probe)
        return probe
    return register


class Host:
    """A scratch keychain on the chosen backend, and the calls a probe made."""

    def __init__(self, backend):
        self.backend = backend
        self.sandbox = Sandbox(backend).prepare()
        self.keychain = str(self.sandbox.keychain.path)

    def security(self, *argv: str, stdin: str | None = None, gui: bool = False, caller=None):
        """One call; without `gui` in a session without window-server access (the probe reads
        the host's own answer; no dialog is answered or emulated)."""
        self.sandbox.session.set_gui(gui=gui)
        if caller is None:
            return self.sandbox.security.run(*argv, stdin=stdin, responder=self.sandbox.responder(),
                                             timeout=self.backend.call_limit)
        env = self.sandbox.session.as_caller(caller)
        return self.sandbox.security.run(*argv, stdin=stdin, responder=self.sandbox.responder(), env=env,
                                         timeout=self.backend.call_limit)

    def item(self, service: str = "kc-probe", trusted: tuple[str, ...] | None = ()):
        """A generic password made by `security` that trusts `trusted` apps (() = none: every read
        needs consent; None = security's default, itself)."""
        argv = ["add-generic-password", "-a", "probe", "-s", service, "-w", "KCCANARY-probe-secret"]
        if trusted is not None:
            argv += [a for path in trusted for a in ("-T", path)] or ["-T", ""]
        call = self.security(*argv, self.keychain)
        if call.status != 0:
            raise RuntimeError(f"could not make the probe's item: exit {call.status}: {call.stderr.strip()[:120]}")
        return call

    @property
    def mac_tools(self) -> bool:
        return self.backend.builds_test_callers

    def transcript(self) -> list[dict]:
        return [c.record() for c in self.sandbox.security.calls]

    def close(self) -> None:
        self.sandbox.close()


def status(call) -> str:
    return f"exit {call.status}: {(call.stderr or call.stdout).strip()[:160]}"
