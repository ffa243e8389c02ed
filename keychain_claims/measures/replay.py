"""What the fidelity replays share: a throw-away HOME and simulator state to rebuild a reported
state in (`Box`), a dialog's text read from a `gui-unattended` session, the result of one case and
the figure of many, and the ways a reporter's text is compared with the simulator's
(exact, fragment, template, joined, exit-only; folded quotes, collapsed spaces).

Not on the simulator's hot path: only the replay tools and the tests import it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from keychain_claims.sim import command as sim_command, control
from keychain_claims.harness.sandbox import owned_dir


@dataclass
class Result:
    id: str
    command: str                 # the security subcommand, as the command table names it
    state: str                   # match | differs | not-comparable
    reason: str = ""             # why not comparable, or what differs
    expected: str = ""
    got: str = ""
    source: str = ""

    @property
    def comparable(self) -> bool:
        return self.state != "not-comparable"


@dataclass
class Figure:
    matches: int = 0
    comparable: int = 0
    per_command: dict[str, list[int]] = field(default_factory=dict)     # name -> [matches, comparable]

    def __str__(self) -> str:
        return f"{self.matches}/{self.comparable}"


def figure(results: list[Result]) -> Figure:
    fig = Figure()
    for r in results:
        if not r.comparable:
            continue
        row = fig.per_command.setdefault(r.command, [0, 0])
        row[1] += 1
        fig.comparable += 1
        if r.state == "match":
            row[0] += 1
            fig.matches += 1
    return fig


class Box:
    """A throw-away HOME and simulator state; placeholders of the reconstruction point into it."""

    def __init__(self):
        self.root = owned_dir("fidelity-")          # under the sandboxes' base, never the host's /tmp
        self.home = self.root / "home"
        (self.home / "Library" / "Keychains").mkdir(parents=True)
        (self.root / "sys").mkdir()
        (self.root / "tmp").mkdir()
        self.values = {"{LOGIN}": str(self.home / "Library" / "Keychains" / "login.keychain-db"),
                       "{SYS}": str(self.root / "sys" / "System.keychain"),     # outside Library/Keychains: v256
                       "{TMP}": str(self.root / "tmp"), "{HOME}": str(self.home)}
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "LC_ALL": "C",
                    "KEYCHAIN_SIM_STATE": str(self.root / "state"), "PYTHONUNBUFFERED": "1",
                    "USER": "me", "LOGNAME": "me"}

    def expand(self, text: str) -> str:
        for key, value in self.values.items():
            text = text.replace(key, value)
        return text

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def window_text(box: Box, argv: list[str], env: dict) -> tuple[str, int]:
    """Run a command that shows a dialog in a `gui-unattended` session; return the window's text."""
    state = Path(env["KEYCHAIN_SIM_STATE"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "session").write_text("gui-unattended")
    proc = subprocess.Popen(sim_command() + argv, env=env, cwd=box.root, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(3000):
            windows = control.windows(state)
            if windows or proc.poll() is not None:
                break
            time.sleep(0.01)
        windows = control.windows(state)
        control.dismiss(state)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return (windows[0]["text"] if windows else ""), proc.returncode


def template(real: str) -> re.Pattern:
    parts = re.split(r"(<[^<>\n]+>)", real)
    return re.compile("".join("[^\\n]*?" if p.startswith("<") and p.endswith(">") else re.escape(p) for p in parts))


_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def fold_retyped(text: str) -> str:
    """A dialog retyped by a reporter: straight quotes for typographic ones, no sentence-final period."""
    return "\n".join(line.translate(_QUOTES).rstrip().rstrip(".") for line in text.splitlines())


def compare_text(mode: str, real: str, got: str, strip: bool, fold: bool = False, collapse: bool = False) -> bool:
    if fold:
        real, got = fold_retyped(real), fold_retyped(got)
    if collapse:                                 # a web page that collapsed runs of spaces
        real, got = re.sub(r" +", " ", real), re.sub(r" +", " ", got)
    if strip:
        real = "\n".join(line.strip() for line in real.splitlines())
        got = "\n".join(line.strip() for line in got.splitlines())
    real, got = real.strip("\n"), got.strip("\n")
    if mode == "exact":
        return real == got
    if mode == "fragment":                       # the reporter elided lines: the real ones appear in order
        lines, at = got.splitlines(), 0
        for want in (line for line in real.splitlines() if line.strip()):
            while at < len(lines) and lines[at] != want:
                at += 1
            if at == len(lines):
                return False
            at += 1
        return True
    if mode == "template":                       # typed with <placeholders>
        return template(real).fullmatch(got) is not None
    if mode == "joined":                         # lines joined or rewrapped by the reporter
        return " ".join(real.split()) == " ".join(got.split())
    if mode == "exit-only":
        return True
    raise ValueError(f"unknown compare mode {mode!r}")
