"""`security -i` costs the same per line however big the keychain grows (issue 23, item 11):
bytes the process reads and writes (the kernel's own count, /proc/self/io) grow linearly with
the number of lines typed, not with lines × items.  Timings are `make bench`'s
(bench/sim_interactive.py), never asserted here."""
from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from keychain_claims.sim import cli, store

IO_FILE = Path("/proc/self/io")


def _io_bytes() -> int:
    fields = dict(line.split(": ") for line in IO_FILE.read_text().splitlines())
    return int(fields["rchar"]) + int(fields["wchar"])


def _session(sim, lines: int) -> int:
    """Bytes read and written while `security -i` adds `lines` items, in this process."""
    script = "".join(f"add-generic-password -a account-{i} -s svc -w secret-{i}\n" for i in range(lines))
    saved_env, saved_stdin = dict(os.environ), sys.stdin
    os.environ.clear()
    os.environ.update(sim.env)
    sys.stdin = io.TextIOWrapper(io.BytesIO(script.encode()))
    out, err = io.StringIO(), io.StringIO()
    try:
        before = _io_bytes()
        with redirect_stdout(out), redirect_stderr(err):
            status = cli.main(["-i"])
        used = _io_bytes() - before
    finally:
        sys.stdin = saved_stdin
        os.environ.clear()
        os.environ.update(saved_env)
    assert status == 0 and "returned" not in err.getvalue(), err.getvalue()[-300:]
    return used


@pytest.mark.skipif(not IO_FILE.exists(), reason="needs /proc/self/io (Linux) to count bytes read and written")
def test_interactive_io_per_line_does_not_grow_with_the_keychain(tmp_path):
    from .conftest import Sim
    small, large = Sim(tmp_path / "small"), Sim(tmp_path / "large")
    small.make_login()
    large.make_login()
    few, many = _session(small, 100), _session(large, 800)
    assert len(store.load_keychain(large.login)["items"]) == 800
    # linear: 8x the lines cost about 8x the bytes (rewrites of a doubling journal add at most ~2x);
    # reading and writing the whole keychain per line (quadratic) costs ~64x
    assert many / few < 20, f"100 lines: {few} bytes, 800 lines: {many} bytes"


def test_a_torn_journal_line_is_never_read_and_the_next_add_cuts_it_off(login):
    assert login("add-generic-password", "-a", "a1", "-s", "svc", "-w", "one").status == 0
    assert login("add-generic-password", "-a", "a2", "-s", "svc", "-w", "two").status == 0
    with open(login.login, "ab") as fh:                      # a writer killed mid-line
        fh.write(b'{"put":{"id":99,"attrs":{"acct":"torn"')
    assert [i["attrs"]["acct"] for i in store.load_keychain(login.login)["items"]] == ["a1", "a2"]
    assert login("add-generic-password", "-a", "a3", "-s", "svc", "-w", "three").status == 0
    assert [i["attrs"]["acct"] for i in store.load_keychain(login.login)["items"]] == ["a1", "a2", "a3"]
    assert login("find-generic-password", "-a", "a3", "-s", "svc", "-w").out == "three\n"


def test_modify_in_place_through_the_journal_keeps_one_item(login):
    for secret in ("one", "two", "three"):
        assert login("add-generic-password", "-U", "-a", "a", "-s", "svc", "-w", secret).status == 0
    items = store.load_keychain(login.login)["items"]
    assert len(items) == 1 and login("find-generic-password", "-a", "a", "-s", "svc", "-w").out == "three\n"
