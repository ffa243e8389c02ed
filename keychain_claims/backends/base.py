"""The interface every keychain backend implements, in jaraco/keyring's shape.

A `Backend` says what it is and nothing more: its name, label and priority, its provenance
(`simulated`), its capabilities (class attributes named for what they mean), whether it can run
here (`unavailable()`, viability decided in one place) and `open_session(sandbox)`.  Everything a
scenario does to the world goes through the `Session` that call returns: one per sandbox, holding
what the backend keeps for it in typed fields, so neither the sandbox nor the harness passes the
sandbox back to the backend.  An ability only some backends have is a capability, None or False
where the backend lacks it (`user_keychain_guard`, `builds_test_callers`, `keeps_call_log` ...),
so no caller probes with getattr/hasattr or tests a backend's name.

Nothing here imports the harness (backends sit below it): what a session needs of its sandbox is
the `Box` protocol below, which harness/sandbox.py's Sandbox is.
"""
from __future__ import annotations

import abc
import re
import shlex
import sys
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from keychain_claims.backends import backend_title, provenance_kind
from keychain_claims.errors import BackendError, ToolNotStarted, is_harness_error
from keychain_claims import PROJECT_ROOT
from keychain_claims.security.lines import join_line

if TYPE_CHECKING:  # pragma: no cover
    from keychain_claims.security.prompts import Responder

__all__ = ["Backend", "BackendError", "BackendSkipped", "Box", "DialogWatch", "Launcher", "OwnSession", "Session",
           "UserKeychainGuard", "is_harness_error", "python_argv", "python_shim", "skip_here"]


class BackendSkipped(pytest.skip.Exception):  # type: ignore[name-defined]  # pytest's Skipped, public only here
    """A step this backend cannot take although the scenario runs elsewhere.  Counted apart from
    skips that hold on every backend (no release given, a citation): a real run whose share of
    such skips is too high fails (plugins/publish.py), so no backend can skip its way to green."""


def skip_here(backend: "Backend", reason: str):
    raise BackendSkipped(f"not on the {backend.name} backend: {reason}")


def python_argv(module: str, *fixed_args: str) -> list[str]:
    """The argv that runs `module`.main() with `fixed_args` before the caller's.  Python starts
    isolated (-I: no PYTHON* variables, no working directory on sys.path) and without `site` (-S):
    the shims need only the standard library and this package, and every `security` call pays for
    the start -- -S saves ~14 ms a call, -c instead of -m ~2 ms."""
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


class DialogWatch(Protocol):
    """Where keychain dialogs that are not drawn on the terminal show up (SecurityAgent windows on
    a Mac, the simulator's window records in a rehearsal).  `open()` lists the dialogs on screen,
    each a dict with at least `kind` ("item" or "unlock"); `dismiss()` closes them all, as Cancel."""

    def open(self) -> list[dict]: ...
    def dismiss(self) -> int: ...


class Box(Protocol):
    """What a session needs of its sandbox (harness/sandbox.py's Sandbox): its folders, its scratch
    keychain, the scenario's UI kind, its `security` driver, its environment and responder, and
    where the session says what it emulated."""
    root: Path
    home: Path
    tmp: Path
    keychain: Any             # ScratchKeychain: .path, .password, .name
    ui: str                   # "gui" or "none": the scenario's session kind
    emulated: list[str]       # what the backend emulated in this sandbox, said in the result
    security: Any             # harness.driver.Security: .run(*argv, ...) -> Call, .calls

    @property
    def env(self) -> dict[str, str]: ...
    def setenv(self, **values: str | None) -> None: ...
    def responder(self, **kw) -> "Responder": ...
    def track_pid(self, pid: int) -> None: ...


class Launcher(Protocol):
    """Where a sandbox's child processes start: the harness's own session (OwnSession), or one the
    backend opened for the sandbox (backends/macos/session.py's MacSession broker)."""

    def argv(self, program: list[str]) -> list[str]:
        """`program` run in this launcher's session (for a call the harness starts as a child process)."""
        ...

    def close(self) -> None: ...


class OwnSession:
    """The harness's own session: a program runs as it is, nothing to close."""

    def argv(self, program: list[str]) -> list[str]:
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
    # --- capabilities, each named for what it means ------------------------------------------
    # whether a step can read the words of a keychain dialog (app, item, keychain) on this backend:
    # the simulator draws its dialogs on the terminal; a Mac run without --real-dialogs never draws one
    dialog_text_visible = True
    # every scenario runs on this backend: it is the reference the coverage gate measures the others
    # against, and a scenario it cannot check is "not checkable", never a skip of the backend
    covers_every_scenario = False
    # its sessions keep a log of every `security` call made in the sandbox (Session.call_log)
    keeps_call_log = False
    # its sessions record every prompt the keychain raised (Session.prompt_events)
    records_prompts = False
    # test callers are compiled and signed by the backend's own tools (backends/macos/callers.py)
    builds_test_callers = False
    # the faults injected into its leaves, comma-separated (the rehearsal's --rehearsal-faults); none elsewhere
    faults = ""
    # the user's keychain domain is reachable: None where it is not (see UserKeychainGuard)
    user_keychain_guard: UserKeychainGuard | None = None

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
        """argv of the `security` the backend puts behind a sandbox's shim."""

    @abc.abstractmethod
    def open_session(self, sandbox: Box) -> "Session":
        """The session of `sandbox`: everything a scenario does to the world goes through it.  Made
        when the sandbox is (nothing is started: its shim and environment are known at once); its
        `prepare()` opens what it runs in and makes the scratch keychain; `close()` undoes both."""

    def harness_events(self) -> list[str]:
        """What the backend recorded as not exercisable (a missed deadline, a dialog nobody could
        answer) since the last call of this method, in every session of this process, drained; none
        unless the backend records any."""
        return []

    def faults_fired(self) -> list[str]:
        """The injected faults (the rehearsal's --rehearsal-faults) that fired since the last call of
        this method, in every session of this process, drained, each "<fault>: <where>"; none on a
        backend that injects none."""
        return []

    def __repr__(self) -> str:          # also the Allure parameter's value
        return self.title


class Session(abc.ABC):
    """One sandbox's session with a backend: what the harness talks to.  This base is the
    harness's own session driving the backend's `security` directly; backends override what they
    do differently."""

    def __init__(self, backend: Backend, sandbox: Box):
        self.backend = backend
        self.sandbox = sandbox
        self.launcher: Launcher = OwnSession()     # the harness's own until prepare() opens the backend's

    # --- what stands behind the sandbox's `security` ---------------------------------------
    def shim(self) -> str:
        """Text of the sandbox's `security` shim."""
        cmd = " ".join(shlex.quote(c) for c in self.backend.security_command())
        return f'#!/bin/sh\nexec {cmd} "$@"\n'

    def env(self) -> dict[str, str]:
        """What every process of the sandbox gets on top of the sandbox's own environment."""
        return {}

    def argv(self, program: list[str]) -> list[str]:
        """`program` run in this session (for a call the harness starts as a child process)."""
        return self.launcher.argv(program)

    # --- the scratch keychain's life ---------------------------------------------------------
    def scratch_keychain_commands(self) -> list[list[str]]:
        """The `security` commands that make the scratch keychain, in order (no passwords:
        each is typed at its prompt)."""
        path = str(self.sandbox.keychain.path)
        return [["create-keychain", path], ["set-keychain-settings", path], ["unlock-keychain", path]]

    def open_launcher(self) -> Launcher:
        """Where the sandbox's processes run once it is prepared.  Here: the harness's own session."""
        return OwnSession()

    def prepare(self) -> None:
        """Open what the sandbox's calls run in, then make its scratch keychain."""
        self.launcher = self.open_launcher()
        self.prepare_keychain()

    def prepare_keychain(self) -> None:
        """Create, configure and unlock the scratch keychain in one `security -i` session:
        the commands come on stdin, the password is typed at each getpass prompt on the
        terminal.  One process, not one per command; the keychain sees the same commands."""
        box = self.sandbox
        box.keychain.path.parent.mkdir(parents=True, exist_ok=True)
        script = "".join(join_line(argv) + "\n" for argv in self.scratch_keychain_commands())
        try:
            call = box.security.run("-i", stdin=script, responder=box.responder())
        except ToolNotStarted as exc:
            raise BackendError(f"could not prepare the scratch keychain: {str(exc).removeprefix('harness: ')}") from None
        said = call.stderr.strip()          # every one of these commands is silent on success
        if call.status == 0 and not said:
            return
        failed = re.search(r"^(\S+): returned (-?\d+)$", said, re.M)
        what = f"security {failed[1]} returned {failed[2]}" if failed else f"security -i exited {call.status}"
        detail = next((line for line in said.splitlines() if not re.match(r"\S+: returned ", line)), "")
        raise BackendError(f"could not prepare the scratch keychain: {what}: {detail[:200]}")

    def teardown_keychain(self) -> None:
        if self.sandbox.keychain.path.exists():
            self.sandbox.security.run("delete-keychain", str(self.sandbox.keychain.path))

    def close(self) -> None:
        """The scratch keychain deleted (where anything outside the sandbox keeps it), then what
        the calls ran in closed.  Never raises: the sandbox is going away."""
        try:
            self.teardown_keychain()
        except Exception:
            pass
        try:
            self.launcher.close()
        except Exception:
            pass

    # --- what a scenario can do to the world; backends differ ------------------------------
    def set_gui(self, gui: bool) -> None:
        """Make later calls run in a GUI session (dialogs) or a non-GUI one (exit 36)."""
        self.sandbox.ui = "gui" if gui else "none"

    @abc.abstractmethod
    def advance_clock(self, seconds: float) -> None:
        """Let `seconds` pass for the keychain (its timeouts, its lock)."""

    @abc.abstractmethod
    def restart(self) -> None:
        """What a reboot does to the keychain: every keychain locked."""

    def sleep(self) -> None:
        """What the Mac sleeping does to the scratch keychain: securityd locks every keychain whose settings
        say lock-on-sleep (KeychainDbCommon::sleepProcessing: `if (mParams.lockOnSleep) lockDb()`).  Read
        from the keychain's own settings (`show-keychain-info`, which needs it unlocked: a locked one stays
        locked); the host itself is not put to sleep."""
        box = self.sandbox
        path = str(box.keychain.path)
        info = box.security.run("show-keychain-info", path)
        if info.status == 0 and "lock-on-sleep" in (info.stderr + info.stdout):
            box.security.run("lock-keychain", path)
        if not self.backend.simulated:
            box.emulated.append("a sleep: the scratch keychain locked as its lock-on-sleep setting says")

    @abc.abstractmethod
    def as_caller(self, identity) -> dict[str, str]:
        """Environment that makes the next `security` call act as `identity`."""

    def dialog_watch(self) -> DialogWatch | None:
        """Where dialogs show up that are not drawn on the terminal; None when every dialog is."""
        return None

    def shell_dialog(self):
        """What a dismissed off-terminal dialog during a typed command line stands for:
        `f(window, responder) -> None | why it was not answered`; None when there are none."""
        return None

    def run(self, argv: list[str], responder: "Responder", stdin: str | None = None, caller=None):
        """One `security` command as `caller` (None: the security tool itself), its dialogs
        answered by `responder`; the driver's Call."""
        env = self.as_caller(caller) if caller is not None else None
        return self.sandbox.security.run(*argv, responder=responder, stdin=stdin, env=env,
                                         timeout=self.backend.call_limit)

    # --- what the backend can tell about the sandbox -------------------------------------------
    def call_log(self) -> list[list[str]] | None:
        """argv of every `security` call made in the sandbox by anyone; None unless the backend
        keeps_call_log."""
        return None

    def call_count(self) -> int:
        """How many times `security` ran in the sandbox (as far as the backend can tell)."""
        calls = self.call_log()
        return len(calls) if calls is not None else len(self.sandbox.security.calls)

    def prompt_events(self) -> list[dict] | None:
        """Every prompt the keychain raised (also the ones that failed with 36); None unless the
        backend records_prompts."""
        return None
