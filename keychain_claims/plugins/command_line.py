"""The suite's command line: every option it takes, and the hook it asks of conftest files.  Declared
by the entry plugin (plugins/plugin.py), which pytest.ini loads (`-p keychain_claims.plugins.plugin`)
before pytest reads the command line, so an option's value (`--backend sim`) is never taken for a
path -- which would make pytest load the conftest files of the folders it finds there
(tests/conftest.py among them)."""
from __future__ import annotations

import os

import pytest

from keychain_claims import REPORTS_DIR


def addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("keychain-claims")
    group.addoption("--backend", default=os.environ.get("KEYCHAIN_CLAIMS_BACKEND", "auto"),
                    help="where `security` comes from: auto (real on macOS, simulator elsewhere), macos, sim")
    group.addoption("--article", default=None, help="the article under test (default: the vendored copy in articles/)")
    group.addoption("--ledger", default=None, help="the claims ledger (default: next to the article, .claims.yaml)")
    group.addoption("--record-transcripts", default=None, metavar="DIR",
                    help="store every security exchange (redacted, paths normalized) as one JSON per scenario")
    group.addoption("--reports-dir", default=str(REPORTS_DIR), help="where claims.json/claims.md are written")
    group.addoption("--rehearsal-faults", nargs="?", const="all", default=None, metavar="FAULTS",
                    help="with --backend rehearsal: inject the Mac faults of issue 21 (all, or a comma list of "
                         "dialog,throttle,exit51,cdhash,slow); each must end as not checkable, never as a verdict")
    group.addoption("--real-dialogs", action="store_true", default=False,
                    help="with --backend macos: let SecurityAgent draw its dialogs for a person to answer "
                         "(default: none is ever drawn; consent is read from a session without a GUI)")
    group.addoption("--mutate", default=None, metavar="FILE",
                    help="the own tests' mutation check: a JSON object mapping a scenario's name to the text of "
                         "one of its steps, which that scenario then runs as a no-op (plugins/mutation.py)")
    group.addoption(
        "--claude-code", default=None, metavar="SPEC",
        help="Claude Code releases to test: a version, `latest` (the default; env KEYCHAIN_CLAIMS_CLAUDE_CODE), "
             "a comma list, a path to an installed claude, or `none` to turn the release scenarios off")

