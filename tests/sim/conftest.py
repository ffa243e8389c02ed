"""Helpers for the simulator's self-tests: a private HOME and state, and two ways to run
`security` argv -- as a subprocess (what the suite does) and in-process (fast, for
property tests)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from keychain_claims.backends.base import python_argv
from keychain_claims.sim import cli

SIM = python_argv("keychain_claims.sim.cli")      # started as the sandboxes' shim starts it
SIM_PROGRAM = str(Path(sys.executable).with_name("keychain-sim"))   # the console script, where a path is needed


@dataclass
class Result:
    status: int
    out: str
    err: str


class Sim:
    def __init__(self, root: Path):
        self.home = root / "home"
        self.state = root / "state"
        (self.home / "Library" / "Keychains").mkdir(parents=True)
        self.env = {**os.environ, "HOME": str(self.home), "KEYCHAIN_SIM_STATE": str(self.state),
                    "KEYCHAIN_SIM_CLOCK": str(self.state / "clock"), "LC_ALL": "C"}
        for key in ("KEYCHAIN_SIM_UI", "KEYCHAIN_SIM_CALLER"):
            self.env.pop(key, None)

    @property
    def login(self) -> str:
        return str(self.home / "Library" / "Keychains" / "login.keychain-db")

    def __call__(self, *argv: str, stdin: str | None = None, env: dict | None = None) -> Result:
        proc = subprocess.run(SIM + list(argv), input=stdin, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, stdin=None if stdin is not None else subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def inproc(self, *argv: str) -> Result:
        """Run in this process (environment swapped for the call)."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        out, err = io.StringIO(), io.StringIO()
        try:
            with redirect_stdout(out), redirect_stderr(err):
                status = cli.main(list(argv))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return Result(status, out.getvalue(), err.getvalue())

    def make_login(self, password: str = "pw-1") -> None:
        assert self("create-keychain", "-p", password, "login.keychain").status == 0
        assert self("set-keychain-settings", self.login).status == 0


@pytest.fixture
def sim(tmp_path) -> Sim:
    return Sim(tmp_path)


@pytest.fixture
def login(sim) -> Sim:
    sim.make_login()
    return sim


@pytest.fixture
def box(tmp_path, monkeypatch):
    """A prepared Sandbox on the simulated backend (scratch login keychain created through the
    getpass prompts, made default and the whole search list) in a GUI session: dialogs are drawn
    on the pty and answered by a Responder."""
    from keychain_claims.backends import SimBackend
    from keychain_claims.fakes import Fakes
    from keychain_claims.harness.sandbox import Sandbox
    monkeypatch.setenv("KEYCHAIN_CLAIMS_SANDBOXES", str(tmp_path / "sandboxes"))
    sandbox = Sandbox(SimBackend(), Fakes(seed=7))
    try:
        sandbox.prepare()
        sandbox.session.set_gui(gui=True)
        yield sandbox
    finally:
        sandbox.close()
