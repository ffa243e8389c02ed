"""The interface every keychain backend implements.

In jaraco/keyring's shape: a few abstract methods (what `security` is, whether it can run here,
and the four things a scenario does to the world), a priority, and viability decided in one place
(`unavailable()`).  An ability only some backends have is a capability attribute, None where the
backend lacks it (`user_keychain_guard`, `caller_tools`), so no caller probes with getattr/hasattr.
"""
from __future__ import annotations

import abc
import re
import shlex
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING
from collections.abc import Callable

import pytest

from keychain_claims.backends import backend_title, provenance_kind

if TYPE_CHECKING:  # pragma: no cover
    from keychain_claims.harness.driver import Call, DialogWatch
    from keychain_claims.security.prompts import Responder
    from keychain_claims.harness.sandbox import Sandbox


class BackendError(Exception):
    """A one-line, actionable reason a backend cannot be used."""


class BackendSkipped(pytest.skip.Exception):  # type: ignore[name-defined]  # pytest's Skipped, public only here
    """A step this backend cannot take although the scenario runs elsewhere.  Counted apart from
    skips that hold on every backend (no release given, a citation): a real run whose share of
    such skips is too high fails (plugins/publish.py), so no backend can skip its way to green."""


HARNESS_ERRORS = ("CallDeadline", "UnansweredDialog", "BackendError", "ToolNotStarted")   # exception names that are the harness's


def is_harness_error(exc: BaseException | None) -> bool:
    """An exception that says the harness could not exercise something (a missed deadline, a dialog
    nobody could answer, a tool that failed) -- never evidence about the keychain."""
    return exc is not None and any(type(exc).__name__ == name or name in {c.__name__ for c in type(exc).__mro__}
                                   for name in HARNESS_ERRORS)


def skip_here(backend: "Backend", reason: str):
    raise BackendSkipped(f"not on the {backend.name} backend: {reason}")


def python_argv(module: str, *fixed_args: str) -> list[str]:
    """The argv that runs `module`.main() with `fixed_args` before the caller's.  Python starts
    isolated (-I: no PYTHON* variables, no working directory on sys.path) and without `site` (-S):
    the shims need only the standard library and this package, and every `security` call pays for
    the start -- -S saves ~14 ms a call, -c instead of -m ~2 ms."""
    from keychain_claims import PROJECT_ROOT
    code = f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r}); from {module} import main; sys.exit(main())"
    return [sys.executable, "-I", "-S", "-c", code, *fixed_args]


def python_shim(module: str, *fixed_args: str) -> str:
    """Text of a `security` shim: `python_argv(module, *fixed_args)` and the caller's argv."""
    return f'#!/bin/sh\nexec {shlex.join(python_argv(module, *fixed_args))} "$@"\n'


@dataclass(frozen=True)
class UserKeychainGuard:
    """The backend reaches the user's own keychain domain (their search list and default keychain):
    the run snapshots it before anything runs and fails if it changed (backends/macos/safety.py).
    `system_security()` is how that snapshot calls `security` outside any sandbox: (argv, extra env)."""
    system_security: Callable[[], tuple[list[str], dict[str, str]]]


@dataclass(frozen=True)
class CallerTools:
    """The tools that build and sign test callers (backends/macos/callers.py): `path(sandbox, name)`
    is the program behind a tool name (cc, codesign, openssl, security) and `env(sandbox)` the
    environment it runs with -- the Mac's own, or the rehearsal's stand-ins."""
    path: Callable[["Sandbox", str], str]
    env: Callable[["Sandbox"], dict[str, str]]


# how results name a backend's kind after its name: `sim (simulated)`, `macos (real macOS)`


class Session:
    """The session a sandbox's calls run in; this one is the harness's own."""

    def argv(self, program: list[str]) -> list[str]:
        """`program` run in this session (for a call the harness starts as a child process)."""
        return list(program)

    def close(self) -> None:
        pass


class Backend(abc.ABC):
    name = "?"
    simulated = True
    priority = 0
    label = "?"
    release_isolation = "auto"      # how a release run is kept offline: netns where it works, else loopback
    call_limit = 15.0               # hard limit of one `security` call, in seconds, every retry included
    # the scratch keychain's file name under the sandbox's ~/Library/Keychains.  The simulator has no
    # securityd and no keybag, so it keeps the article's own name; a backend that reaches securityd must
    # not (MacOSBackend: securityd treats any name containing "login.keychain" as a login keychain)
    scratch_keychain_file = "login.keychain-db"
    # whether a step can read the words of a keychain dialog (app, item, keychain) on this backend:
    # the simulator draws its dialogs on the terminal; a Mac run without --real-dialogs never draws one
    dialog_text_visible = True
    # capabilities: None where this backend lacks the ability (see the classes above)
    user_keychain_guard: UserKeychainGuard | None = None
    caller_tools: CallerTools | None = None

    @property
    def provenance(self) -> str:
        """What produced a result observed through this backend: real or simulated."""
        return provenance_kind(self.simulated)

    @property
    def title(self) -> str:
        """The backend as results name it (the Allure parameter): its name and kind."""
        return backend_title(self.name, self.simulated)

    @abc.abstractmethod
    def unavailable(self) -> str | None:
        """None when usable here, else the one-line reason.  The one place viability is decided."""

    @abc.abstractmethod
    def security_command(self) -> list[str]:
        """argv of the `security` behind the sandbox's shim."""

    def shim(self, sandbox: "Sandbox") -> str:
        """Text of the sandbox's `security` shim."""
        cmd = " ".join(shlex.quote(c) for c in self.security_command())
        return f'#!/bin/sh\nexec {cmd} "$@"\n'

    def env(self, sandbox: "Sandbox") -> dict[str, str]:
        return {}

    def scratch_keychain_commands(self, sandbox: "Sandbox") -> list[list[str]]:
        """The `security` commands that make the scratch keychain, in order (no passwords:
        each is typed at its prompt)."""
        path = str(sandbox.keychain.path)
        return [["create-keychain", path], ["set-keychain-settings", path], ["unlock-keychain", path]]

    def open_session(self, sandbox: "Sandbox") -> "Session":
        """The session every call of `sandbox` runs in (its security calls, its test callers, the
        backend's own probes of it), opened once before its keychain is made and closed with it.
        Here: the harness's own session, nothing to open."""
        return Session()

    def prepare_keychain(self, sandbox: "Sandbox") -> None:
        """Create, configure and unlock the scratch keychain in one `security -i` session:
        the commands come on stdin, the password is typed at each getpass prompt on the
        terminal.  One process, not one per command; the keychain sees the same commands."""
        from keychain_claims.security.lines import join_line
        sandbox.keychain.path.parent.mkdir(parents=True, exist_ok=True)
        from keychain_claims.harness.driver import ToolNotStarted
        script = "".join(join_line(argv) + "\n" for argv in self.scratch_keychain_commands(sandbox))
        try:
            call = sandbox.security.run("-i", stdin=script, responder=sandbox.responder())
        except ToolNotStarted as exc:
            raise BackendError(f"could not prepare the scratch keychain: {str(exc).removeprefix('harness: ')}") from None
        said = call.stderr.strip()          # every one of these commands is silent on success
        if call.status == 0 and not said:
            return
        failed = re.search(r"^(\S+): returned (-?\d+)$", said, re.M)
        what = f"security {failed[1]} returned {failed[2]}" if failed else f"security -i exited {call.status}"
        detail = next((line for line in said.splitlines() if not re.match(r"\S+: returned ", line)), "")
        raise BackendError(f"could not prepare the scratch keychain: {what}: {detail[:200]}")

    def teardown_keychain(self, sandbox: "Sandbox") -> None:
        if sandbox.keychain.path.exists():
            sandbox.security.run("delete-keychain", str(sandbox.keychain.path))

    # --- what a scenario can do to the world; backends differ ------------------------------
    @abc.abstractmethod
    def set_session(self, sandbox: "Sandbox", gui: bool) -> None:
        """Make later calls run in a GUI session (dialogs) or a non-GUI one (exit 36)."""

    @abc.abstractmethod
    def advance_clock(self, sandbox: "Sandbox", seconds: float) -> None:
        """Let `seconds` pass for the keychain (its timeouts, its lock)."""

    @abc.abstractmethod
    def restart(self, sandbox: "Sandbox") -> None:
        """What a reboot does to the keychain: every keychain locked."""

    def sleep(self, sandbox: "Sandbox") -> None:
        """What the Mac sleeping does to the scratch keychain: securityd locks every keychain whose settings
        say lock-on-sleep (KeychainDbCommon::sleepProcessing: `if (mParams.lockOnSleep) lockDb()`).  Read
        from the keychain's own settings (`show-keychain-info`, which needs it unlocked: a locked one stays
        locked); the host itself is not put to sleep."""
        path = str(sandbox.keychain.path)
        info = sandbox.security.run("show-keychain-info", path)
        if info.status == 0 and "lock-on-sleep" in (info.stderr + info.stdout):
            sandbox.security.run("lock-keychain", path)
        if not self.simulated:
            sandbox.emulated.append("a sleep: the scratch keychain locked as its lock-on-sleep setting says")

    @abc.abstractmethod
    def as_caller(self, sandbox: "Sandbox", identity) -> dict[str, str]:
        """Environment that makes the next `security` call act as `identity`."""

    def dialog_watch(self, sandbox: "Sandbox") -> "DialogWatch | None":
        """Where dialogs show up that are not drawn on the terminal; None when every dialog is."""
        return None

    def shell_dialog(self, sandbox: "Sandbox"):
        """What a dismissed off-terminal dialog during a typed command line stands for:
        `f(window, responder) -> None | why it was not answered`; None when there are none."""
        return None

    def run(self, sandbox: "Sandbox", argv: list[str], responder: "Responder", stdin: str | None = None,
            caller=None) -> "Call":
        """One `security` command as `caller` (None: the security tool itself), its dialogs
        answered by `responder`."""
        env = self.as_caller(sandbox, caller) if caller is not None else None
        return sandbox.security.run(*argv, responder=responder, stdin=stdin, env=env, timeout=self.call_limit)

    def call_log(self, sandbox: "Sandbox") -> list[list[str]] | None:
        """argv of every `security` call made in the sandbox by anyone, or None if unknown."""
        return None

    def call_count(self, sandbox: "Sandbox") -> int:
        """How many times `security` ran in the sandbox (as far as the backend can tell)."""
        return len(sandbox.security.calls)

    def prompt_events(self, sandbox: "Sandbox") -> list[dict] | None:
        """Every prompt the keychain raised (also the ones that failed with 36), or None
        when the backend cannot tell."""
        return None

    def harness_events(self) -> list[str]:
        """What the backend recorded as not exercisable (a missed deadline, a dialog nobody could
        answer) since the last call of this method, drained; none unless the backend records any."""
        return []

    def faults_fired(self) -> list[str]:
        """The injected faults (the rehearsal's --rehearsal-faults) that fired since the last call of
        this method, drained, each "<fault>: <where>"; none on a backend that injects none."""
        return []

    def __repr__(self) -> str:          # also the Allure parameter's value
        return self.title
