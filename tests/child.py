"""One way to start pytest in a child process: the claims suite of this checkout (`run`, `start`) or a
probe suite of a test's own (the same functions with `cwd`, `-c` and the paths it needs).  Every child
gets `-p no:randomly` and the environment of this process with `env` on top (`environ` replaces the
base: a test that takes a variable away)."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests import ROOT

PYTEST = (sys.executable, "-m", "pytest", "-p", "no:randomly")


def environment(env: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: `environ` (default: this process's) with `env` on top."""
    return {**(os.environ if environ is None else environ), **(env or {})}


def run(*args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None,
        timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    """pytest `args` in a child process, to its end; its output captured as text."""
    return subprocess.run([*PYTEST, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=environment(env, environ), **kw)


def start(*args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None,
          environ: Mapping[str, str] | None = None, **kw) -> subprocess.Popen:
    """pytest `args` in a child process, started (text mode; `kw` says where its output goes)."""
    return subprocess.Popen([*PYTEST, *args], cwd=cwd, text=True, env=environment(env, environ), **kw)
