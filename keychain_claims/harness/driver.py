"""pexpect drivers: `Security` runs one `security` command line; `Shell` is an
interactive bash in which the article's commands are typed as a user would.

Both run inside a Sandbox (its env puts the shim's `security` first on PATH),
answer prompts through a `prompts.Responder`, and keep a transcript that is only
ever exported through `redact()`.
"""
from __future__ import annotations

import os
import re
import secrets as _random
import shlex
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pexpect

from keychain_claims.backends.base import DialogWatch
from keychain_claims.errors import CallDeadline, ToolNotStarted, UnansweredDialog
from keychain_claims.security.prompts import Prompt, Responder
from keychain_claims.redact import redact

DEFAULT_TIMEOUT = 15
WATCHED_ENV = "KEYCHAIN_CLAIMS_WATCHED"     # tells the macOS shim who reads a call's answer ("1" / "typed")
AFTER_DISMISS = 5   # seconds a call may take to end once its dialog was dismissed
POLL = 0.2          # how often a running call looks for a keychain dialog nobody can answer on the terminal


class Place(Protocol):
    """Where a driver runs its processes: what it needs of a Sandbox (harness/sandbox.py), which
    makes the drivers; the drivers name only this, so neither module imports the other."""

    home: Path                   # the working directory (the sandbox's HOME)
    tmp: Path                    # where a call's scratch files go
    ui: str                      # the scenario's session kind, recorded with each call

    @property
    def env(self) -> dict[str, str]:
        """The environment every process gets (the shim's `security` first on PATH)."""


class _DialogShown(Exception):
    def __init__(self, windows: list[dict]):
        self.windows = windows


def _text(data: object) -> str:
    """What pexpect matched or read, as text (its `before`/`after` may be the EOF or TIMEOUT class)."""
    return (data if isinstance(data, str) else "").replace("\r\n", "\n")


@dataclass
class Call:
    """One `security` invocation as the driver saw it."""

    argv: list[str]
    stdin: str | None
    stdout: str
    stderr: str
    status: int
    tty: str
    prompts: list[Prompt] = field(default_factory=list)
    context: dict = field(default_factory=dict)     # what else shaped the call: session kind, caller
    dialogs: list[dict] = field(default_factory=list)   # dialogs that appeared off the terminal and were dismissed

    def transcript(self) -> str:
        """Redacted, human-readable record of the call."""
        lines = ["$ " + shlex.join(["security", *self.argv])]
        if self.stdin is not None:
            lines.append("--- stdin ---\n" + self.stdin.rstrip("\n"))
        if self.tty.strip():
            lines.append("--- terminal ---\n" + self.tty.rstrip("\n"))
        lines.append("--- stdout ---\n" + self.stdout.rstrip("\n"))
        lines.append("--- stderr ---\n" + self.stderr.rstrip("\n"))
        lines.append(f"--- exit status: {self.status} ---")
        return redact("\n".join(lines))

    def record(self) -> dict:
        """Redacted dict form (for JSON attachments and recorded transcripts)."""
        return {"argv": [redact(a) for a in self.argv], "stdin": None if self.stdin is None else redact(self.stdin),
                "stdout": redact(self.stdout), "stderr": redact(self.stderr), "status": self.status,
                "prompts": [p.kind + ":" + p.answer for p in self.prompts], "context": dict(self.context)}

    def __repr__(self) -> str:
        return redact(f"Call(argv={self.argv!r}, status={self.status})")


def terminal_signals() -> None:
    """In a child before it execs: ^C and ^\\ reach what runs on its terminal, as in a terminal a
    person opens -- even when this run was started with them ignored (a background job of a
    non-interactive shell, nohup), which the child would otherwise inherit: a command past its
    deadline could not be stopped and the shell would be lost."""
    for signum in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)


def _no_delays(child: pexpect.spawn) -> None:
    """pexpect sleeps before every send, after every read and after close by default.
    Prompts here are answered only after they appear, and programs disable echo before
    they print a password prompt, so the sleeps only cost time."""
    child.delaybeforesend = None
    child.delayafterread = None
    for obj in (child, child.ptyproc):  # type: ignore[attr-defined]  # types-pexpect lacks spawn.ptyproc
        obj.delayafterclose = 0
        obj.delayafterterminate = 0


def _interact(child: pexpect.spawn, responder: Responder | None, deadline: float, until,
              watch: DialogWatch | None = None, seen: list[str] | None = None) -> str:
    """Answer prompts until `until` (EOF or a regex) matches; return everything read.  With
    `watch`, a dialog that shows up off the terminal interrupts the wait (_DialogShown) at once.
    `deadline` is an absolute time.monotonic() value: the caller computes it once per call, so
    no retry, dismissal or restart of this wait can extend it (issue 21: a fresh timeout per
    retry let `sleep 600` run on)."""
    responder = responder or Responder()
    patterns = [until, pexpect.TIMEOUT, *responder.patterns()]
    seen = [] if seen is None else seen
    while True:
        left = deadline - time.monotonic()
        index = child.expect(patterns, timeout=max(0.0, min(left, POLL) if watch else left))
        seen.append(_text(child.before) + (_text(child.after) if isinstance(child.after, str) else ""))
        if index == 0:
            return "".join(seen)
        if index == 1:
            windows = watch.open() if watch else []
            if windows:
                raise _DialogShown(windows)
            if time.monotonic() < deadline:
                continue
            raise CallDeadline("harness: no answer within the call's deadline; screen so far:\n"
                               + redact("".join(seen)[-2000:]))
        child.sendline(responder.answer(index - 2, "".join(seen), _text(child.after)))


class Security:
    """The one `security` driver: spawns the command under a pty (so getpass and the
    dialog have a terminal), with stdout and stderr captured separately."""

    def __init__(self, sandbox: Place):
        self.sandbox = sandbox
        self.calls: list[Call] = []

    def run(self, *argv: str, responder: Responder | None = None, stdin: str | None = None,
            timeout: float = DEFAULT_TIMEOUT, env: dict[str, str] | None = None,
            watch: DialogWatch | None = None) -> Call:
        """Run one command.  With `watch`, a dialog that appears off the terminal is dismissed at
        once and listed in `Call.dialogs`; the caller decides what it meant."""
        workdir = Path(tempfile.mkdtemp(prefix="call-", dir=self.sandbox.tmp))
        out, err, inp = workdir / "stdout", workdir / "stderr", workdir / "stdin"
        # fd 9 keeps the terminal open in the child until it exits: with every standard
        # stream redirected, EOF would otherwise come at exec time and close() would kill it
        redirect = '>"$KC_OUT" 2>"$KC_ERR" 9<>/dev/tty'
        if stdin is not None:
            inp.write_text(stdin)
            redirect = '<"$KC_IN" ' + redirect
        run_env = {**self.sandbox.env, **(env or {}), "KC_OUT": str(out), "KC_ERR": str(err), "KC_IN": str(inp)}
        run_env[WATCHED_ENV] = "1"                # the harness reads this call's answer itself
        child = pexpect.spawn("/bin/sh", ["-c", f'exec security "$@" {redirect}', "security", *argv],
                              env=run_env, cwd=str(self.sandbox.home), encoding="utf-8",
                              codec_errors="replace", dimensions=(24, 500), echo=False,
                              preexec_fn=terminal_signals)
        _no_delays(child)
        dialogs: list[dict] = []
        deadline = time.monotonic() + timeout          # one deadline for the call and all it waits on
        try:
            screen: list[str] = []
            try:
                tty = _interact(child, responder, deadline, pexpect.EOF, watch, screen)
            except _DialogShown as shown:
                assert watch is not None             # only a watch raises it
                watch.dismiss()
                dialogs = shown.windows
                try:                       # a dismissed dialog ends the call; if not, the call is ended
                    tty = _interact(child, responder, min(deadline, time.monotonic() + AFTER_DISMISS),
                                    pexpect.EOF, None, screen)
                except CallDeadline:
                    child.kill(signal.SIGTERM)
                    tty = "".join(screen)
            except CallDeadline:
                _end(child)
                raise
            child.wait()
            child.close()
            status = child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)
        finally:
            try:
                alive = child.isalive()
            except pexpect.ExceptionPexpect:        # already reaped by _end after a missed deadline
                alive = False
            if alive:
                _end(child)
        if status in (126, 127):
            why = (err.read_text(errors="replace").strip().splitlines() or [f"exit {status}"])[-1] if err.exists() else ""
            raise ToolNotStarted(f"harness: the sandbox's security could not be started (exit {status}: {why[:160]})")
        call = Call(list(argv), stdin, out.read_text(errors="surrogateescape") if out.exists() else "",
                    err.read_text(errors="surrogateescape") if err.exists() else "", status, tty,
                    list(responder.seen) if responder else [],
                    {"ui": self.sandbox.ui, **{k: v for k, v in (env or {}).items() if k.startswith("KEYCHAIN_SIM_")}},
                    dialogs)
        for path in (out, err, inp):
            path.unlink(missing_ok=True)
        workdir.rmdir()
        self.calls.append(call)
        return call


def _end(child: pexpect.spawn) -> None:
    """Close a child that is still running.  It gets SIGTERM first and a moment to end what it
    started (the macOS shim ends its call's process group).  With pexpect's delays off,
    close(force=True) may look once too early after its signals and give up: then it is killed
    and reaped here."""
    assert child.pid is not None                 # a spawned child has one
    try:
        os.kill(child.pid, signal.SIGTERM)
        for _ in range(10):
            if not child.isalive():
                break
            time.sleep(0.02)
    except (ProcessLookupError, pexpect.ExceptionPexpect):
        pass
    try:
        child.close(force=True)
    except pexpect.ExceptionPexpect:
        try:
            os.kill(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


@dataclass
class ShellRun:
    command: str
    output: str          # what the terminal showed after the echoed command line
    statuses: list[int]  # PIPESTATUS of the command line
    prompts: list[Prompt]

    @property
    def status(self) -> int:
        return self.statuses[-1] if self.statuses else -1

    def __repr__(self) -> str:
        return redact(f"ShellRun({self.command!r}, statuses={self.statuses})")


class Shell:
    """An interactive bash in the sandbox.  Commands are typed, prompts answered,
    and PIPESTATUS read back from a PROMPT_COMMAND marker."""

    def __init__(self, sandbox: Place):
        self.sandbox = sandbox
        self._nonce = _random.token_hex(4)
        self._marker = re.compile(rf"__KC_DONE_{self._nonce}__ ([0-9 ]*)__\r?\n")
        self.screen: list[str] = []
        self.runs: list[ShellRun] = []
        rcfile = Path(tempfile.mkstemp(prefix="shellrc-", dir=sandbox.tmp)[1])
        rcfile.write_text(f"PS1='$ '\nPS2='> '\n"
                          f"PROMPT_COMMAND='printf \"__KC_DONE_{self._nonce}__ %s__\\\\n\" \"${{PIPESTATUS[*]}}\"'\n")
        env = {**sandbox.env, WATCHED_ENV: "typed"}   # typed lines leave consent records for the watch
        self.child = pexpect.spawn("/bin/bash", ["--noprofile", "--rcfile", str(rcfile), "-i"], env=env,
                                   cwd=str(sandbox.home), encoding="utf-8", codec_errors="replace",
                                   dimensions=(24, 1000), echo=True, preexec_fn=terminal_signals)
        _no_delays(self.child)
        self.child.expect(self._marker, timeout=DEFAULT_TIMEOUT)   # read at once: the first prompt
        self.child.expect_exact("$ ", timeout=DEFAULT_TIMEOUT)

    def run(self, command: str, responder: Responder | None = None, timeout: float = DEFAULT_TIMEOUT,
            watch: DialogWatch | None = None, on_dialog=None) -> ShellRun:
        """Type `command` and wait for the prompt.  A dialog that appears off the terminal is
        dismissed at once and handed to `on_dialog(window, responder)`, which records what the
        dismissal stands for or returns why nobody could answer it; those reasons are raised as
        UnansweredDialog once the command line has finished, so the shell stays usable."""
        responder = responder or Responder()
        first_prompt = len(responder.seen)
        self.screen.append("$ ")
        self.child.sendline(command)
        screen: list[str] = []
        unanswered: list[str] = []
        deadline = time.monotonic() + timeout          # one deadline for the line, every dialog included
        while True:
            try:
                text = _interact(self.child, responder, deadline, self._marker, watch, screen)
                break
            except _DialogShown as shown:
                for window in shown.windows:      # decided first: a watch may answer with the decision
                    why = on_dialog(window, responder) if on_dialog else "no one answers dialogs in this run"
                    window["unanswered"] = bool(why)
                    if why:
                        unanswered.append(why)
                assert watch is not None             # only a watch raises it
                watch.dismiss()
            except CallDeadline:
                self._interrupt()
                raise
        assert isinstance(self.child.match, re.Match)   # the marker's regex matched: the loop broke on it
        statuses = [int(s) for s in self.child.match.group(1).split()]
        self.child.expect_exact("$ ", timeout=max(1.0, deadline - time.monotonic()))
        body = self._marker.sub("", text)
        echoed, _, output = body.partition("\n")
        self.screen.append(echoed + "\n" + output)
        run = ShellRun(command, output, statuses, responder.seen[first_prompt:])
        self.runs.append(run)
        if unanswered:
            raise UnansweredDialog("; ".join(unanswered))
        return run

    def _interrupt(self) -> None:
        """After a missed deadline: Ctrl-C the command line (SIGINT to the foreground job) so the
        shell stays usable; if its prompt does not come back within 2 s, end the shell."""
        self.child.sendintr()
        try:
            self.child.expect(self._marker, timeout=2)
            self.child.expect_exact("$ ", timeout=2)
        except (pexpect.TIMEOUT, pexpect.EOF):
            _end(self.child)

    def transcript(self) -> str:
        return redact("".join(self.screen))

    def close(self) -> None:
        if self.child.isalive():
            self.child.sendline("exit")
            try:
                self.child.expect(pexpect.EOF, timeout=3)
            except (pexpect.TIMEOUT, pexpect.EOF):
                pass
        _end(self.child)
