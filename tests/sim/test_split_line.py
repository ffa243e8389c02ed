"""One table of tricky `security -i` lines (tests/data/split_line.json) on which the simulator's
tokenizer, the simulator's interactive mode and the macOS shim's pinning all agree with
security.c split_line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keychain_claims.backends.macos import shim
from keychain_claims.security import lines
from keychain_claims.sim import cli
from tests import ROOT
from tests.sim.conftest import SIM

TABLE = json.loads((ROOT / "tests" / "data" / "split_line.json").read_text())["cases"]
IDS = [c["why"] for c in TABLE]
HOME = "/sandbox/home"
KC = "/sandbox/home/Library/Keychains/login.keychain-db"


def test_there_is_one_tokenizer():
    assert shim.split_line is lines.split_line is cli.split_line and shim.join_line is lines.join_line


@pytest.mark.parametrize("case", TABLE, ids=IDS)
def test_sim_split_line(case):
    assert lines.split_line(case["line"]) == case["argv"]


@pytest.mark.parametrize("case", TABLE, ids=IDS)
def test_join_line_gives_the_words_back(case):
    assert lines.split_line(lines.join_line(case["argv"])) == case["argv"]


@pytest.mark.parametrize("case", [c for c in TABLE if c["argv"]], ids=[c["why"] for c in TABLE if c["argv"]])
def test_sim_interactive_runs_the_words_split_line_makes(case, sim):
    """`security -v -i` echoes each command as it runs it: name, then every word in quotes."""
    r = sim("-v", "-i", stdin=case["line"] + "\n")
    argv = case["argv"]
    assert r.err.splitlines()[0] == argv[0] + "".join(f' "{a}"' for a in argv[1:])


@pytest.mark.parametrize("case", TABLE, ids=IDS)
def test_shim_pins_the_words_split_line_makes(case):
    """The shim sees the words security will see: a stray word is a keychain operand (refused),
    and a line that pinning would push past 32 words is refused, not silently cut."""
    from keychain_claims.security.options import OPTIONS, getopt
    argv = case["argv"]
    operands = getopt(argv[1:], OPTIONS[argv[0]])[1] if argv else []
    if operands:
        with pytest.raises(shim.Refused, match="not the scratch keychain"):
            shim.pin_stdin(case["line"] + "\n", KC, HOME)
    elif len(argv) >= 32:
        with pytest.raises(shim.Refused, match="at most 32"):
            shim.pin_stdin(case["line"] + "\n", KC, HOME)
    else:
        assert lines.split_line(shim.pin_stdin(case["line"] + "\n", KC, HOME)) == ([*argv, KC] if argv else [])


def test_sim_interactive_cli_is_the_subprocess_we_think():
    """The simulator's self-tests start it as the sandboxes' shim does; the console script
    `keychain-sim` runs the same main."""
    assert SIM[-1].endswith("from keychain_claims.sim.cli import main; sys.exit(main())")
    script = Path(sys.executable).with_name("keychain-sim")
    for argv in (SIM, [str(script)]):
        assert subprocess.run(argv + ["-i"], input="", capture_output=True, text=True).returncode == 0
