"""`--backend rehearsal`: the macOS backend's whole code path, on any host.

Everything MacOSBackend does runs as it would on a hosted macOS runner -- the shim with its
pinning, login-keychain mapping and call log, the session launcher, consent records and emulated
answers, test callers compiled and signed by callers.py, the signing identity with its partition
list, the one deadline of every call, releases run without unshare -- and only the leaves that
exist on a Mac alone are stand-ins (standins.py here, each behaviour cited there):
keychain-sim for /usr/bin/security and securityd/SecurityAgent (lock state per audit session),
and stand-ins for cc (the source checked against the SDK's public declarations), codesign, openssl
(LibreSSL), the signing keychain's `security`, launchctl and sudo (what open a sandbox's session),
and the compiled test caller.  The Mac user it stands for is the hosted runner's `runner`: not
root, whatever this host runs as (standins.model_uid).  Its results are evidence about the model, like the simulator's.

`--rehearsal-faults` makes those leaves misbehave as the review of issue 21 found a Mac might
(standins.FAULTS).  The stand-ins record where each fault fires (faults_fired); a scenario a fault
the macOS code copes with reached (standins.COPED) ends as without it, one any other fault reached
ends not checkable, its reason naming the fault (plugins/publish.py: fault_alarm).
"""
from __future__ import annotations

from pathlib import Path

from keychain_claims import atomic
from keychain_claims.owned import owned_dir
from keychain_claims.backends.base import Box, python_shim
from keychain_claims.backends.macos.backend import MacOSBackend, MacOSSession
from keychain_claims.backends.sim import SimBackend, sim_env, state_dir

HOSTED_RUNNER = "gui-unattended"      # the simulator's session kind: a GUI where nobody answers
STANDINS = "keychain_claims.backends.rehearsal.standins"


class RehearsalBackend(MacOSBackend):
    name = "rehearsal"
    simulated = True
    priority = 0            # never chosen by `auto`
    label = ("rehearsal: the macOS backend's code path, keychain-sim and documented stand-ins for "
             "security, cc, codesign, openssl and the test caller")
    call_limit = 15.0       # shorter than the Mac's 20 s, and as there longer than launchd's respawn
                            # throttle (standins.THROTTLE_INTERVAL), which a call waits out (--rehearsal-faults)

    def __init__(self, faults: str = ""):
        """`faults`: --rehearsal-faults as a comma list (standins.FAULTS); the stand-ins, child
        processes of a sandbox, get it through the environment the sandbox gives them (env())."""
        super().__init__(real_dialogs=False)
        self._sim = SimBackend()
        self.faults = faults

    def unavailable(self) -> str | None:
        return self._sim.unavailable()

    def faults_fired(self) -> list[str]:
        """Where the stand-ins' faults fired (standins.FIRED_FILE) in every sandbox of this process
        since the last call, drained."""
        from keychain_claims.backends.rehearsal.standins import FIRED_FILE
        found = []
        for session in list(self._sessions):
            path = state_dir(session.sandbox) / FIRED_FILE
            found += [f"{r['fault']}: {r['where']}" for r in atomic.read_jsonl(path)]
            path.unlink(missing_ok=True)
        return found

    def security_command(self) -> list[str]:
        return self._sim.security_command()

    def system_security(self) -> tuple[list[str], dict[str, str]]:
        """The safety snapshot's `security`: the simulator with a user domain of its own."""
        state = str(owned_dir("rehearsal-user-"))        # removed at exit; swept if the run is killed
        return self._sim.security_command(), {"KEYCHAIN_SIM_STATE": state, "HOME": state}

    def fault_env(self) -> dict[str, str]:
        from keychain_claims.backends.rehearsal.standins import FAULTS_ENV
        return {FAULTS_ENV: self.faults} if self.faults else {}

    def open_session(self, sandbox: Box) -> "RehearsalSession":
        session = RehearsalSession(self, sandbox)
        self._sessions.add(session)
        return session


class RehearsalSession(MacOSSession):
    """A sandbox of the rehearsal: the macOS session's code, with the stand-ins as its tools."""
    backend: RehearsalBackend

    @property
    def state_dir(self) -> Path:
        """The state of the simulator behind the stand-in /usr/bin/security."""
        return state_dir(self.sandbox)

    def env(self) -> dict[str, str]:
        return {**sim_env(self.sandbox), **super().env(), **self.backend.fault_env()}

    def tool_env(self) -> dict[str, str]:
        return {**self.env(), "HOME": str(self.sandbox.home)}

    def tool(self, name: str) -> str:
        path = self.sandbox.root / "standin" / name
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_text(python_shim(STANDINS, name))
            path.chmod(0o755)
        return str(path)

    def real_security(self) -> str:
        """The stand-in for /usr/bin/security that the shim calls: the simulator, whose login
        session is a hosted runner's (a GUI where a drawn dialog waits for nobody); the sandbox's
        own session (no GUI) is what the stand-in launchctl or SessionCreate makes."""
        state = self.state_dir
        if not (state / "session").exists():
            state.mkdir(parents=True, exist_ok=True)
            (state / "session").write_text(HOSTED_RUNNER)
        return self.tool("sim-security")

    def teardown_keychain(self) -> None:
        """As for the simulator: every bit of state is under the sandbox root."""
